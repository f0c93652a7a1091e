"""Content and style loss as evaluation metrics, from one fixed network and layer set.

These are not the losses any method optimised: every method is scored by the same VGG-19 (max
pooling), content MSE at ``relu4_2`` and the sum over ``relu1_1 .. relu5_1`` of the MSE between
Gram matrices normalised by C*H*W. The spec is recorded with every result (`EVALUATION_SPEC`).
"""

from __future__ import annotations

import torch

from methods.core.perceptual import PerceptualLoss, PerceptualSpec
from metrics.base import ImageMetric, MetricContext, MetricInfo

EVALUATION_NETWORK = "vgg19"
EVALUATION_SPEC = PerceptualSpec(
    content_layers=["relu4_2"],
    content_weights=[1.0],
    style_layers=["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"],
    style_weights=[1.0] * 5,
    content_reduction="mse",
    gram_norm="chw",
)


def evaluation_description() -> dict:
    """The evaluation network and layers, as recorded in every result."""
    spec = EVALUATION_SPEC
    return {
        "network": EVALUATION_NETWORK,
        "pooling": "max",
        "content": {"layers": list(spec.content_layers), "loss": "mse"},
        "style": {"layers": list(spec.style_layers), "loss": "mse of gram / (C*H*W), summed"},
    }


class _PerceptualMetric(ImageMetric):
    def __init__(self, context: MetricContext) -> None:
        super().__init__(context)
        self.loss = PerceptualLoss(context.encoder(EVALUATION_NETWORK), EVALUATION_SPEC)


class ContentLoss(_PerceptualMetric):
    """How far the output's deep features are from the content image's."""

    info = MetricInfo(
        name="content_loss",
        higher_is_better=False,
        per="image",
        unit="",
        description="MSE of VGG-19 relu4_2 features, output vs content image",
        needs=("content",),
    )

    @torch.no_grad()
    def __call__(
        self, outputs: torch.Tensor, content: torch.Tensor, style: torch.Tensor
    ) -> torch.Tensor:
        return self.loss(outputs, self.loss.targets(content, None))["content"]


class StyleLoss(_PerceptualMetric):
    """How far the output's feature correlations are from the style image's."""

    info = MetricInfo(
        name="style_loss",
        higher_is_better=False,
        per="image",
        unit="",
        description="sum over VGG-19 relu1_1..relu5_1 of the MSE between Gram matrices, output vs style",
        needs=("style",),
    )

    @torch.no_grad()
    def __call__(
        self, outputs: torch.Tensor, content: torch.Tensor, style: torch.Tensor
    ) -> torch.Tensor:
        return self.loss(outputs, self.loss.targets(None, style))["style"]

"""Content and style loss as evaluation metrics, from one fixed network and layer set.

These are not the losses any method optimised: every method is scored by the same VGG-19 (max
pooling), content MSE at ``relu4_2`` and the sum over ``relu1_1 .. relu5_1`` of the MSE between
Gram matrices normalised by C*H*W. The spec is recorded with every result (`EVALUATION_SPEC`).

Outputs of domain methods (CycleGAN) have no style image: their style loss compares their Gram
matrices with the mean over the style set's images of theirs (`StyleLoss.domain_targets`), the
set's average second-order statistics (for equal-size images, the Gram matrix of all their
features together).
"""

from __future__ import annotations

import torch

from stylebench.methods.base import StyleBlend
from stylebench.methods.core.perceptual_loss import (
    PerceptualLoss,
    PerceptualSpec,
    Targets,
    blend_targets,
)
from stylebench.metrics.base import ImageMetric, MetricContext, MetricInfo, StyleDomain

#: Images of a style set encoded at once when computing its mean Gram matrices.
DOMAIN_BATCH = 8
#: How a domain method's style loss is defined (recorded with every run that has one).
DOMAIN_STYLE_LOSS = (
    "style_loss of a domain method's output: the same sum over layers of the MSE between its "
    "Gram matrix / (C*H*W) and the mean of that Gram matrix over the style set's images"
)

#: How a blend cell's style loss is defined (recorded with every run that has blends).
BLEND_STYLE_LOSS = (
    "style_loss of a blend's output: the same sum over layers of the MSE between its Gram "
    "matrix / (C*H*W) and the weighted sum, by the blend's weights, of its parts' Gram matrices"
)

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
        self, outputs: torch.Tensor, content: torch.Tensor, style: torch.Tensor | None
    ) -> torch.Tensor:
        return self.loss(outputs, self.loss.targets(content, None))["content"]


class StyleLoss(_PerceptualMetric):
    """How far the output's feature correlations are from the style image's (for domain
    methods: from the style set's mean)."""

    info = MetricInfo(
        name="style_loss",
        higher_is_better=False,
        per="image",
        unit="",
        description="sum over VGG-19 relu1_1..relu5_1 of the MSE between Gram matrices, output "
        "vs style (domain methods: vs the mean Gram matrices of the style set)",
        needs=("style",),
    )

    def __init__(self, context: MetricContext) -> None:
        super().__init__(context)
        self._domains: dict[str, dict[str, torch.Tensor]] = {}

    @torch.no_grad()
    def __call__(
        self, outputs: torch.Tensor, content: torch.Tensor, style: torch.Tensor | None
    ) -> torch.Tensor:
        if style is None:
            raise ValueError("style_loss needs a style image (domain outputs: score_domain)")
        return self.loss(outputs, self.loss.targets(None, style))["style"]

    @torch.no_grad()
    def domain_targets(self, domain: StyleDomain) -> dict[str, torch.Tensor]:
        """Mean over the set's images of each style layer's Gram matrix ([1, C, C] per layer),
        computed once per domain (in batches, accumulated in float64)."""
        if domain.name not in self._domains:
            images = domain.images
            if len(images) == 0:
                raise ValueError("the style set to score a domain method against is empty")
            sums: dict[str, torch.Tensor] = {}
            for start in range(0, len(images), DOMAIN_BATCH):
                batch = images[start : start + DOMAIN_BATCH].to(self.context.device)
                for key, gram in self.loss.style_targets(batch).items():
                    total = gram.double().sum(0, keepdim=True)
                    sums[key] = sums[key] + total if key in sums else total
            self._domains[domain.name] = {
                key: (total / len(images)).float() for key, total in sums.items()
            }
        return self._domains[domain.name]

    @torch.no_grad()
    def score_blend(
        self, outputs: torch.Tensor, content: torch.Tensor, blend: StyleBlend
    ) -> torch.Tensor:
        """Against the blend's weighted Gram matrices (`BLEND_STYLE_LOSS`)."""
        targets = blend_targets(self.loss, blend)
        return self.loss(outputs, Targets(content={}, style=targets))["style"]

    @torch.no_grad()
    def score_domain(
        self, outputs: torch.Tensor, content: torch.Tensor, domain: StyleDomain
    ) -> torch.Tensor:
        targets = Targets(content={}, style=self.domain_targets(domain))
        return self.loss(outputs, targets)["style"]

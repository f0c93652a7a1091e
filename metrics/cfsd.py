"""CFSD, content feature structural distance, exactly as the StyleID evaluation defines it.

StyleID (Chung et al., CVPR 2024; ``evaluation/image_metrics.py``, ``PatchSimi``): take VGG-19
``features[11]`` (relu3_1) of the ImageNet-normalised content and output images; divide each
position's feature vector by the channel count C; the patch self-similarity is the row-wise
softmax of F F^T over the H*W positions; CFSD is KL(content || output) summed over rows
(``F.kl_div(log_softmax(output), softmax(content), reduction='batchmean')`` at batch size 1,
the way its evaluation runs). Lower means the output kept the content's spatial structure.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from metrics.base import ImageMetric, MetricContext, MetricInfo

NETWORK = "vgg19"
LAYER = "relu3_1"


def self_similarity_logits(features: torch.Tensor) -> torch.Tensor:
    """[1, C, H, W] features to the [1, H*W, H*W] logits of their patch self-similarity."""
    _, channels, _, _ = features.shape
    positions = features.flatten(2).transpose(1, 2).div(channels)
    return torch.bmm(positions, positions.transpose(1, 2))


class CFSD(ImageMetric):
    """How much of the content image's spatial structure the output lost."""

    info = MetricInfo(
        name="cfsd",
        higher_is_better=False,
        per="image",
        unit="",
        description="content feature structural distance (StyleID): KL between the softmax patch "
        "self-similarities of VGG-19 relu3_1 features, content vs output",
        needs=("content",),
    )

    def __init__(self, context: MetricContext) -> None:
        super().__init__(context)
        self.encoder = context.encoder(NETWORK)

    @torch.no_grad()
    def __call__(
        self, outputs: torch.Tensor, content: torch.Tensor, style: torch.Tensor | None
    ) -> torch.Tensor:
        values = []
        for output, original in zip(outputs, content, strict=True):  # one image at a time
            out = self.encoder(output[None], [LAYER])[LAYER]
            ref = self.encoder(original[None], [LAYER])[LAYER]
            log_q = F.log_softmax(self_similarity_logits(out), dim=-1).reshape(1, -1)
            p = F.softmax(self_similarity_logits(ref), dim=-1).reshape(1, -1)
            values.append(F.kl_div(log_q, p, reduction="batchmean"))
        return torch.stack(values)

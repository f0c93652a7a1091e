"""CFSD, content feature structural distance, exactly as the StyleID evaluation defines it.

StyleID (Chung et al., CVPR 2024; ``evaluation/image_metrics.py``, ``PatchSimi``): take VGG-19
``features[11]`` (relu3_1) of the ImageNet-normalised content and output images; divide each
position's feature vector by the channel count C; the patch self-similarity is the row-wise
softmax of F F^T over the H*W positions; CFSD is KL(content || output) summed over rows
(``F.kl_div(log_softmax(output), softmax(content), reduction='batchmean')`` at batch size 1,
the way its evaluation runs). Lower means the output kept the content's spatial structure.

The same sum, computed more carefully than the reference code: in float64, a block of rows at a
time. KL is a sum of H*W x H*W terms, and in float32 its rounding reaches a few 1e-6: enough to
make near-identical structures (or random-weight features, whose self-similarities are close to
uniform) score below zero, which a divergence cannot. Row blocks bound memory: each row's
softmax is its own, and at 512 px relu3_1 has 16,384 positions, so one whole matrix would take
1 GiB in float32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from stylebench.metrics.base import ImageMetric, MetricContext, MetricInfo

NETWORK = "vgg19"
LAYER = "relu3_1"


#: Rows of the self-similarity matrices handled at once (a 128 MiB float64 block at 512 px).
ROW_BLOCK = 1024


def positions(features: torch.Tensor) -> torch.Tensor:
    """[C, H, W] features to their [H*W, C] position vectors divided by C, in float64."""
    channels = features.shape[0]
    return features.flatten(1).t().double().div(channels)


def structural_divergence(content: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """KL(content || output) of the row-wise softmax self-similarities of two [C, H, W] feature
    maps, summed over rows (a float64 scalar)."""
    p, q = positions(content), positions(output)
    total = p.new_zeros(())
    for start in range(0, p.shape[0], ROW_BLOCK):
        log_p = F.log_softmax(p[start : start + ROW_BLOCK] @ p.t(), dim=-1)
        log_q = F.log_softmax(q[start : start + ROW_BLOCK] @ q.t(), dim=-1)
        total += F.kl_div(log_q, log_p, reduction="sum", log_target=True)
    return total


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
            out = self.encoder(output[None], [LAYER])[LAYER][0]
            ref = self.encoder(original[None], [LAYER])[LAYER][0]
            values.append(structural_divergence(ref, out))
        return torch.stack(values).float()

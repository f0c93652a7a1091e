"""The colour-histogram loss of the StyleID evaluation: how far an output's colours are from
its style image's.

StyleID (Chung et al., CVPR 2024; ``evaluation/eval_histogan.py``) scores colour transfer with
HistoGAN's RGB-uv histogram (Afifi et al., CVPR 2021): for each channel c of the image, the
log-chroma pair (log c - log c', log c - log c'') of every pixel is binned on a 64 x 64 grid
over [-3, 3] with an inverse-quadratic kernel (sigma 0.02), each pixel weighted by its
intensity sqrt(R^2 + G^2 + B^2); the three histograms are normalised together. Images larger
than 256 px on a side are first resized to 256 x 256 (bilinear, as the reference calls
``F.interpolate``, whatever the aspect ratio). The loss of an (output, style image) pair is the
Hellinger distance of their histograms, 1/sqrt(2) ||sqrt(h_style) - sqrt(h_output)||; the
protocol's number is its mean over the 800 pairs. As in the reference, the kernel is evaluated
in float64 and the histograms accumulated in float32; and the output is scored as it is stored,
in 8 bits (the reference reads the saved PNG files).

Outputs of domain methods have no style image: they are compared with the mean histogram of
the style set, as style loss compares them with its mean Gram matrices.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from stylebench.methods.base import StyleBlend
from stylebench.metrics.base import ImageMetric, MetricInfo, StyleDomain

BINS = 64
MAX_SIZE = 256
SIGMA = 0.02
EPS = 1e-6
#: For each channel, the two channels its log-chroma pair is taken against.
PAIRS = ((0, 1, 2), (1, 0, 2), (2, 0, 1))


def rgb_uv_histogram(images: torch.Tensor) -> torch.Tensor:
    """HistoGAN's RGB-uv histograms of [B, 3, H, W] images in [0, 1]: [B, 3, BINS, BINS]."""
    images = images.float().clamp(0, 1)
    if images.shape[2] > MAX_SIZE or images.shape[3] > MAX_SIZE:
        images = F.interpolate(
            images, size=(MAX_SIZE, MAX_SIZE), mode="bilinear", align_corners=False
        )
    bins = torch.linspace(-3, 3, BINS, dtype=torch.float64, device=images.device)
    histograms = []
    for image in images:
        pixels = image.reshape(3, -1).t()  # [N, 3]
        intensity = torch.sqrt((pixels**2).sum(dim=1, keepdim=True) + EPS)
        logs = torch.log(pixels + EPS)
        planes = []
        for c, u, v in PAIRS:
            kernels = [
                _kernel((logs[:, c] - logs[:, other]).unsqueeze(1), bins) for other in (u, v)
            ]
            planes.append((intensity * kernels[0]).t() @ kernels[1])
        histogram = torch.stack(planes)
        histograms.append(histogram / (histogram.sum() + EPS))
    return torch.stack(histograms)


def _kernel(chroma: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """Inverse-quadratic weights [N, BINS] of each pixel's chroma to each bin centre."""
    return (1 / (1 + (chroma - bins).abs() ** 2 / SIGMA**2)).float()


def hellinger(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """1/sqrt(2) ||sqrt(a) - sqrt(b)|| per item of two [B, ...] histogram batches."""
    return (torch.sqrt(b) - torch.sqrt(a)).pow(2).flatten(1).sum(dim=1).sqrt() / math.sqrt(2.0)


def as_stored(images: torch.Tensor) -> torch.Tensor:
    """Images as their 8-bit PNG files hold them (what the reference reads)."""
    return torch.round(images.clamp(0, 1) * 255) / 255


#: How a blend cell's histogram loss is defined (recorded with every run that has blends).
BLEND_HISTOGRAM_LOSS = (
    "histogram_loss of a blend's output: the Hellinger distance of its histogram to the "
    "weighted mixture, by the blend's weights, of its parts' histograms"
)


class HistogramLoss(ImageMetric):
    """How far the output's colour distribution is from the style image's."""

    info = MetricInfo(
        name="histogram_loss",
        higher_is_better=False,
        per="image",
        unit="",
        description="colour-histogram loss (StyleID's eval_histogan.py): Hellinger distance of "
        "HistoGAN RGB-uv histograms (64 bins, inverse-quadratic, images over 256 px resized to "
        "256x256), output vs style image",
        needs=("style",),
    )

    def __call__(
        self, outputs: torch.Tensor, content: torch.Tensor, style: torch.Tensor | None
    ) -> torch.Tensor:
        assert style is not None
        return hellinger(rgb_uv_histogram(as_stored(outputs)), rgb_uv_histogram(style))

    def score_domain(
        self, outputs: torch.Tensor, content: torch.Tensor, domain: StyleDomain
    ) -> torch.Tensor:
        mean = rgb_uv_histogram(domain.images).mean(dim=0, keepdim=True)
        histograms = rgb_uv_histogram(as_stored(outputs))
        return hellinger(histograms, mean.expand_as(histograms))

    def score_blend(
        self, outputs: torch.Tensor, content: torch.Tensor, blend: StyleBlend
    ) -> torch.Tensor:
        """Against the blend's weighted mixture of its parts' histograms (a histogram too)."""
        mixed = blend.mix([rgb_uv_histogram(image) for image in blend.images])
        return hellinger(rgb_uv_histogram(as_stored(outputs)), mixed)

"""The colour-histogram loss against StyleID's eval_histogan.py, rebuilt here from its structure
(one image at a time, one channel at a time, bins from numpy's linspace promoted to float64,
kernels cast to float32 before the product) on identical inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from stylebench.metrics.base import StyleDomain
from stylebench.metrics.color_histogram import HistogramLoss, as_stored, rgb_uv_histogram

EPS = 1e-6


def reference_histogram(image: torch.Tensor, h: int = 64, insz: int = 256) -> torch.Tensor:
    """HistoGAN's RGBuvHistBlock.forward (inverse-quadratic, intensity scale) for [1, 3, H, W]."""
    x = torch.clamp(image, 0, 1)
    if x.shape[2] > insz or x.shape[3] > insz:
        x = F.interpolate(x, size=(insz, insz), mode="bilinear", align_corners=False)
    hist = torch.zeros((1, 3, h, h))
    pixels = torch.t(torch.reshape(x[0], (3, -1)))
    squares = torch.pow(pixels, 2)
    iy = torch.unsqueeze(torch.sqrt(squares[:, 0] + squares[:, 1] + squares[:, 2] + EPS), dim=1)
    centres = torch.unsqueeze(torch.tensor(np.linspace(-3, 3, num=h)), dim=0)
    for channel, (first, second) in enumerate(((1, 2), (0, 2), (0, 1))):
        log_c = torch.log(pixels[:, channel] + EPS)
        u = torch.unsqueeze(log_c - torch.log(pixels[:, first] + EPS), dim=1)
        v = torch.unsqueeze(log_c - torch.log(pixels[:, second] + EPS), dim=1)
        ku = 1 / (1 + torch.pow(torch.reshape(abs(u - centres), (-1, h)), 2) / 0.02**2)
        kv = 1 / (1 + torch.pow(torch.reshape(abs(v - centres), (-1, h)), 2) / 0.02**2)
        hist[0, channel] = torch.mm(torch.t(iy * ku.type(torch.float32)), kv.type(torch.float32))
    return hist / (hist.sum(dim=1).sum(dim=1).sum(dim=1).view(-1, 1, 1, 1) + EPS)


def reference_loss(output: torch.Tensor, style: torch.Tensor) -> float:
    a, b = reference_histogram(output), reference_histogram(style)
    return float(
        1 / np.sqrt(2.0) * torch.sqrt(torch.sum(torch.pow(torch.sqrt(b) - torch.sqrt(a), 2)))
    )


@pytest.mark.parametrize("size", [(48, 64), (300, 280)])  # below, and resized to 256 x 256
def test_equal_to_the_reference_on_identical_inputs(size):
    generator = torch.Generator().manual_seed(0)
    outputs = as_stored(torch.rand(2, 3, *size, generator=generator))
    style = torch.rand(2, 3, *size, generator=generator)
    ours = HistogramLoss(context=None)(outputs, outputs, style)
    for i in range(2):
        expected = reference_loss(outputs[i : i + 1], style[i : i + 1])
        assert float(ours[i]) == pytest.approx(expected, rel=1e-4)
        ours_histogram = rgb_uv_histogram(outputs[i : i + 1])
        assert torch.allclose(ours_histogram, reference_histogram(outputs[i : i + 1]), atol=1e-9)


def test_a_hand_checkable_case_and_the_output_scored_as_stored():
    grey, red = torch.full((1, 3, 4, 4), 0.5), torch.zeros(1, 3, 4, 4)
    red[:, 0] = 1.0
    metric = HistogramLoss(context=None)
    assert float(metric(grey, grey, grey)[0]) == pytest.approx(0.0, abs=1e-6)
    # Far-apart colours: a distance well above 0, bounded by 1, and the same either way round.
    distance = float(metric(grey, grey, red)[0])
    assert 0.5 < distance <= 1.0 and float(metric(red, red, grey)[0]) == pytest.approx(distance)
    almost = grey + 0.001  # the same 8-bit file as grey: same score
    assert float(metric(almost, grey, red)[0]) == float(metric(grey, grey, red)[0])
    assert float(as_stored(almost)[0, 0, 0, 0]) == pytest.approx(128 / 255, rel=1e-6)


def test_domain_outputs_are_compared_with_the_style_set_s_mean_histogram():
    generator = torch.Generator().manual_seed(1)
    outputs, styles = torch.rand(2, 3, 16, 16, generator=generator), torch.rand(3, 3, 16, 16)
    scores = HistogramLoss(context=None).score_domain(outputs, outputs, StyleDomain("set", styles))
    mean = rgb_uv_histogram(styles).mean(dim=0, keepdim=True)
    for i in range(2):
        single = rgb_uv_histogram(as_stored(outputs[i : i + 1]))
        expected = (mean.sqrt() - single.sqrt()).pow(2).sum().sqrt() / math.sqrt(2)
        assert float(scores[i]) == pytest.approx(float(expected), rel=1e-6)

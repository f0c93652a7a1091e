"""CFSD equals StyleID's PatchSimi computed its own way (torchvision VGG-19 ``features[:12]``,
transposes and ``F.kl_div`` at batch size 1) on the same weights: in float32 where the
divergence is large, and in float64 where it is so small that float32 rounding swamps it."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torchvision import models
from torchvision.transforms import functional as TF

from stylebench.methods.core.encoders import FeatureEncoder
from stylebench.methods.core.weights import WeightsIdentity
from stylebench.metrics.base import MetricContext
from stylebench.metrics.cfsd import CFSD, structural_divergence


def he_vgg19() -> torch.nn.Sequential:
    """A random VGG-19 trunk whose relu3_1 activations grow to pretrained-like magnitudes
    (PyTorch's default init shrinks them so much that every self-similarity is uniform)."""
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(0)
        features = models.vgg19(weights=None).features.eval()
        for module in features:
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                module.weight.mul_(2)
                torch.nn.init.uniform_(module.bias, 0, 0.5)
    return features.requires_grad_(False)


def cfsd_metric(metric_context, features: torch.nn.Sequential) -> CFSD:
    encoder = FeatureEncoder("vgg19", features, WeightsIdentity("vgg19", "test", "0" * 64))
    return CFSD(
        MetricContext(
            device=metric_context.device,
            weights=metric_context.weights,
            encoder=lambda arch: encoder,
            cache=metric_context.cache,
        )
    )


def styleid_patch_similarity(features: torch.Tensor, log: bool) -> torch.Tensor:
    b, c, h, w = features.size()
    positions = torch.transpose(features, 1, 3).reshape(b, h * w, c).div(c)
    logits = torch.bmm(positions, torch.transpose(positions, 1, 2))
    similarity = F.log_softmax(logits, dim=-1) if log else F.softmax(logits, dim=-1)
    return similarity.reshape(b, -1)


def styleid_cfsd(vgg: torch.nn.Sequential, stylized: torch.Tensor, content: torch.Tensor) -> float:
    def relu3_1(image: torch.Tensor) -> torch.Tensor:
        x = TF.normalize(image, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
        for name, layer in vgg._modules.items():
            x = layer(x)
            if name == "11":
                return x
        raise AssertionError("unreachable")

    return float(
        F.kl_div(
            styleid_patch_similarity(relu3_1(stylized), log=True),
            styleid_patch_similarity(relu3_1(content), log=False),
            reduction="batchmean",
        )
    )


def test_cfsd_equals_styleids_definition(metric_context):
    trunk = he_vgg19()
    metric = cfsd_metric(metric_context, trunk)
    vgg = models.vgg19(weights=None).features.eval()
    vgg.load_state_dict(trunk.state_dict())
    generator = torch.Generator().manual_seed(3)
    content = torch.rand(2, 3, 40, 40, generator=generator)
    output = (content + 0.3 * torch.rand(2, 3, 40, 40, generator=generator)).clamp(0, 1)
    ours = metric(output, content, content)
    with torch.no_grad():
        expected = [styleid_cfsd(vgg, output[i : i + 1], content[i : i + 1]) for i in range(2)]
    assert ours.shape == (2,) and (ours > 1e-3).all()
    torch.testing.assert_close(ours, torch.tensor(expected), rtol=1e-4, atol=0)
    # Identical images: zero, up to float rounding far below the distance of different images.
    assert (metric(content, content, content).abs() < 1e-3 * ours).all()
    assert CFSD.info.higher_is_better is False and CFSD.info.needs == ("content",)


def test_cfsd_is_the_exact_divergence_where_float32_rounding_would_swamp_it(metric_context):
    """Random weights make every self-similarity nearly uniform, so the true divergence is a few
    1e-9 while a float32 sum of its 4096^2 terms is off by about 1e-6, below zero as often as
    not. Ours matches StyleID's computation carried out entirely in float64."""
    metric = CFSD(metric_context)
    vgg = copy.deepcopy(metric.encoder.layers).double()
    generator = torch.Generator().manual_seed(0)
    content = torch.rand(3, 3, 64, 64, generator=generator)
    output = (content + 0.2 * torch.rand(3, 3, 64, 64, generator=generator)).clamp(0, 1)
    ours = metric(output, content, content)
    with torch.no_grad():
        expected = [
            styleid_cfsd(vgg, output[i : i + 1].double(), content[i : i + 1].double())
            for i in range(3)
        ]
    assert (ours > 0).all() and (ours < 1e-6).all()
    torch.testing.assert_close(ours, torch.tensor(expected, dtype=torch.float32), rtol=1e-4, atol=0)


def test_cfsd_row_blocks_add_up_to_the_whole_matrix(monkeypatch):
    generator = torch.Generator().manual_seed(1)
    content, output = torch.rand(2, 8, 6, 7, generator=generator).unbind()
    whole = structural_divergence(content, output)
    monkeypatch.setattr(
        "stylebench.metrics.cfsd.ROW_BLOCK", 5
    )  # 42 positions: 9 blocks, the last short
    torch.testing.assert_close(structural_divergence(content, output), whole, rtol=1e-12, atol=0)
    assert whole > 0 and structural_divergence(content, content) == 0

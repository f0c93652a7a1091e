"""Improved Gatys: every switch changes the loss exactly as Novak & Nikulin's formulas say.

The expected values are computed independently in numpy from the paper's formulas, on features
small enough to check by hand (a fake encoder: the image average-pooled to each block's size).
"""

import numpy as np
import pytest
import torch
from torch import nn

from stylebench.methods.base import resolve_config
from stylebench.methods.core.losses import cross_gram, gram_matrix
from stylebench.methods.core.perceptual_loss import PerceptualLoss
from stylebench.methods.gatys import Gatys
from stylebench.methods.improved_gatys import ALL_LAYERS, ImprovedGatys, depth_weights, style_terms


def test_layer_weights_are_powers_of_two_by_depth():
    assert depth_weights([1, 2, 3], 3, "style") == [4 / 7, 2 / 7, 1 / 7]
    assert depth_weights([1, 2, 3], 3, "content") == [2 / 14, 4 / 14, 8 / 14]


def test_style_terms_for_each_correlation_mode():
    layers = ["a", "b", "c"]
    assert style_terms(layers, "layer") == [("a", None), ("b", None), ("c", None)]
    assert style_terms(layers, "chain") == [("b", "a"), ("c", "b")]
    assert style_terms(layers, "cross") == [
        ("a", None),
        ("b", "a"),
        ("b", None),
        ("c", "a"),
        ("c", "b"),
        ("c", None),
    ]


def test_shifted_gram_by_hand():
    f = torch.tensor([[[[1.0, 2.0], [0.0, 3.0]], [[2.0, 0.0], [1.0, 1.0]]]])  # [1, 2, 2, 2]
    # F - 1 = [[0, 1, -1, 2], [1, -1, 0, 0]]: G = [[6, -1], [-1, 2]] / (H*W = 4)
    expected = torch.tensor([[[6.0, -1.0], [-1.0, 2.0]]]) / 4
    torch.testing.assert_close(gram_matrix(f, "hw", shift=-1.0), expected)
    torch.testing.assert_close(cross_gram(f, f, "hw", shift=-1.0), expected)
    torch.testing.assert_close(cross_gram(f, f, "chw"), gram_matrix(f, "chw"))


def test_cross_layer_gram_upsamples_the_smaller_map_by_hand():
    big = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])  # [1, 1, 2, 2]
    small = torch.tensor([[[[2.0]], [[-1.0]]]])  # [1, 2, 1, 1], up() repeats it over 2x2
    # sum over positions of big * 2 = 20, of big * -1 = -10; / (H*W = 4)
    expected = torch.tensor([[[5.0, -2.5]]])
    torch.testing.assert_close(cross_gram(big, small, "hw"), expected)
    torch.testing.assert_close(cross_gram(small, big, "hw"), expected.transpose(1, 2))
    # with the shift: (big - 1) . (small - 1): sum(big - 1) = 6, so [6 * 1, 6 * -2] / 4
    torch.testing.assert_close(
        cross_gram(big, small, "hw", shift=-1.0), torch.tensor([[[1.5, -3.0]]])
    )


class PooledImage(nn.Module):
    """Stands in for VGG-19: layer i of block b is the image average-pooled by 2^(b-1), times
    (i+1)/4, with its channels rotated by i, so every layer differs and maps shrink by block."""

    def forward(self, images, layers):
        out = {}
        for name in layers:
            i, block = ALL_LAYERS.index(name), int(name[4])
            pooled = nn.functional.avg_pool2d(images, 2 ** (block - 1)) * (i + 1) / 4
            out[name] = torch.roll(pooled, shifts=i, dims=1)
        return out


def numpy_features(image: np.ndarray) -> dict[str, np.ndarray]:
    out = {}
    for i, name in enumerate(ALL_LAYERS):
        k = 2 ** (int(name[4]) - 1)
        c, h, w = image.shape
        pooled = image.reshape(c, h // k, k, w // k, k).mean(axis=(2, 4)) * (i + 1) / 4
        out[name] = np.roll(pooled, i, axis=0)
    return out


def numpy_gram(a: np.ndarray, b: np.ndarray, shift: float) -> np.ndarray:
    """(F^a + s)[up(F^b + s)]^T / M with up() repeating the smaller map's pixels."""
    if a.shape[1] < b.shape[1]:
        return numpy_gram(b, a, shift).T
    k = a.shape[1] // b.shape[1]
    b = np.repeat(np.repeat(b, k, axis=1), k, axis=2)
    m = a.shape[1] * a.shape[2]
    return (a.reshape(a.shape[0], -1) + shift) @ (b.reshape(b.shape[0], -1) + shift).T / m


def paper_loss(x, content, style, cfg) -> tuple[float, float]:
    """alpha * sum_l wc_l 1/2 sum (F - P)^2 and beta * sum_t ws_t sum (G - A)^2 / (4 Na Nb)."""
    fx, fc, fs = numpy_features(x), numpy_features(content), numpy_features(style)
    layers = ALL_LAYERS if cfg["all_layers"] else ["relu1_1", "relu2_1", "relu3_1", "relu4_1"]
    content_layers = ALL_LAYERS if cfg["all_layers"] else ["relu4_2"]
    depth = {layer: d for d, layer in enumerate(layers, start=1)}
    if cfg["correlations"] == "layer":
        terms = [(layer, layer) for layer in layers]
    elif cfg["correlations"] == "chain":
        terms = list(zip(layers[1:], layers[:-1], strict=True))
    else:
        terms = [(layers[i], layers[k]) for i in range(len(layers)) for k in range(i + 1)]
    if cfg["layer_weighting"] == "exponential":
        ws = np.array([2.0 ** (len(layers) - depth[deep]) for deep, _ in terms])
        wc = np.array([2.0**d for d in range(1, len(content_layers) + 1)])
        ws, wc = ws / ws.sum(), wc / wc.sum()
    else:
        ws, wc = np.full(len(terms), 1 / len(terms)), np.ones(len(content_layers))
    content_loss = sum(
        w * 0.5 * ((fx[layer] - fc[layer]) ** 2).sum()
        for w, layer in zip(wc, content_layers, strict=True)
    )
    s = cfg["gram_shift"]
    style_loss = sum(
        w
        * ((numpy_gram(fx[a], fx[b], s) - numpy_gram(fs[a], fs[b], s)) ** 2).sum()
        / (4 * fx[a].shape[0] * fx[b].shape[0])
        for w, (a, b) in zip(ws, terms, strict=True)
    )
    return 1.0 * content_loss, 1e3 * style_loss


PAPER = {"layer_weighting": "exponential", "all_layers": True, "gram_shift": -1.0}
SWITCHES = [
    {**PAPER, "correlations": "chain"},
    {**PAPER, "correlations": "chain", "layer_weighting": "equal"},
    {**PAPER, "correlations": "chain", "gram_shift": 0.0},
    {**PAPER, "correlations": "cross"},
    {**PAPER, "correlations": "layer"},
    {**PAPER, "correlations": "chain", "all_layers": False},
]


def test_each_switch_gives_the_papers_formula():
    generator = torch.Generator().manual_seed(0)
    x, content, style = (torch.rand(1, 3, 16, 16, generator=generator) for _ in range(3))
    seen = []
    for cfg in SWITCHES:
        settings = dict(cfg)
        if not cfg["all_layers"]:
            settings["style_layers"] = ["relu1_1", "relu2_1", "relu3_1", "relu4_1"]
        config = resolve_config(ImprovedGatys, settings)
        loss = PerceptualLoss(PooledImage(), ImprovedGatys.perceptual_spec(config))
        terms = loss(x, loss.targets(content, style))
        expected = paper_loss(x[0].numpy(), content[0].numpy(), style[0].numpy(), cfg)
        got = (float(terms["content"]), float(terms["style"]))
        np.testing.assert_allclose(got, expected, rtol=2e-5)
        seen.append(got)
    assert len({round(s, 6) for _, s in seen}) == len(seen), "every switch changes the style loss"


def test_defaults_are_the_papers_best_combination():
    config = resolve_config(ImprovedGatys, {})
    assert config.layer_weighting == "exponential" and config.all_layers
    assert config.gram_shift == -1.0 and config.correlations == "chain"
    spec = ImprovedGatys.perceptual_spec(config)
    assert len(ALL_LAYERS) == 16 and list(spec.content_layers) == ALL_LAYERS
    assert [t[1:] for t in spec.style_terms][:2] == [
        ("relu1_2", "relu1_1"),
        ("relu2_1", "relu1_2"),
    ]
    assert len(spec.style_terms) == 15


def test_gatys_preset_is_exactly_gatys_paper_loss(context):
    generator = torch.Generator().manual_seed(3)
    x, content, style = (torch.rand(1, 3, 32, 32, generator=generator) for _ in range(3))
    ours = ImprovedGatys(resolve_config(ImprovedGatys, {"preset": "gatys"}), context).loss
    gatys = Gatys(resolve_config(Gatys, {}), context).loss
    a = ours(x, ours.targets(content, style))
    b = gatys(x, gatys.targets(content, style))
    for name in ("content", "style", "total"):
        torch.testing.assert_close(a[name], b[name])


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"style_layers": ["relu1_1"]}, "all_layers: false"),
        ({"style_layer_weights": [1.0] * 5, "all_layers": False}, "layer_weighting: equal"),
        ({"all_layers": False, "style_layers": ["relu1_1"]}, "at least two"),
    ],
)
def test_conflicting_switches_are_errors(settings, message):
    with pytest.raises(ValueError, match=message):
        resolve_config(ImprovedGatys, settings)

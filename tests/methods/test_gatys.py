"""Gatys: presets, determinism, optimisation progress and divergence handling."""

import pytest
import torch

from stylebench.methods.base import StyleBlend, resolve_config
from stylebench.methods.core.optimize import DivergenceError, initial_images, optimize_images
from stylebench.methods.core.perceptual_loss import blend_targets
from stylebench.methods.gatys import Gatys
from stylebench.methods.improved_gatys import ImprovedGatys


def images(seed: int, n: int = 1) -> torch.Tensor:
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def test_presets_resolve_and_user_settings_win():
    paper = resolve_config(Gatys, {})
    assert paper.preset == "paper" and paper.pooling == "avg" and paper.init == "noise"
    assert paper.content_layers == ["relu4_2"] and len(paper.style_layers) == 5
    assert paper.layer_weights() == [0.2] * 5
    reference = resolve_config(Gatys, {"preset": "reference", "steps": 7})
    assert reference.content_weight == 5.0 and reference.style_weight == 100.0
    assert reference.tv_weight == 1e-3 and reference.steps == 7 and reference.pooling == "max"
    with pytest.raises(ValueError, match="no preset 'nope'"):
        resolve_config(Gatys, {"preset": "nope"})
    with pytest.raises(ValueError, match="one weight per style layer"):
        resolve_config(Gatys, {"style_layer_weights": [1.0]})


def test_initialisation_depends_only_on_each_images_seed():
    content = images(0, 2)
    batch = initial_images("noise", content, [5, 6])
    assert torch.equal(batch[1], initial_images("noise", content[:1], [6])[0])
    assert torch.equal(initial_images("content", content, [1, 2]), content)
    mean = initial_images("mean", content, [1, 2])
    assert (mean - mean.mean(dim=(2, 3), keepdim=True)).abs().max() < 1e-4


@pytest.mark.parametrize("optimizer,lr", [("lbfgs", 1.0), ("adam", 0.05)])
def test_optimisation_lowers_the_loss_and_keeps_a_curve_per_step(context, optimizer, lr):
    config = resolve_config(Gatys, {"steps": 12, "optimizer": optimizer, "lr": lr})
    result = Gatys(config, context).stylize(images(1), images(2), seeds=[0])
    total = result.curves["total"][0]
    assert len(total) == 12
    assert total[-1] < total[0]
    assert set(result.curves) == {"content", "style", "tv", "total"}


def test_same_seed_same_image(context):
    method = Gatys(resolve_config(Gatys, {"steps": 4}), context)
    a = method.stylize(images(1), images(2), seeds=[3]).images
    b = method.stylize(images(1), images(2), seeds=[3]).images
    assert torch.equal(a, b)


def test_divergence_fails_with_a_reason():
    def exploding(x):
        total = (x * float("inf")).flatten(1).sum(1)
        return {"total": total}

    with pytest.raises(DivergenceError, match="loss became"):
        optimize_images(torch.rand(1, 3, 4, 4), exploding, steps=3, optimizer="adam", lr=0.1)


def test_a_blends_gram_targets_are_the_weighted_sum_of_its_parts_grams(context):
    """By hand: per style layer, 0.7 G(a) + 0.3 G(b) with G = F F^T / (H*W) (the paper's)."""
    method = Gatys(resolve_config(Gatys, {"steps": 3}), context)
    a, b = images(2), images(3)
    targets = blend_targets(method.loss, StyleBlend((a, b), (0.7, 0.3)))
    assert list(targets) == method.config.style_layers
    for layer in method.config.style_layers:
        grams = []
        for image in (a, b):
            f = method.loss.encoder(image, [layer])[layer].double()
            flat = f.flatten(2)
            grams.append(flat @ flat.transpose(1, 2) / flat.shape[2])
        expected = 0.7 * grams[0] + 0.3 * grams[1]
        assert torch.allclose(targets[layer].double(), expected, rtol=1e-4, atol=1e-6)
    # The optimisation starts from the same image and descends towards those targets; a blend
    # of an image with itself is that image's transfer.
    same = method.stylize_blend(images(1), StyleBlend((a, a), (0.4, 0.6)), seeds=[5]).images
    alone = method.stylize(images(1), a, seeds=[5]).images
    assert (same - alone).abs().max() < 1e-4


def test_improved_gatys_blends_too():
    assert ImprovedGatys.needs.blends and Gatys.needs.blends

"""Patch matching with semantic channels, checked against a brute-force numpy version."""

import numpy as np
import pytest
import torch

from stylebench.methods.core import mrf
from stylebench.methods.core.losses import smoothness
from stylebench.methods.core.mrf import map_at_layer, mrf_loss, nearest_patches, style_patches


def numpy_patches(x: np.ndarray, k: int = 3) -> np.ndarray:
    """[C, h, w] -> [P, C*k*k], patches in row-major order of their top-left corner."""
    _, h, w = x.shape
    return np.stack(
        [x[:, i : i + k, j : j + k].reshape(-1) for i in range(h - k + 1) for j in range(w - k + 1)]
    )


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def numpy_best(fx, mx, fs, ms, weight, matching) -> np.ndarray:
    if matching == "concat":
        query = numpy_patches(np.concatenate([fx, weight * mx]))
        keys = unit(numpy_patches(np.concatenate([fs, weight * ms])))
        return (query @ keys.T).argmax(axis=1)
    score = unit(numpy_patches(fx)) @ unit(numpy_patches(fs)).T
    score += weight * unit(numpy_patches(mx)) @ unit(numpy_patches(ms)).T
    return score.argmax(axis=1)


@pytest.mark.parametrize("matching", ["concat", "split"])
@pytest.mark.parametrize("weight", [0.0, 3.0])
def test_matching_and_loss_agree_with_brute_force(matching, weight, monkeypatch):
    monkeypatch.setattr(mrf, "MATCH_CHUNK", 50)  # several chunks: the running argmax is used
    g = torch.Generator().manual_seed(0)
    fx, fs = torch.rand(4, 6, 7, generator=g), torch.rand(4, 7, 6, generator=g)
    mx, ms = torch.rand(3, 6, 7, generator=g), torch.rand(3, 7, 6, generator=g)
    patches = style_patches(fs, ms, weight, matching)
    best = nearest_patches(fx, mx, patches, weight, matching)
    expected = numpy_best(fx.numpy(), mx.numpy(), fs.numpy(), ms.numpy(), weight, matching)
    np.testing.assert_array_equal(best.numpy(), expected)
    loss = mrf_loss(fx[None], mx[None], [patches], weight, matching)
    target = numpy_patches(fs.numpy())[expected]
    np.testing.assert_allclose(
        loss.numpy(), [((numpy_patches(fx.numpy()) - target) ** 2).mean()], rtol=1e-5
    )


@pytest.mark.parametrize("matching", ["concat", "split"])
def test_semantic_channels_steer_matching_to_the_same_region(matching):
    # Style: left half features (1, 0) with map "red", right half (0, 1) with map "blue".
    fs, ms = torch.zeros(2, 3, 6), torch.zeros(3, 3, 6)
    fs[0, :, :3], fs[1, :, 3:] = 1.0, 1.0
    ms[0, :, :3], ms[2, :, 3:] = 1.0, 1.0
    # The image's one patch looks like the right half, but its map says "red".
    fx, mx = torch.zeros(2, 3, 3), torch.zeros(3, 3, 3)
    fx[1], mx[0] = 1.0, 1.0
    plain = nearest_patches(fx, None, style_patches(fs, None, 0.0, matching), 0.0, matching)
    guided = nearest_patches(fx, mx, style_patches(fs, ms, 10.0, matching), 10.0, matching)
    assert int(plain[0]) == 3  # the patch of columns 3-5: the look-alike
    assert int(guided[0]) == 0  # the patch of columns 0-2: same region


def test_maps_are_average_pooled_to_each_block():
    maps = torch.arange(64.0).view(1, 1, 8, 8)
    assert map_at_layer(maps, "relu1_1").shape[-1] == 8
    pooled = map_at_layer(maps, "relu3_1")
    assert pooled.shape[-2:] == (2, 2)
    assert float(pooled[0, 0, 0, 0]) == float(maps[0, 0, :4, :4].mean())
    with pytest.raises(ValueError, match="relu3_1"):
        map_at_layer(maps, "pool3")


def test_too_small_feature_maps_are_a_clear_error():
    with pytest.raises(ValueError, match="no 3x3 patches"):
        style_patches(torch.rand(2, 2, 5), None, 0.0, "split")


def test_smoothness_by_hand():
    image = torch.tensor([[[[0.0, 1.0], [2.0, 0.0]]]])
    # one corner: dx = 1, dy = 2 -> (1 + 4)^1.25
    torch.testing.assert_close(smoothness(image), torch.tensor([5.0**1.25]))

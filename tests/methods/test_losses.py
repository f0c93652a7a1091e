"""Loss terms against values computed by hand."""

import pytest
import torch

from stylebench.methods.core.losses import (
    gram_matrix,
    half_sum_squared_error,
    mean_squared_error,
    total_variation,
)


def features() -> torch.Tensor:
    # One image, 2 channels, 1x2 pixels: channel a = [1, 2], channel b = [3, 4].
    return torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])


def test_gram_matrix_by_hand():
    # a.a = 1 + 4 = 5, a.b = 3 + 8 = 11, b.b = 9 + 16 = 25
    raw = torch.tensor([[[5.0, 11.0], [11.0, 25.0]]])
    assert torch.equal(gram_matrix(features(), norm="none"), raw)
    assert torch.allclose(gram_matrix(features(), norm="hw"), raw / 2)
    assert torch.allclose(gram_matrix(features(), norm="chw"), raw / 4)


def test_gram_shift_adds_before_the_product():
    # shift -1: a = [0, 1], b = [2, 3] -> a.a = 1, a.b = 3, b.b = 13
    expected = torch.tensor([[[1.0, 3.0], [3.0, 13.0]]])
    assert torch.equal(gram_matrix(features(), norm="none", shift=-1.0), expected)


def test_squared_errors_per_image():
    a = torch.zeros(2, 1, 2, 2)
    b = torch.tensor([1.0, 2.0]).view(2, 1, 1, 1).expand(2, 1, 2, 2)
    assert torch.equal(mean_squared_error(a, b), torch.tensor([1.0, 4.0]))
    assert torch.equal(half_sum_squared_error(a, b), torch.tensor([2.0, 8.0]))


def test_total_variation_by_hand():
    image = torch.tensor([[[[0.0, 1.0], [2.0, 4.0]]]])
    # dx: (1-0), (4-2) -> squares 1, 4 -> mean 2.5 ; dy: (2-0), (4-1) -> 4, 9 -> mean 6.5
    assert total_variation(image).item() == pytest.approx(9.0)
    assert total_variation(image, power=1.0).item() == pytest.approx(1.5 + 2.5)
    assert total_variation(torch.ones(1, 3, 4, 4)).item() == 0.0

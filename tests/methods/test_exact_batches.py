"""`ExactBatches` runs a layer batched only where that is bit-exact; `per_image_sum`'s fixed order."""

import pytest
import torch
from torch import nn

from stylebench.methods.core.exact_batches import ExactBatches, batches_exactly
from stylebench.methods.core.losses import per_image_sum


class BatchSizeDependent(nn.Module):
    """A layer whose result for an image changes with the batch it is in (like a kernel that
    picks its summation order by batch size, exaggerated)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale * (1 + 1e-6 * x.shape[0])


def test_a_layer_that_changes_in_a_batch_runs_image_by_image():
    layer, x = BatchSizeDependent(), torch.rand(3, 2, 4, 4)
    assert not batches_exactly(layer, x)
    exact = ExactBatches()
    out = exact(0, layer, x)
    for i in range(3):
        assert torch.equal(out[i : i + 1], layer(x[i : i + 1]))
    assert exact.one_by_one() == [(0, (3, 2, 4, 4), torch.float32, "cpu", False)]


def test_an_exact_layer_stays_batched_and_is_checked_once_per_shape(monkeypatch):
    layer, x = nn.Linear(4, 4), torch.rand(3, 4)
    checks = []
    monkeypatch.setattr(
        "stylebench.methods.core.exact_batches.batches_exactly",
        lambda module, v: checks.append(v.shape) or True,
    )
    exact = ExactBatches()
    for _ in range(3):
        torch.testing.assert_close(exact(5, layer, x), layer(x), rtol=0, atol=0)
    exact(5, layer, torch.rand(2, 4))
    exact(5, layer, torch.rand(1, 4))
    assert checks == [(3, 4), (2, 4)], "one check per batched shape; a single image needs none"
    assert exact.one_by_one() == []


def test_the_check_covers_the_input_gradient_too():
    class GradientOnly(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.batch = x.shape[0]
            return x.clone()

        @staticmethod
        def backward(ctx, grad):
            return grad * (1 + 1e-6 * ctx.batch)

    class Layer(nn.Linear):
        def forward(self, x):
            return GradientOnly.apply(x)

    assert not batches_exactly(Layer(2, 2), torch.rand(2, 2))


@pytest.mark.parametrize("length", [5, 4096, 70_001])
def test_per_image_sum_is_the_same_alone_in_a_batch_and_on_any_thread_count(length):
    x = torch.randn(3, length, generator=torch.Generator().manual_seed(0))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        batched = per_image_sum(x)
        alone = torch.cat([per_image_sum(x[i : i + 1]) for i in range(3)])
        torch.set_num_threads(1)
        one_thread = per_image_sum(x)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(batched, alone) and torch.equal(batched, one_thread)
    torch.testing.assert_close(batched, x.double().sum(dim=1).float(), rtol=1e-5, atol=1e-4)

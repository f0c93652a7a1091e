"""The shared training loop: seeded batches, windowed curves, divergence, strict checkpoints."""

import threading
from types import SimpleNamespace

import pytest
import torch

from stylebench.methods.base import MethodContext, PrepareData, TensorImages
from stylebench.methods.core.checkpoints import CheckpointMismatch, check_state_dict
from stylebench.methods.core.optimize import DivergenceError
from stylebench.methods.core.training_loop import (
    MAX_POINTS,
    PREFETCH,
    TrainingConfig,
    batch_order,
    curve_every,
    seeded,
    train_loop,
    train_networks,
)


def test_batches_are_seeded_epochs_of_a_permutation():
    batches = batch_order(size=6, batch_size=2, steps=6, seed=1)
    assert sorted(i for b in batches[:3] for i in b) == list(range(6))
    assert sorted(i for b in batches[3:] for i in b) == list(range(6))
    assert batches == batch_order(6, 2, 6, seed=1) != batch_order(6, 2, 6, seed=2)
    assert all(len(b) == 3 for b in batch_order(size=3, batch_size=8, steps=2, seed=0))
    with pytest.raises(ValueError, match="training set is empty"):
        batch_order(0, 2, 1, 0)


def test_curves_average_windows_of_steps():
    data = TensorImages(torch.zeros(4, 3, 2, 2))
    steps = 3 * MAX_POINTS + 1
    result = train_loop(
        data, lambda i, batch: {"total": float(i)}, steps, 2, 0, torch.device("cpu")
    )
    every = curve_every(steps)
    assert every == 4 and result.every == 4
    assert len(result.curves["total"]) == 376 <= MAX_POINTS  # ceil(1501 / 4)
    assert result.curves["total"][0] == pytest.approx((0 + 1 + 2 + 3) / 4)
    assert result.curves["total"][-1] == float(steps - 1)


def test_a_diverging_step_stops_training_with_a_reason():
    data = TensorImages(torch.zeros(2, 3, 2, 2))
    with pytest.raises(DivergenceError, match="step 1"):
        train_loop(
            data,
            lambda i, batch: {"total": float("nan") if i == 1 else 1.0},
            5,
            1,
            0,
            torch.device("cpu"),
        )


class RecordingImages(TensorImages):
    """Training images that note which batch is being read (by the loader's thread)."""

    def __init__(self, images: torch.Tensor) -> None:
        super().__init__(images)
        self.read: list[list[int]] = []
        self.reading = threading.Condition()

    def batch(self, indices: list[int]) -> torch.Tensor:
        with self.reading:
            self.read.append(list(indices))
            self.reading.notify_all()
        return super().batch(indices)

    def wait_for(self, count: int) -> bool:
        with self.reading:
            return self.reading.wait_for(lambda: len(self.read) >= count, timeout=30)


def test_the_next_batches_are_read_while_a_step_runs():
    data = RecordingImages(torch.arange(6.0).view(6, 1, 1, 1).expand(6, 3, 2, 2).contiguous())
    seen: list[torch.Tensor] = []

    def step(index: int, batch: torch.Tensor) -> dict[str, float]:
        # Without prefetching, batch index + 1 would not be read before this step returns.
        assert data.wait_for(min(index + 1 + PREFETCH, 5)), f"step {index} waited for its data"
        seen.append(batch)
        return {"total": 1.0}

    train_loop(data, step, 5, 2, 0, torch.device("cpu"))
    batches = batch_order(6, 2, 5, 0)
    assert data.read == batches  # each batch read once, in order
    assert [b[:, 0, 0, 0].tolist() for b in seen] == [[float(i) for i in b] for b in batches]


def test_a_failing_read_stops_training_with_its_error():
    class Broken(TensorImages):
        def batch(self, indices: list[int]) -> torch.Tensor:
            if 3 in indices:
                raise OSError("image 3 is unreadable")
            return super().batch(indices)

    with pytest.raises(OSError, match="image 3"):
        train_loop(
            Broken(torch.zeros(4, 3, 2, 2)),
            lambda i, b: {"total": 1.0},
            8,
            1,
            0,
            torch.device("cpu"),
        )


def test_seeded_builds_are_reproducible_and_leave_the_rng_alone():
    torch.manual_seed(7)
    expected = torch.rand(2)
    torch.manual_seed(7)
    a = seeded(lambda: torch.nn.Linear(3, 3), 1)
    assert torch.equal(torch.rand(2), expected)
    assert torch.equal(a.weight, seeded(lambda: torch.nn.Linear(3, 3), 1).weight)


def test_mismatch_lists_everything_and_truncates_long_lists():
    expected = {f"w{i}": torch.zeros(2) for i in range(20)}
    given = {"x": torch.zeros(1), "w0": torch.zeros(3)}
    with pytest.raises(CheckpointMismatch) as error:
        check_state_dict(expected, given, "f.pth")
    message = str(error.value)
    assert "checkpoint f.pth" in message and "unexpected keys: x" in message
    assert "and 7 more" in message and "w0 (file (3,), network (2,))" in message
    check_state_dict(expected, dict(expected), "ok.pth")


def test_the_loop_tells_its_watcher_every_step_with_the_loss_terms():
    heard = []
    data = TensorImages(torch.rand(3, 3, 8, 8))
    train_loop(
        data,
        lambda index, batch: {"total": float(index), "style": 1.0},
        4,
        2,
        0,
        torch.device("cpu"),
        progress=lambda done, steps, terms: heard.append((done, steps, terms["total"])),
    )
    assert heard == [(1, 4, 0.0), (2, 4, 1.0), (3, 4, 2.0), (4, 4, 3.0)]


def test_train_networks_schedules_draws_from_the_seeded_generator_and_ends_in_eval_mode():
    net = torch.nn.Conv2d(3, 3, 1)
    method = SimpleNamespace(
        name="toy",
        config=TrainingConfig(steps=3, batch_size=2, lr=0.1),
        context=MethodContext(device=torch.device("cpu"), seed=5, encoder=lambda arch: None),
    )
    rates, draws = [], []

    def losses(content, generator):
        draws.append(int(torch.randint(100, (1,), generator=generator)))
        total = (net(content) - content).pow(2).flatten(1).mean(1)
        return {"total": total, "half": total / 2}

    def schedule(optimizer, index):
        for group in optimizer.param_groups:
            group["lr"] = 0.1 / (index + 1)
        rates.append(optimizer.param_groups[0]["lr"])

    data = PrepareData(torch.empty(0, 3, 4, 4), training=TensorImages(torch.rand(4, 3, 4, 4)))
    curves = train_networks(method, data, net, net.parameters(), losses, schedule)
    assert rates == [0.1, 0.05, 0.1 / 3] and not net.training
    assert draws == torch.randint(100, (3,), generator=torch.Generator().manual_seed(5)).tolist()
    assert len(curves["total"]) == 3 and curves["half"] == [t / 2 for t in curves["total"]]
    with pytest.raises(ValueError, match="toy needs training content images"):
        train_networks(method, PrepareData(data.styles), net, [], losses)

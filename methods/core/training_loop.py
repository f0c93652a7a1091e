"""The training loop shared by every trained method (feed-forward transformers, later GANs).

Plain PyTorch. The loop owns what every method does the same way: seeded batch order over the
training content (epochs of a seeded permutation), a divergence check, and loss curves averaged
over windows so a 40,000-step run still records at most `MAX_POINTS` points per term, and (for
methods that opt in with `Resumable`) a partial checkpoint every so many steps from which an
interrupted training resumes exactly where it was. What a step does (which networks, which
optimisers, which losses) belongs to the method: it passes a `StepFn` that runs one update on a
batch and returns its named loss terms. `train_networks` is the whole training of the methods
that update one set of networks with one Adam optimiser: they pass only their losses and schedule.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

import torch
from pydantic import Field
from torch import nn

from stylebench.methods.base import (
    MAX_BATCH_SIZE,
    MAX_IMAGE_SIZE,
    MAX_TRAINING_STEPS,
    MethodConfig,
    MethodContext,
    PartialStore,
    PrepareData,
    StepReport,
    TrainingSet,
)
from stylebench.methods.core.encoders import Precision
from stylebench.methods.core.inference import Inference
from stylebench.methods.core.optimize import DivergenceError

T = TypeVar("T")

#: At most this many points per loss curve (each the mean over a window of steps).
MAX_POINTS = 500

#: Batches read ahead of the training step (by one background thread).
PREFETCH = 2

#: One training step on a content batch [B, 3, H, W] in [0, 1]: update, return the loss terms.
StepFn = Callable[[int, torch.Tensor], dict[str, float]]

#: A training step's loss terms on a content batch ("total" among them; per image or scalars),
#: drawing whatever is random (styles, sampling seeds) from the training's generator.
StepLosses = Callable[[torch.Tensor, torch.Generator], dict[str, torch.Tensor]]

#: Sets an optimiser's learning rate for a step (`inverse_time_lr` and the like, bound to their
#: settings).
Schedule = Callable[[torch.optim.Optimizer, int], None]


class TrainingConfig(MethodConfig):
    """Settings every trained method has: the budget and, instead of training, a checkpoint.

    ``checkpoint`` is a path to a state dict (weights-only) that replaces training; the harness
    reads it, so the method is never trained when it is set. Fields in `inference_only` do not
    change what training produces and are left out of the checkpoint cache key: the checkpoint
    itself and the speed settings of stylizing (``channels_last``, ``precision``).
    """

    checkpoint: str | None = None
    steps: int = Field(40_000, gt=0, le=MAX_TRAINING_STEPS)
    batch_size: int = Field(4, gt=0, le=MAX_BATCH_SIZE)
    image_size: int = Field(
        256, ge=16, le=MAX_IMAGE_SIZE, description="training crop of the content images"
    )
    lr: float = Field(1e-3, gt=0)
    channels_last: bool = Field(
        False, description="stylize with NHWC inputs and weights (GPU speed; not training)"
    )
    precision: Precision = Field(
        "float32", description="bfloat16: stylize under bf16 autocast (not training)"
    )

    inference_only: ClassVar[frozenset[str]] = frozenset(
        {"checkpoint", "channels_last", "precision"}
    )

    def inference(self) -> Inference:
        """How the trained network runs when stylizing (`Inference`): speed settings only."""
        return Inference(self.channels_last, self.precision)

    def training_settings(self) -> dict[str, Any]:
        """The settings that decide the trained weights (the cache key hashes these)."""
        return {
            k: v for k, v in self.model_dump(mode="json").items() if k not in self.inference_only
        }


@dataclass
class TrainingResult:
    """Loss curves, one point per window of ``every`` steps (the window's mean); ``resumed_from``:
    the step a partial checkpoint let training start at (0: from the beginning)."""

    curves: dict[str, list[float]] = field(default_factory=dict)
    every: int = 1
    steps: int = 0
    resumed_from: int = 0


@dataclass
class Resumable:
    """How `train_loop` checkpoints a method's training every ``every`` steps into ``store``:
    ``state`` returns everything the method's next steps depend on (networks, optimisers, random
    generators, ...), ``restore`` puts it back. The batch order and the learning-rate schedule
    are functions of the step, so restoring at step k continues exactly as if never stopped."""

    store: PartialStore
    every: int
    state: Callable[[], dict[str, Any]]
    restore: Callable[[dict[str, Any]], None]


def seeded(factory: Callable[[], T], seed: int) -> T:
    """Build something (a network) whose random init depends only on ``seed``; the caller's RNG
    state is left alone."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory()


def curve_every(steps: int) -> int:
    """How many steps each point of a loss curve averages (so a curve has <= MAX_POINTS)."""
    return max(1, math.ceil(steps / MAX_POINTS))


def inverse_time_lr(optimizer: torch.optim.Optimizer, lr: float, decay: float, step: int) -> None:
    """Set the learning rate of step ``step`` to lr / (1 + decay x step): the schedule of the
    AdaIN reference code (naoto0804's ``adjust_learning_rate``), which SANet's keeps."""
    for group in optimizer.param_groups:
        group["lr"] = lr / (1 + decay * step)


#: How fast StyTr^2's warm-up raises the learning rate: by this share of its start a step.
WARMUP_SLOPE = 3e-4


def warmup_inverse_time_lr(
    optimizer: torch.optim.Optimizer, lr: float, warmup: int, decay: float, step: int
) -> None:
    """Set the learning rate of step ``step``: lr / 10 x (1 + `WARMUP_SLOPE` x step) for the
    first ``warmup`` steps, then `inverse_time_lr` from where the warm-up ended (StyTr^2's code:
    5e-4 rises to 2e-4 over 10,000 steps, then 2e-4 / (1 + 1e-5 (step - 10,000))); a
    transformer trained from scratch needs small first steps."""
    peak = lr / 10 * (1 + WARMUP_SLOPE * min(step, warmup))
    if step < warmup:
        for group in optimizer.param_groups:
            group["lr"] = peak
    else:
        inverse_time_lr(optimizer, peak, decay, step - warmup)


def periodic_decay_lr(
    optimizer: torch.optim.Optimizer,
    lr: float,
    decay: float,
    periods: int,
    hold: int,
    step: int,
    steps: int,
) -> None:
    """Set the learning rate of step ``step`` of ``steps``, cut into ``periods`` equal periods:
    ``lr`` for the first ``hold``, then ``decay`` times the last period's: AdaAttN's reference
    code's epoch-wise ``LambdaLR`` (x0.3 an epoch after 2 of 5), in steps because a suite's
    training set is not the one those epochs counted."""
    period = min(periods - 1, step * periods // steps)
    for group in optimizer.param_groups:
        group["lr"] = lr * decay ** max(0, period - hold + 1)


def descend(optimizer: torch.optim.Optimizer, terms: dict[str, torch.Tensor]) -> dict[str, float]:
    """One gradient step on ``terms["total"]`` (batch-mean scalars); refuses a non-finite loss."""
    total = terms["total"]
    if not torch.isfinite(total):
        raise DivergenceError(
            f"training loss became {total.item()}; lower the learning rate or the loss weights"
        )
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    optimizer.step()
    return {name: float(value.detach()) for name, value in terms.items()}


def batch_order(size: int, batch_size: int, steps: int, seed: int) -> list[list[int]]:
    """Indices of each step's batch: consecutive epochs of a seeded permutation."""
    if size == 0:
        raise ValueError("the training set is empty; give the suite a training.content split")
    generator = torch.Generator().manual_seed(seed)
    batch_size = min(batch_size, size)
    pool: list[int] = []
    batches = []
    for _ in range(steps):
        if len(pool) < batch_size:
            pool += torch.randperm(size, generator=generator).tolist()
        batches.append(pool[:batch_size])
        pool = pool[batch_size:]
    return batches


def prefetched(
    data: TrainingSet, batches: list[list[int]], device: torch.device, depth: int = PREFETCH
) -> Iterator[torch.Tensor]:
    """The batches in order, on ``device``, each read by a background thread up to ``depth``
    steps before the step that uses it: reading files (decoding, resizing) overlaps the training
    steps instead of leaving a GPU idle between them. On CUDA, batches are pinned and copied
    asynchronously."""
    cuda = device.type == "cuda"

    def load(indices: list[int]) -> torch.Tensor:
        batch = data.batch(indices)
        return batch.pin_memory() if cuda else batch

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch") as pool:
        pending = deque(pool.submit(load, indices) for indices in batches[:depth])
        for indices in batches[depth:] + [None] * min(depth, len(batches)):
            batch = pending.popleft().result()
            if indices is not None:
                pending.append(pool.submit(load, indices))
            yield batch.to(device, non_blocking=cuda)


def train_loop(
    data: TrainingSet,
    step: StepFn,
    steps: int,
    batch_size: int,
    seed: int,
    device: torch.device,
    resumable: Resumable | None = None,
    progress: StepReport | None = None,
) -> TrainingResult:
    """Run ``steps`` steps of ``step`` over seeded batches of ``data``; return the loss curves.

    With ``resumable``, a partial state saved by an earlier, interrupted run of the same training
    is restored first and the loop goes on from its step. ``progress`` hears of every step.
    """
    every = curve_every(steps)
    result = TrainingResult(every=every, steps=steps)
    window: dict[str, list[float]] = {}
    saved = resumable.store.load() if resumable is not None else None
    if resumable is not None and saved is not None and saved.get("steps") == steps:
        resumable.restore(saved["method"])
        result.resumed_from = saved["step"]
        result.curves, window = saved["curves"], saved["window"]
    batches = batch_order(len(data), batch_size, steps, seed)
    start = result.resumed_from
    for index, batch in enumerate(prefetched(data, batches[start:], device), start=start):
        terms = step(index, batch)
        for name, value in terms.items():
            if not math.isfinite(value):
                raise DivergenceError(f"training loss term {name!r} became {value} at step {index}")
            window.setdefault(name, []).append(value)
        done = index + 1
        if progress is not None:
            progress(done, steps, terms)
        if done % every == 0 or done == steps:
            for name, values in window.items():
                result.curves.setdefault(name, []).append(sum(values) / len(values))
            window = {}
        if resumable and resumable.every and done % resumable.every == 0 and done < steps:
            state = {"step": done, "steps": steps, "curves": result.curves, "window": window}
            resumable.store.save({**state, "method": resumable.state()})
    return result


class TrainedMethod(Protocol):
    """A trained method as far as `train_networks` goes: its name, settings and context."""

    name: ClassVar[str]

    @property
    def config(self) -> TrainingConfig: ...

    @property
    def context(self) -> MethodContext: ...


def train_networks(
    method: TrainedMethod,
    data: PrepareData,
    model: nn.Module,
    parameters: Iterable[nn.Parameter],
    losses: StepLosses,
    schedule: Schedule | None = None,
) -> dict[str, list[float]]:
    """Train ``parameters`` of ``model`` on ``data.training`` with Adam at the method's ``lr``
    (set each step by ``schedule`` when given), one `descend` on the batch means of ``losses``
    a step; return the loss curves. One skeleton for the methods with one optimiser, so that
    their batch order, their random draws (one generator seeded with the context's seed, in
    the order ``losses`` draws) and their train and eval modes cannot drift apart."""
    config, context = method.config, method.context
    if data.training is None:
        raise ValueError(
            f"{method.name} needs training content images (the suite's training split)"
        )
    optimizer = torch.optim.Adam(parameters, lr=config.lr)
    generator = torch.Generator().manual_seed(context.seed)
    model.train()

    def step(index: int, content: torch.Tensor) -> dict[str, float]:
        if schedule is not None:
            schedule(optimizer, index)
        terms = losses(content, generator)
        return descend(optimizer, {term: value.mean() for term, value in terms.items()})

    result = train_loop(
        data.training,
        step,
        config.steps,
        config.batch_size,
        context.seed,
        context.device,
        progress=data.progress,
    )
    model.eval()
    return result.curves

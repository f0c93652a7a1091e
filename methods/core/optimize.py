"""The image-optimisation loop behind the optimisation-based methods (Gatys and its variants).

The loop optimises a batch of images against a per-image loss, records the loss at every step,
and stops with `DivergenceError` the moment a loss is not finite, so a diverging cell fails with
a reason instead of producing a black image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from pydantic import Field

from stylebench.methods.base import MAX_OPTIMIZATION_STEPS, MethodConfig
from stylebench.methods.core.encoders import IMAGENET_MEAN, Execution, Precision
from stylebench.methods.core.lbfgs import BatchLBFGS

Optimizer = Literal["lbfgs", "adam"]
#: ``noise``: uniform in [0, 1]; ``doodle_noise``: uniform in [16, 240] / 255 (neural-doodle's
#: ``--seed noise``); ``mean``: ImageNet mean colour plus tiny noise (jcjohnson/neural-style's
#: ``-init random``); ``content``: the content image.
Init = Literal["content", "noise", "doodle_noise", "mean"]
Size = tuple[int, int]


def phase_sizes(size: Size, phases: int, min_size: int = 1) -> list[Size]:
    """Image sizes of each phase, coarsest first; the last is ``size`` itself."""
    if phases < 1:
        raise ValueError("phases must be at least 1")
    sizes = [
        (max(1, round(size[0] / 2**k)), max(1, round(size[1] / 2**k)))
        for k in range(phases - 1, -1, -1)
    ]
    if min(sizes[0]) < min_size:
        raise ValueError(
            f"{phases} phases make the coarsest image {sizes[0][0]}x{sizes[0][1]} px, smaller "
            f"than the {min_size} px this method needs; use fewer phases or larger images"
        )
    return sizes


class OptimizationConfig(MethodConfig):
    """Settings every image-optimisation method shares (defaults: Gatys' paper preset)."""

    init: Init = "noise"
    optimizer: Optimizer = "lbfgs"
    steps: int = Field(
        500, gt=0, le=MAX_OPTIMIZATION_STEPS, description="loss evaluations per phase"
    )
    lr: float = Field(1.0, gt=0)
    lbfgs_history: int = Field(100, ge=1, description="L-BFGS curvature pairs kept per image")
    clamp_each_eval: bool = Field(
        False, description="clamp the images to [0, 1] before every loss evaluation"
    )
    phases: int = Field(1, ge=1, le=6, description="coarse-to-fine phases; 1 = full size only")
    channels_last: bool = Field(False, description="NHWC images and VGG weights (GPU speed)")
    precision: Precision = Field(
        "float32", description="bfloat16: VGG under bf16 autocast; Grams and losses float32"
    )
    compile: bool = Field(False, description="torch.compile the VGG trunk")
    exact_batches: bool = Field(
        True, description="layers that round differently in a batch run image by image"
    )
    packed_weights: bool = Field(
        True, description="CPU float32: VGG weights packed once for oneDNN on maps <= 16x16"
    )

    def min_size(self) -> int:
        """The smallest image side the loss works at (coarse phases included)."""
        return 1

    def check_image_size(self, size: int) -> None:
        phase_sizes((size, size), self.phases, self.min_size())

    def execution(self) -> Execution:
        """How the loss network runs (`Execution`): speed settings, same loss."""
        return Execution(
            self.channels_last,
            self.precision,
            self.compile,
            self.exact_batches,
            self.packed_weights,
        )


def initial_images(init: Init, content: torch.Tensor, seeds: Sequence[int]) -> torch.Tensor:
    """The starting point of the optimisation; image i depends only on ``seeds[i]``."""
    if init == "content":
        return content.clone()
    images = []
    for seed in seeds:
        generator = torch.Generator().manual_seed(seed)
        shape = content.shape[1:]
        if init == "noise":
            images.append(torch.rand(shape, generator=generator))
        elif init == "doodle_noise":
            images.append((16 + 224 * torch.rand(shape, generator=generator)) / 255)
        else:
            mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
            images.append(mean + 0.001 / 256 * torch.randn(shape, generator=generator))
    return torch.stack(images).to(content.device, content.dtype)


class DivergenceError(RuntimeError):
    """The loss became NaN or infinite during optimisation."""


@dataclass
class OptimizationResult:
    """The optimised images (clamped to [0, 1]) and the loss curves, one value per step."""

    images: torch.Tensor
    curves: dict[str, list[list[float]]] = field(default_factory=dict)


LossFn = Callable[[torch.Tensor], dict[str, torch.Tensor]]


def optimize_images(
    init: torch.Tensor,
    loss_fn: LossFn,
    steps: int,
    optimizer: Optimizer = "lbfgs",
    lr: float = 1.0,
    lbfgs_history: int = 100,
    clamp_each_eval: bool = False,
) -> OptimizationResult:
    """Minimise ``loss_fn(images)["total"].sum()`` over the pixels of ``init``.

    ``loss_fn`` returns named per-image loss terms (each ``[B]``), one of them ``total``. The sum
    over the batch keeps the pairs independent: each image's gradient is that of its own loss.
    Both optimisers keep per-image state (Adam is element-wise; `BatchLBFGS` keeps one history
    and step size per image), so a batch gives each image the result it would get alone, up to
    float rounding. With L-BFGS, ``steps`` counts loss evaluations, as jcjohnson/neural-style
    and the PyTorch tutorial do, and it never stops early.

    ``clamp_each_eval`` clamps the images to [0, 1] in place before every evaluation, as the
    PyTorch tutorial's closure does: the loss is then always that of valid pixels, while
    L-BFGS's curvature pairs still take the step it made (the tutorial's ``torch.optim.LBFGS``
    does not see the clamp either). Otherwise only the returned images are clamped.
    """
    images = init.detach().clone().requires_grad_(True)
    curves: dict[str, list[list[float]]] = {}

    def evaluate() -> torch.Tensor:
        if clamp_each_eval:
            with torch.no_grad():
                images.clamp_(0, 1)
        terms = loss_fn(images)
        total = terms["total"]
        if not torch.isfinite(total).all():
            raise DivergenceError(
                f"loss became {total.detach().tolist()} at step {len(curves.get('total', []))}"
                "; lower the learning rate or the loss weights"
            )
        # One device-to-host copy per step for every term (not one per term).
        values = torch.stack([value.detach() for value in terms.values()]).cpu().tolist()
        for name, value in zip(terms, values, strict=True):
            curves.setdefault(name, []).append(value)
        return total.sum()

    if optimizer == "lbfgs":

        def closure() -> torch.Tensor:
            images.grad = None
            loss = evaluate()
            loss.backward()
            return loss

        BatchLBFGS(images, lr=lr, history_size=lbfgs_history).run(closure, max_eval=steps)
    elif optimizer == "adam":
        opt = torch.optim.Adam([images], lr=lr)
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            loss = evaluate()
            loss.backward()
            opt.step()
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}; use 'lbfgs' or 'adam'")
    per_image = {
        name: [list(step) for step in zip(*values, strict=True)] for name, values in curves.items()
    }
    return OptimizationResult(images=images.detach().clamp(0, 1), curves=per_image)

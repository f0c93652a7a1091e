"""The image-optimisation loop behind the optimisation-based methods (Gatys and its variants).

The loop optimises a batch of images against a per-image loss, records the loss at every step,
and stops with `DivergenceError` the moment a loss is not finite, so a diverging cell fails with
a reason instead of producing a black image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch

Optimizer = Literal["lbfgs", "adam"]


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
) -> OptimizationResult:
    """Minimise ``loss_fn(images)["total"].sum()`` over the pixels of ``init``.

    ``loss_fn`` returns named per-image loss terms (each ``[B]``), one of them ``total``. The sum
    over the batch keeps the pairs independent: each image's gradient is that of its own loss.
    With L-BFGS, ``steps`` counts loss evaluations, as jcjohnson/neural-style and the PyTorch
    tutorial do; tolerances are off so it never stops early.
    """
    images = init.detach().clone().requires_grad_(True)
    curves: dict[str, list[list[float]]] = {}

    def evaluate() -> torch.Tensor:
        terms = loss_fn(images)
        total = terms["total"]
        if not torch.isfinite(total).all():
            raise DivergenceError(
                f"loss became {total.detach().tolist()} at step {len(curves.get('total', []))}"
                "; lower the learning rate or the loss weights"
            )
        for name, value in terms.items():
            curves.setdefault(name, []).append(value.detach().cpu().tolist())
        return total.sum()

    if optimizer == "lbfgs":
        opt = torch.optim.LBFGS(
            [images],
            lr=lr,
            max_iter=steps,
            max_eval=steps,
            history_size=lbfgs_history,
            tolerance_grad=-1,
            tolerance_change=-1,
        )

        def closure() -> torch.Tensor:
            opt.zero_grad(set_to_none=True)
            loss = evaluate()
            loss.backward()
            return loss

        opt.step(closure)
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

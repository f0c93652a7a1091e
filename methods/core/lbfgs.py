"""L-BFGS with one independent state per image, so a batch optimises exactly like its images alone.

`torch.optim.LBFGS` treats all parameters as one vector: its step size, curvature pairs and
two-loop recursion mix every image of a batch, so image 1's result depends on image 2. Here each
image keeps its own history, its own step size and its own scalars (every dot product is taken
per image), while the loss and gradient of the whole batch come from one forward/backward pass.

The update follows `torch.optim.LBFGS` without a line search (what jcjohnson/neural-style and
the PyTorch tutorial use): the first step is ``lr * min(1, 1/|g|_1)``, later steps ``lr``, and a
curvature pair is kept only when ``y.s > 1e-10``. Since every kept pair has positive curvature,
the direction is always a descent direction, so the only stopping rule is the evaluation budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from stylebench.methods.core.losses import per_image_sum

#: A closure: evaluates the loss at the current images and leaves per-image gradients in .grad.
Closure = Callable[[], torch.Tensor]

CURVATURE_EPS = 1e-10


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image dot products of two [B, N] tensors, summed in an order fixed per image."""
    return per_image_sum(a * b)


@dataclass
class _History:
    """Curvature pairs in slots shared by the batch; ``rho[slot, b]`` is 0 where image b has none.

    Images keep or skip pairs independently (``y.s`` too small), so a slot may hold a pair for
    some images only. A pair with ``rho = 0`` contributes nothing to the two-loop recursion, so
    every image's recursion runs over exactly its own last ``size`` pairs, in its own order.
    """

    size: int
    steps: list[torch.Tensor] = field(default_factory=list)
    grads: list[torch.Tensor] = field(default_factory=list)
    rho: torch.Tensor | None = None

    def push(self, s: torch.Tensor, y: torch.Tensor, ys: torch.Tensor) -> None:
        keep = ys > CURVATURE_EPS
        if not bool(keep.any()):
            return
        new_rho = torch.where(keep, 1.0 / torch.where(keep, ys, 1.0), 0.0)
        if self.rho is None:
            self.rho = new_rho[None]
        else:
            held = self.rho != 0
            full = torch.nonzero(keep & (held.sum(dim=0) >= self.size)).flatten()
            oldest = held.int().argmax(dim=0)
            self.rho[oldest[full], full] = 0.0
            self.rho = torch.cat([self.rho, new_rho[None]])
        self.steps.append(s)
        self.grads.append(y)
        alive = self.rho.any(dim=1).tolist()
        if not all(alive):
            self.steps = [t for t, a in zip(self.steps, alive, strict=True) if a]
            self.grads = [t for t, a in zip(self.grads, alive, strict=True) if a]
            self.rho = self.rho[torch.tensor(alive, device=self.rho.device)]

    def direction(self, grad: torch.Tensor, h_diag: torch.Tensor) -> torch.Tensor:
        """The two-loop recursion: ``-H g`` per image."""
        q = grad.neg()
        alphas = []
        rhos = list(self.rho) if self.rho is not None else []
        for s, y, rho in zip(
            reversed(self.steps), reversed(self.grads), reversed(rhos), strict=True
        ):
            alpha = _dot(s, q) * rho
            q = q - alpha[:, None] * y
            alphas.append(alpha)
        r = q * h_diag[:, None]
        for s, y, rho, alpha in zip(self.steps, self.grads, rhos, reversed(alphas), strict=True):
            beta = _dot(y, r) * rho
            r = r + (alpha - beta)[:, None] * s
        return r


class BatchLBFGS:
    """L-BFGS over a [B, ...] tensor of images, one independent optimiser per image."""

    def __init__(self, images: torch.Tensor, lr: float = 1.0, history_size: int = 100) -> None:
        if history_size < 1:
            raise ValueError("history_size must be at least 1")
        self.images = images
        self.lr = lr
        self.history_size = history_size

    def run(self, closure: Closure, max_eval: int) -> None:
        """Evaluate ``closure`` exactly ``max_eval`` times, updating the images in between.

        As in ``torch.optim.LBFGS(max_iter=max_eval, max_eval=max_eval)``, the last evaluation
        is of the final images, so a loss curve ends with the loss of the returned result.
        """
        images = self.images
        batch = images.shape[0]
        closure()
        grad = images.grad.detach().reshape(batch, -1).clone()
        history = _History(self.history_size)
        h_diag = grad.new_ones(batch)
        direction = step = prev_grad = None
        for iteration in range(1, max_eval):
            if iteration == 1:
                direction = grad.neg()
                step = self.lr * torch.clamp(1.0 / per_image_sum(grad.abs()), max=1.0)
            else:
                y = grad - prev_grad
                s = direction * step[:, None]
                ys = _dot(y, s)
                history.push(s, y, ys)
                kept = ys > CURVATURE_EPS
                h_diag = torch.where(kept, ys / torch.where(kept, _dot(y, y), 1.0), h_diag)
                direction = history.direction(grad, h_diag)
                step = torch.full_like(step, self.lr)
            prev_grad = grad
            with torch.no_grad():
                images.add_((direction * step[:, None]).view_as(images))
            closure()
            grad = images.grad.detach().reshape(batch, -1).clone()

"""Coarse-to-fine optimisation over an image pyramid, shared by the optimisation methods.

Phase ``i`` of ``n`` works at scale ``1 / 2^(n-1-i)`` (neural-doodle's schedule) and starts from
the previous phase's result, upsampled. Coarse phases are cheap and settle the large structures
that a full-size optimisation from noise finds slowly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from stylebench.methods.core.optimize import (
    LossFn,
    OptimizationConfig,
    OptimizationResult,
    Size,
    initial_images,
    optimize_images,
    phase_sizes,
)


def resize(images: torch.Tensor, size: Size) -> torch.Tensor:
    """Bilinear resize of [B, C, H, W] images (antialiased when shrinking)."""
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    shrink = size[0] < images.shape[-2] or size[1] < images.shape[-1]
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=shrink)


def coarse_to_fine(
    size: Size,
    phases: int,
    init: Callable[[Size], torch.Tensor],
    run_phase: Callable[[torch.Tensor], OptimizationResult],
    min_size: int = 1,
) -> OptimizationResult:
    """Optimise phase by phase; ``run_phase(start)`` optimises at ``start``'s size.

    ``init(size)`` gives the first phase's starting images. Curves of all phases are joined, so
    a curve has one value per loss evaluation of the whole schedule.
    """
    sizes = phase_sizes(size, phases, min_size)
    start = init(sizes[0])
    curves: dict[str, list[list[float]]] = {}
    result = OptimizationResult(images=start)
    for i, phase_size in enumerate(sizes):
        if i:
            start = resize(result.images, phase_size).clamp(0, 1)
        result = run_phase(start)
        for name, per_image in result.curves.items():
            joined = curves.setdefault(name, [[] for _ in per_image])
            for values, more in zip(joined, per_image, strict=True):
                values.extend(more)
    return OptimizationResult(images=result.images, curves=curves)


def optimize_coarse_to_fine(
    config: OptimizationConfig,
    content: torch.Tensor,
    seeds: Sequence[int],
    loss_at: Callable[[Size], LossFn],
) -> OptimizationResult:
    """The optimisation methods' stylize: ``config.phases`` phases of ``config.steps`` each.

    ``loss_at(size)`` builds the loss against targets computed at that phase's size (the method
    resizes its inputs with `resize`); the first phase starts from ``config.init``.
    """

    def init(size: Size) -> torch.Tensor:
        return initial_images(config.init, resize(content, size), seeds)

    def run_phase(start: torch.Tensor) -> OptimizationResult:
        size = (start.shape[-2], start.shape[-1])
        return optimize_images(
            start,
            loss_at(size),
            steps=config.steps,
            optimizer=config.optimizer,
            lr=config.lr,
            lbfgs_history=config.lbfgs_history,
            clamp_each_eval=config.clamp_each_eval,
        )

    size = (content.shape[-2], content.shape[-1])
    return coarse_to_fine(size, config.phases, init, run_phase, config.min_size())

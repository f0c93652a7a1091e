"""Seeded bootstrap intervals of FID, KID and ArtFID over the images.

Per-image metrics have a bootstrap interval of their mean; a set metric is one number per
method, so its uncertainty comes from resampling the images it was computed from: each of
`RESAMPLES` seeded resamples draws the outputs (with their per-image LPIPS, for ArtFID) and the
reference images with replacement, together, and computes the metric again exactly as the run
did. The interval is the value ± 1.96 standard deviations of those resampled values, so it is
centred on the number the run reports.

Why not the percentiles of the resampled values: FID is biased upwards under resampling (a
resample repeats images, which shrinks its covariance's rank and spreads its features less, so
the distance to the other set grows; KID's kernel sum counts a repeated image against itself).
The resampled values sit above the estimate, and a percentile interval can miss the estimate
altogether. Their spread is still a fair measure of how much the number moves with the images
drawn; their mean is recorded (``bootstrap_mean``) so the bias can be seen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from stylebench.metrics.distances import fid, kid_kernels, kid_of_kernels

#: Resamples per interval, and the normal quantile of a two-sided 95% interval.
RESAMPLES = 100
CONFIDENCE = 0.95
Z = 1.959964


@dataclass(frozen=True)
class Resample:
    """Which images one resample draws: rows of the outputs and of the reference set."""

    outputs: np.ndarray
    reference: np.ndarray


def resamples(n: int, n_reference: int, seed: int, count: int = RESAMPLES) -> list[Resample]:
    """``count`` seeded resamples of both sets, with replacement, each its own size."""
    rng = np.random.default_rng(seed)
    return [
        Resample(rng.integers(0, n, n), rng.integers(0, n_reference, n_reference))
        for _ in range(count)
    ]


def interval(value: float, draws: list[float], seed: int) -> dict:
    """The record's interval of ``value`` from its resampled values."""
    finite = np.array([v for v in draws if np.isfinite(v)])
    sd = float(finite.std(ddof=1)) if len(finite) > 1 else float("nan")
    return {
        "low": value - Z * sd,
        "high": value + Z * sd,
        "confidence": CONFIDENCE,
        "resamples": len(finite),
        "bootstrap_mean": float(finite.mean()) if len(finite) else float("nan"),
        "seed": seed,
        "method": "value ± 1.96 sd of seeded resamples of outputs and reference images "
        "(with replacement, together); resampled FID/KID are biased upwards, so the interval "
        "uses their spread, not their percentiles",
    }


def fid_draws(outputs: np.ndarray, reference: np.ndarray, draws: list[Resample]) -> list[float]:
    return [fid(outputs[r.outputs], reference[r.reference]) for r in draws]


def kid_draws(
    outputs: np.ndarray,
    reference: np.ndarray,
    draws: list[Resample],
    seed: int,
    subsets: int,
    subset_size: int,
) -> list[float]:
    """KID of each resample, its subsets drawn as the run's were (same seed, same size)."""
    kernels = kid_kernels(outputs, reference)
    return [
        kid_of_kernels(kernels, r.outputs, r.reference, seed, subsets, subset_size) for r in draws
    ]


def artfid_draws(
    fids: list[float], lpips: np.ndarray, draws: list[Resample], combine: Callable
) -> list[float]:
    """ArtFID of each resample: its FID with the mean LPIPS of the same resampled outputs."""
    return [combine(float(lpips[r.outputs].mean()), f) for r, f in zip(draws, fids, strict=True)]

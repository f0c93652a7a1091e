"""Uncertainty of per-image metrics: seeded percentile-bootstrap confidence intervals of the mean.

Pure numpy (reports never import torch), so reports, comparisons and nightly regression checks
all compute intervals the same way from a record's per-cell scores. Images are the resampling
unit: the interval says how much the mean would move with another draw of images like these.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 2000
SEED = 0
_CHUNK = 250


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` values with its bootstrap interval (``None`` bounds when n < 2)."""

    mean: float
    low: float | None
    high: float | None
    n: int


def finite(values: Iterable[float | None]) -> np.ndarray:
    """The finite values, as float64 (missing and NaN scores are left out)."""
    kept = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return np.asarray(kept, dtype=np.float64)


def bootstrap_ci(
    values: Iterable[float | None],
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Interval:
    """Mean of ``values`` and its percentile-bootstrap ``confidence`` interval (seeded)."""
    x = finite(values)
    if len(x) == 0:
        raise ValueError("no finite values to summarise")
    if len(x) == 1:
        return Interval(float(x[0]), None, None, 1)
    rng = np.random.default_rng(seed)
    means = np.concatenate(
        [
            x[rng.integers(0, len(x), size=(min(_CHUNK, resamples - start), len(x)))].mean(axis=1)
            for start in range(0, resamples, _CHUNK)
        ]
    )
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return Interval(float(x.mean()), float(low), float(high), len(x))

"""Metric trends over nightly runs, with detected change points.

A change point is where a series' mean shifts and stays shifted: found with PELT (``ruptures``,
least-squares cost) and a penalty of ``PENALTY x 2 sigma^2 log n`` per change (three times
BIC's, so that pure noise rarely shows a change: about 2% of 30-night noise series, while a
4-sigma step is found about 95% of the time; `tests/reports/test_trend.py`), where sigma is the
night-to-night noise estimated robustly from the median absolute deviation of first differences
(a step moves one difference, not the median). Each level must last ``MIN_SEGMENT`` nights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import ruptures

#: Minimum nights on each side of a change point.
MIN_SEGMENT = 2
#: Multiple of the BIC penalty.
PENALTY = 3.0


def noise_sigma(values: np.ndarray) -> float:
    """Night-to-night standard deviation, robust to steps: MAD of first differences / sqrt 2."""
    diffs = np.diff(values)
    if len(diffs) == 0:
        return 0.0
    mad = float(np.median(np.abs(diffs - np.median(diffs))))
    return 1.4826 * mad / math.sqrt(2)


def change_points(values: Sequence[float]) -> list[int]:
    """Indices where a new level starts (the first night after the shift); ``values`` finite."""
    x = np.asarray(values, dtype=np.float64)
    if len(x) < 2 * MIN_SEGMENT:
        return []
    sigma = noise_sigma(x)
    if sigma == 0:
        sigma = 1e-3 * max(float(np.abs(x).max()), 1e-12)
    penalty = PENALTY * 2 * sigma**2 * math.log(len(x))
    ends = ruptures.Pelt(model="l2", min_size=MIN_SEGMENT, jump=1).fit(x).predict(pen=penalty)
    return [end for end in ends if end < len(x)]

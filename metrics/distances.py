"""Distances between two sets of image features: FID, KID and FID-infinity (pure numpy).

Definitions follow the references exactly, so our numbers can be checked against them:

- FID (Heusel et al. 2017): ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2), with sample
  means and unbiased covariances (``np.cov``), as TTUR, pytorch-fid, torch-fidelity and clean-fid
  compute it. tr((S1 S2)^1/2) is computed exactly rather than through a matrix square root: it is
  the sum of the square roots of the eigenvalues of S1 S2, which equal those of the symmetric
  matrix S1^1/2 S2 S1^1/2 or, when a set is smaller than the feature dimension (covariances of
  rank < N), the squared singular values of X1c X2c^T / sqrt((n1-1)(n2-1)). Both are stable where
  ``scipy.linalg.sqrtm`` of a singular product is not.
- KID (Binkowski et al. 2018): unbiased MMD^2 with the kernel (x.y / d + 1)^3, averaged over
  random subsets of equal size drawn without replacement. The sampler is torch-fidelity's
  (``RandomState(seed).choice`` for set 1, then set 2, per subset), seeded, so the same seed gives
  the same subsets there and here; mean and (population) standard deviation over subsets.
- FID-infinity (Chong & Forsyth, CVPR 2020): FID of seeded random subsets of the first set at
  ``num_points`` sizes evenly spaced from ``start`` to N, against the whole second set, fitted
  linearly in 1/N and extrapolated to 1/N = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: KID defaults (torch-fidelity's and clean-fid's): 100 subsets of at most 1,000 images.
KID_SUBSETS = 100
KID_MAX_SUBSET = 1000
#: FID-infinity defaults (Chong & Forsyth; ArtFID): 15 points from 5,000 images up.
FID_INF_POINTS = 15
FID_INF_START = 5000


@dataclass(frozen=True)
class GaussianStats:
    """Features of one set, centred, with their mean: all FID needs, for any set size."""

    mean: np.ndarray
    centred: np.ndarray

    @classmethod
    def of(cls, features: np.ndarray) -> GaussianStats:
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or len(features) < 2:
            raise ValueError(f"need at least 2 feature vectors, got shape {features.shape}")
        mean = features.mean(axis=0)
        return cls(mean=mean, centred=features - mean)

    @property
    def n(self) -> int:
        return len(self.centred)

    def covariance(self) -> np.ndarray:
        return self.centred.T @ self.centred / (self.n - 1)

    def trace(self) -> float:
        return float(np.sum(self.centred**2) / (self.n - 1))


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def trace_sqrt_product(a: GaussianStats, b: GaussianStats) -> float:
    """tr((S_a S_b)^1/2), exactly, choosing the cheaper of two equivalent forms."""
    dim = a.centred.shape[1]
    if min(a.n, b.n) <= dim:
        cross = a.centred @ b.centred.T / np.sqrt((a.n - 1) * (b.n - 1))
        return float(np.linalg.svd(cross, compute_uv=False).sum())
    root = _psd_sqrt(a.covariance())
    inner = root @ b.covariance() @ root
    return float(np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0, None)).sum())


def frechet_distance(a: GaussianStats, b: GaussianStats) -> float:
    """FID between two sets given their `GaussianStats`."""
    diff = a.mean - b.mean
    return float(diff @ diff + a.trace() + b.trace() - 2 * trace_sqrt_product(a, b))


def fid(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID between two feature sets ([N, D] and [M, D])."""
    return frechet_distance(GaussianStats.of(features_a), GaussianStats.of(features_b))


def _unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    d, m = x.shape[1], len(x)
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    off_diagonal = k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)
    return float(off_diagonal / (m * (m - 1)) - 2 * k_xy.sum() / (m * m))


def kid_subset_size(n_a: int, n_b: int, largest: int = KID_MAX_SUBSET) -> int:
    """The subset size KID uses: the default 1,000, but never more than the smaller set."""
    return min(largest, n_a, n_b)


def kid(
    features_a: np.ndarray,
    features_b: np.ndarray,
    seed: int,
    subsets: int = KID_SUBSETS,
    subset_size: int | None = None,
) -> tuple[float, float]:
    """KID as (mean, std) over ``subsets`` seeded subsets (see the module docstring)."""
    a = np.asarray(features_a, dtype=np.float64)
    b = np.asarray(features_b, dtype=np.float64)
    size = subset_size if subset_size is not None else kid_subset_size(len(a), len(b))
    if not 2 <= size <= min(len(a), len(b)):
        raise ValueError(
            f"KID subset size {size} must be at least 2 and at most the smaller set "
            f"({len(a)} and {len(b)} images)"
        )
    rng = np.random.RandomState(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        x = a[rng.choice(len(a), size, replace=False)]
        y = b[rng.choice(len(b), size, replace=False)]
        values[i] = _unbiased_mmd2(x, y)
    return float(values.mean()), float(values.std())


@dataclass(frozen=True)
class FidInfinity:
    """The extrapolated FID and the points it was fitted on."""

    value: float
    sizes: list[int]
    fids: list[float]
    slope: float


def fid_infinity_sizes(
    n: int, points: int = FID_INF_POINTS, start: int = FID_INF_START
) -> list[int]:
    """Subset sizes: ``points`` sizes evenly spaced from ``start`` to ``n`` (Chong & Forsyth).

    With fewer than ``start`` images the range starts at half the set instead (never below 2),
    rather than collapsing to a single size as ArtFID's code does; callers record the sizes.
    """
    first = start if n > start else max(2, n // 2)
    return [int(s) for s in np.linspace(first, n, points).astype(int)]


def fid_infinity(
    features_a: np.ndarray,
    features_b: np.ndarray,
    seed: int,
    points: int = FID_INF_POINTS,
    start: int = FID_INF_START,
) -> FidInfinity:
    """FID-infinity of set A (subsampled) against the whole of set B."""
    a = np.asarray(features_a, dtype=np.float64)
    sizes = fid_infinity_sizes(len(a), points, start)
    if len(set(sizes)) < 2:
        raise ValueError(f"FID-infinity needs at least 3 images to fit a line (have {len(a)})")
    reference = GaussianStats.of(features_b)
    rng = np.random.default_rng(seed)
    fids = [
        frechet_distance(GaussianStats.of(a[rng.permutation(len(a))[:size]]), reference)
        for size in sizes
    ]
    slope, intercept = np.polyfit(1.0 / np.asarray(sizes, dtype=np.float64), fids, deg=1)
    return FidInfinity(value=float(intercept), sizes=sizes, fids=fids, slope=float(slope))


def kid_kernels(features_a: np.ndarray, features_b: np.ndarray) -> tuple[np.ndarray, ...]:
    """KID's kernel between every pair of images, (a, a), (b, b) and (a, b), computed once so
    that KID of any resample of the two sets is index arithmetic (`kid_of_kernels`)."""
    a = np.asarray(features_a, dtype=np.float64)
    b = np.asarray(features_b, dtype=np.float64)
    d = a.shape[1]
    return (a @ a.T / d + 1) ** 3, (b @ b.T / d + 1) ** 3, (a @ b.T / d + 1) ** 3


def kid_of_kernels(
    kernels: tuple[np.ndarray, ...],
    rows_a: np.ndarray,
    rows_b: np.ndarray,
    seed: int,
    subsets: int,
    subset_size: int,
) -> float:
    """KID (the mean over subsets, drawn as `kid` draws them) of the sets whose images are the
    rows ``rows_a`` and ``rows_b`` of the `kid_kernels` sets: a resample with repeats is fine."""
    k_aa, k_bb, k_ab = kernels
    rng = np.random.RandomState(seed)
    m = subset_size
    values = np.empty(subsets)
    for i in range(subsets):
        x = rows_a[rng.choice(len(rows_a), m, replace=False)]
        y = rows_b[rng.choice(len(rows_b), m, replace=False)]
        xx, yy = k_aa[np.ix_(x, x)], k_bb[np.ix_(y, y)]
        off_diagonal = xx.sum() - np.trace(xx) + yy.sum() - np.trace(yy)
        values[i] = off_diagonal / (m * (m - 1)) - 2 * k_ab[np.ix_(x, y)].sum() / (m * m)
    return float(values.mean())

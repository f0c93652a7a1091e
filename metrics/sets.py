"""Per-set metrics: a method's whole output set against the suite's reference set.

FID and KID compare Inception features of the outputs with those of the reference set (the
suite's ``reference`` images, else its style images); FID-infinity extrapolates FID to infinitely
many outputs; ArtFID (Wright & Ommer 2022) combines content preservation and style fidelity as
(1 + mean LPIPS(content, output)) x (1 + FID(outputs, reference)). Every score carries its N
(outputs) and N of the reference set, the settings that produced it, and warnings where N is too
small for the number to mean much (FID is biased, and its covariance singular, below 2,048).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any, ClassVar, TypeVar

import numpy as np

from stylebench.methods.core.weights import WeightsIdentity, WeightsSource
from stylebench.metrics import art_inception, fid_features
from stylebench.metrics.art_inception import ArtInceptionFeatures
from stylebench.metrics.base import MetricContext, MetricInfo
from stylebench.metrics.distances import (
    FID_INF_POINTS,
    FID_INF_START,
    KID_SUBSETS,
    FidInfinity,
    fid,
    fid_infinity,
    kid,
    kid_subset_size,
)
from stylebench.metrics.embedding_networks import CSD_VIT_L, shared_embedder
from stylebench.metrics.fid_features import InceptionFeatures, resolve_weights
from stylebench.metrics.reference_stats import ReferenceSet, reference_features
from stylebench.metrics.set_intervals import (
    Resample,
    artfid_draws,
    fid_draws,
    interval,
    kid_draws,
    resamples,
)

#: Below this many images (in either set) FID is biased and its covariance rank-deficient
#: (TTUR / pytorch-fid guidance); reports flag such values.
FID_MIN_RELIABLE_N = 2048
T = TypeVar("T")

#: KID's bootstrap keeps its kernels over every pair of images in memory: up to this many per set.
KID_INTERVAL_MAX_N = 5000

#: The networks in which set metrics may pair each output with its own style image (`SetData`
#: ``pairs``): the art-Inception's views and CSD's style embedding.
PAIR_VIEWS = (*art_inception.VIEWS, CSD_VIT_L.name)


@dataclass
class SetScore:
    """One set metric's value for one method, with its N and how it was computed."""

    value: float | None
    n: int
    n_reference: int
    std: float | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    #: Why the value must not be compared with another run's (None: it may be); comparisons
    #: read this instead of parsing warnings.
    unreliable: str | None = None
    details: dict = field(default_factory=dict)
    #: The seeded bootstrap interval over the images (`metrics.set_intervals`), where computed.
    interval: dict | None = None

    def as_dict(self) -> dict:
        return asdict(self)


class SetData:
    """Features of one method's outputs and of the reference set; shared results are computed
    once (FID feeds both ``fid`` and ``artfid``).

    ``pairs``: per pairing network (`PAIR_VIEWS`), [N, 2, D] features of each output and of its
    own style image, for metrics that pair them (the StyleID protocol's, art-fid's, CSD's CSLS);
    empty where not extracted (a domain method's outputs have no style image).
    """

    def __init__(
        self,
        outputs: np.ndarray,
        reference: np.ndarray,
        image_scores: Mapping[str, Sequence[float]],
        seed: int,
        pairs: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        self.outputs = outputs
        self.reference = reference
        self.image_scores = image_scores
        self.seed = seed
        self.pairs = dict(pairs or {})
        self._shared: dict[str, Any] = {}

    def shared(self, key: str, compute: Callable[[], T]) -> T:
        """A result several metrics use (e.g. one FID behind a FID and an ArtFID), computed once."""
        if key not in self._shared:
            self._shared[key] = compute()
        return self._shared[key]

    @property
    def n(self) -> int:
        return len(self.outputs)

    @property
    def n_reference(self) -> int:
        return len(self.reference)

    @cached_property
    def fid(self) -> float:
        return fid(self.outputs, self.reference)

    @cached_property
    def draws(self) -> list[Resample]:
        """The seeded resamples of both sets that every metric's interval uses."""
        return resamples(self.n, self.n_reference, self.seed)

    @cached_property
    def fid_draws(self) -> list[float]:
        return fid_draws(self.outputs, self.reference, self.draws)

    @cached_property
    def fid_interval(self) -> dict:
        return interval(self.fid, self.fid_draws, self.seed)

    @cached_property
    def fid_infinity(self) -> FidInfinity:
        return fid_infinity(self.outputs, self.reference, self.seed)

    def small_n_warnings(self) -> list[str]:
        if min(self.n, self.n_reference) >= FID_MIN_RELIABLE_N:
            return []
        return [
            f"FID on {self.n} outputs vs {self.n_reference} reference images: below "
            f"{FID_MIN_RELIABLE_N:,} images FID is biased upwards and its covariance is singular; "
            "compare only values with the same N"
        ]


class SetMetric:
    """A metric of a method's whole output set; ``score`` never raises for small inputs, it
    returns a score with ``error`` set."""

    info: ClassVar[MetricInfo]
    #: Fewest outputs the metric is defined for (a covariance needs 2; a line fit 3 sizes).
    min_outputs: ClassVar[int] = 2
    #: The network whose features it compares: the TF-Inception's (``outputs`` and
    #: ``reference`` of `SetData`) or a pairing network's (``pairs``, `PAIR_VIEWS`).
    extractor: ClassVar[str] = fid_features.NETWORK

    @classmethod
    def preflight(cls, weights: WeightsSource) -> None:
        """Set metrics need the Inception weights (raises `WeightsUnavailable` if missing)."""
        resolve_weights(weights)

    def score(self, data: SetData) -> SetScore:
        if data.n < self.min_outputs or data.n_reference < 2:
            return SetScore(
                None,
                data.n,
                data.n_reference,
                error=f"{self.info.name} needs at least {self.min_outputs} outputs and 2 "
                f"reference images (have {data.n} and {data.n_reference})",
            )
        return self.compute(data)

    def compute(self, data: SetData) -> SetScore:
        raise NotImplementedError


class FID(SetMetric):
    """How far the outputs' Inception feature distribution is from the reference set's."""

    info = MetricInfo(
        name="fid",
        higher_is_better=False,
        per="set",
        unit="",
        description="Frechet Inception distance, outputs vs reference set (pool3, TF-Inception)",
        needs=("reference",),
    )

    def compute(self, data: SetData) -> SetScore:
        return SetScore(
            data.fid, data.n, data.n_reference, warnings=data.small_n_warnings(),
            interval=data.fid_interval,
        )  # fmt: skip


class KID(SetMetric):
    """Kernel Inception distance: unbiased at any N, so the better choice for small sets."""

    info = MetricInfo(
        name="kid",
        higher_is_better=False,
        per="set",
        unit="",
        description="kernel Inception distance (mean and std over seeded subsets), outputs vs "
        "reference set",
        needs=("reference",),
    )

    def compute(self, data: SetData) -> SetScore:
        size = kid_subset_size(data.n, data.n_reference)
        mean, std = kid(data.outputs, data.reference, seed=data.seed, subset_size=size)
        details = {
            "subsets": KID_SUBSETS,
            "subset_size": size,
            "kernel": "(x.y/d + 1)^3",
            "seed": data.seed,
            "sampler": "numpy RandomState(seed).choice without replacement: outputs, then "
            "reference, per subset (torch-fidelity's order)",
        }
        score = SetScore(mean, data.n, data.n_reference, std=std, details=details)
        if max(data.n, data.n_reference) > KID_INTERVAL_MAX_N:
            score.warnings.append(
                f"no bootstrap interval: its kernels over {max(data.n, data.n_reference):,} "
                f"images would not fit in memory (computed up to {KID_INTERVAL_MAX_N:,})"
            )
            return score
        draws = kid_draws(data.outputs, data.reference, data.draws, data.seed, KID_SUBSETS, size)
        score.interval = interval(mean, draws, data.seed)
        return score


def _fid_infinity_details(result: FidInfinity, seed: int) -> dict:
    return {
        "points": FID_INF_POINTS,
        "start": FID_INF_START,
        "sizes": result.sizes,
        "fids": result.fids,
        "slope": result.slope,
        "extrapolated": result.value,
        "seed": seed,
        "fit": "least squares of FID_N against 1/N over seeded random subsets of the outputs, "
        "whole reference set; value at 1/N = 0",
    }


def _fid_infinity_unreliable(data: SetData, result: FidInfinity) -> str | None:
    """Why this extrapolation is not a number to compare (None when the protocol was met)."""
    if data.n > FID_INF_START:
        return None
    return (
        f"FID-infinity fitted on {result.sizes[0]}..{result.sizes[-1]} outputs, fewer outputs "
        f"than its protocol needs (Chong & Forsyth fit from {FID_INF_START:,})"
    )


def _fid_infinity_warnings(data: SetData, result: FidInfinity) -> list[str]:
    warnings = data.small_n_warnings()
    if data.n <= FID_INF_START:
        warnings.append(
            f"FID-infinity fitted on subsets of {result.sizes[0]}..{result.sizes[-1]} outputs; "
            f"Chong & Forsyth start at {FID_INF_START:,}, so this extrapolation is unreliable"
        )
    if result.value < 0:
        warnings.append(
            f"FID-infinity extrapolated to {result.value:.3g}, below zero, which no distance "
            "is: no value is reported"
        )
    return warnings


def _non_negative(result: FidInfinity) -> float | None:
    """The extrapolated value, or None where the line overshoots below zero (small N)."""
    return result.value if result.value >= 0 else None


class FIDInfinity(SetMetric):
    """FID extrapolated to infinitely many outputs (removes FID's dependence on N)."""

    info = MetricInfo(
        name="fid_infinity",
        higher_is_better=False,
        per="set",
        unit="",
        description="FID-infinity (Chong & Forsyth 2020): FID of seeded output subsets fitted "
        "in 1/N and extrapolated to 1/N = 0",
        needs=("reference",),
    )
    min_outputs = 3

    def compute(self, data: SetData) -> SetScore:
        result = data.fid_infinity
        return SetScore(
            _non_negative(result),
            data.n,
            data.n_reference,
            warnings=_fid_infinity_warnings(data, result),
            details=_fid_infinity_details(result, data.seed),
            unreliable=_fid_infinity_unreliable(data, result),
        )


def mean_image_score(data: SetData, name: str) -> tuple[float, int] | None:
    """The mean of a per-image metric over the outputs that have a finite value, and their
    number (None: none has one)."""
    values = [v for v in data.image_scores.get(name, ()) if v is not None and np.isfinite(v)]
    return (float(np.mean(values)), len(values)) if values else None


def artfid_value(lpips: float, fid_value: float) -> float:
    """ArtFID from its two terms: (1 + mean LPIPS) x (1 + FID)."""
    return (1 + lpips) * (1 + fid_value)


class ArtFID(SetMetric):
    """ArtFID (Wright & Ommer 2022) with plain FID: one number for content and style together."""

    info = MetricInfo(
        name="artfid",
        higher_is_better=False,
        per="set",
        unit="",
        description="ArtFID = (1 + mean LPIPS(content, output)) x (1 + FID(outputs, reference)) "
        "(Wright & Ommer 2022), plain FID",
        needs=("content", "reference"),
        requires=("lpips",),
    )

    def fid_part(self, data: SetData) -> SetScore:
        """The FID term (value, warnings, details, whether unreliable), before LPIPS."""
        return SetScore(
            data.fid, data.n, data.n_reference, warnings=data.small_n_warnings(),
            details={"fid": data.fid},
        )  # fmt: skip

    def compute(self, data: SetData) -> SetScore:
        lpips = mean_image_score(data, "lpips")
        if lpips is None:
            return SetScore(
                None, data.n, data.n_reference, error="no per-image lpips scores to average"
            )
        part = self.fid_part(data)
        part.details = {
            **part.details, "lpips_mean": lpips[0], "lpips_n": lpips[1], "lpips": "alex v0.1"
        }  # fmt: skip
        if part.value is not None:
            part.value = artfid_value(lpips[0], part.value)
            part.interval = self.interval(data, part.value)
        return part

    def interval(self, data: SetData, value: float) -> dict | None:
        """Resampled outputs carry their own LPIPS; without one per output, no interval."""
        lpips = np.array(data.image_scores.get("lpips", ()), dtype=float)
        if len(lpips) != data.n or not np.isfinite(lpips).all():
            return None
        return interval(
            value, artfid_draws(data.fid_draws, lpips, data.draws, artfid_value), data.seed
        )


class ArtFIDInfinity(ArtFID):
    """ArtFID with FID-infinity (the ArtFID code's default mode), seeded, 15 points."""

    info = MetricInfo(
        name="artfid_infinity",
        higher_is_better=False,
        per="set",
        unit="",
        description="ArtFID with FID-infinity in place of FID: (1 + mean LPIPS) x (1 + FID_inf)",
        needs=("content", "reference"),
        requires=("lpips",),
    )
    min_outputs = 3

    def interval(self, data: SetData, value: float) -> dict | None:
        """None: FID-infinity draws subsets of its own, which a resample would repeat images in."""
        return None

    def fid_part(self, data: SetData) -> SetScore:
        result = data.fid_infinity
        return SetScore(
            _non_negative(result),
            data.n,
            data.n_reference,
            warnings=_fid_infinity_warnings(data, result),
            details={
                "fid_infinity": _non_negative(result),
                **_fid_infinity_details(result, data.seed),
            },
            unreliable=_fid_infinity_unreliable(data, result),
        )


def _score(metric: SetMetric, data: SetData) -> SetScore:
    """A metric's score; a numerical failure becomes a score with its error, not an exception."""
    try:
        return metric.score(data)
    except (ValueError, np.linalg.LinAlgError) as exc:
        return SetScore(None, data.n, data.n_reference, error=f"{type(exc).__name__}: {exc}")


class SetScorer:
    """Scores output sets against a reference set on a worker (Inception loaded once, and the
    pairing networks of planned metrics that pair outputs with their style images)."""

    def __init__(self, context: MetricContext, extractors: Set[str]) -> None:
        self.features = InceptionFeatures(context.weights, context.cache, context.device)
        self.cache = context.cache / "reference-features"
        #: The pairing networks (`PAIR_VIEWS`) planned metrics pair outputs and style images in.
        self.views = [view for view in PAIR_VIEWS if view in extractors]
        art_views = set(self.views) & set(art_inception.VIEWS)
        self.art = ArtInceptionFeatures(context.weights, context.device) if art_views else None
        self.csd = (
            shared_embedder(CSD_VIT_L, context.weights, context.device)
            if CSD_VIT_L.name in self.views
            else None
        )
        self._styles: dict[tuple[str, tuple[int, int]], np.ndarray] = {}

    def pair_features(
        self, output: np.ndarray, style_key: str, style: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Per planned pairing network, [2, D] features of an 8-bit output and of its style
        image (each style image's once per worker; art-Inception views of equal size share
        them, being the same pixels)."""
        if not self.views:
            raise RuntimeError("no planned metric pairs outputs with their style images")
        outputs: dict[tuple[int, int], np.ndarray] = {}
        pairs = {}
        for view in self.views:
            if view == CSD_VIT_L.name:
                assert self.csd is not None
                key = (f"{view}:{style_key}", (0, 0))
                if key not in self._styles:
                    self._styles[key] = self._embed(style)
                pairs[view] = np.stack([self._embed(output), self._styles[key]])
                continue
            assert self.art is not None
            size = art_inception.view_size(*output.shape[:2], view)
            if size not in outputs:
                outputs[size] = self.art([output], view)[0]
            key = (style_key, art_inception.view_size(*style.shape[:2], view))
            if key not in self._styles:
                self._styles[key] = self.art([style], view)[0]
            pairs[view] = np.stack([outputs[size], self._styles[key]])
        return pairs

    def _embed(self, image: np.ndarray) -> np.ndarray:
        assert self.csd is not None
        return self.csd.pixels([image])[0].double().cpu().numpy()

    def identities(self) -> list[WeightsIdentity]:
        paired = [extractor.identity for extractor in (self.art, self.csd) if extractor]
        return [self.features.identity, *paired]

    def score(
        self,
        outputs: np.ndarray,
        reference: ReferenceSet,
        image_scores: Mapping[str, Sequence[float]],
        metrics: Sequence[SetMetric],
        seed: int,
        pairs: Mapping[str, np.ndarray] | None = None,
    ) -> tuple[dict[str, SetScore], dict]:
        """Each metric's score, and the settings shared by all of them (recorded once).
        ``outputs``: the outputs' features from `self.features`, ``pairs`` those of
        `pair_features` (a run extracts both cell by cell, as outputs appear)."""
        extractor = self.features.describe()
        reference_feats, key, hit = reference_features(
            reference, extractor, self.features, self.cache
        )
        data = SetData(outputs, reference_feats, image_scores, seed, pairs)
        scores = {metric.info.name: _score(metric, data) for metric in metrics}
        settings = {
            **extractor,
            "reference": {"n": data.n_reference, "cache_key": key, "cache_hit": hit},
            "seed": seed,
        }
        if self.art is not None:
            settings["paired"] = self.art.describe()
        if self.csd is not None:
            settings["paired_csd"] = self.csd.describe()
        return scores, settings

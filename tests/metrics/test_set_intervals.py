"""Bootstrap intervals of FID, KID and ArtFID: each resample recomputed here from the reference-
checked distances, centred on the run's value, seeded, and narrower with more images."""

from __future__ import annotations

import numpy as np
import pytest

from stylebench.metrics.distances import KID_SUBSETS, fid, kid, kid_kernels, kid_of_kernels
from stylebench.metrics.set_intervals import RESAMPLES, Z, resamples
from stylebench.metrics.sets import FID, KID, ArtFID, ArtFIDInfinity, SetData


def sets(n: int, n_reference: int, seed: int = 0) -> SetData:
    rng = np.random.default_rng(seed)
    outputs = rng.normal(size=(n, 32))
    reference = rng.normal(0.4, 1.2, size=(n_reference, 32))
    return SetData(outputs, reference, {"lpips": list(rng.uniform(0.1, 0.5, n))}, seed=3)


def test_kid_from_kernels_is_kid_when_nothing_is_resampled():
    data = sets(30, 40)
    mean, _ = kid(data.outputs, data.reference, seed=3, subset_size=30)
    rows = np.arange(30), np.arange(40)
    again = kid_of_kernels(kid_kernels(data.outputs, data.reference), *rows, 3, KID_SUBSETS, 30)
    assert again == pytest.approx(mean, rel=1e-10)


def test_each_interval_is_the_value_plus_minus_z_sd_of_the_metric_on_resampled_images():
    data = sets(25, 35)
    draws = resamples(25, 35, seed=3)
    by_hand = {
        "fid": [fid(data.outputs[r.outputs], data.reference[r.reference]) for r in draws],
        "kid": [
            kid(data.outputs[r.outputs], data.reference[r.reference], seed=3, subset_size=25)[0]
            for r in draws
        ],
    }
    lpips = np.array(data.image_scores["lpips"])
    by_hand["artfid"] = [
        (1 + lpips[r.outputs].mean()) * (1 + f) for r, f in zip(draws, by_hand["fid"], strict=True)
    ]
    for metric in (FID(), KID(), ArtFID()):
        score = metric.score(data)
        values = np.array(by_hand[metric.info.name])
        sd = values.std(ddof=1)
        assert score.interval["resamples"] == RESAMPLES
        assert score.interval["low"] == pytest.approx(score.value - Z * sd, rel=1e-7)
        assert score.interval["high"] == pytest.approx(score.value + Z * sd, rel=1e-7)
        # Resampling repeats images: the resampled values sit above the value (recorded).
        assert score.interval["bootstrap_mean"] == pytest.approx(values.mean(), rel=1e-7)
        assert score.interval["bootstrap_mean"] > score.value


def test_intervals_are_seeded_and_narrow_with_more_images():
    assert FID().score(sets(25, 35)).interval == FID().score(sets(25, 35)).interval
    small, large = FID().score(sets(20, 20)), FID().score(sets(400, 400))
    small_width, large_width = (s.interval["high"] - s.interval["low"] for s in (small, large))
    assert large_width < small_width / 3


def test_fid_infinity_and_outputs_without_lpips_get_no_interval():
    data = sets(25, 35)
    assert ArtFIDInfinity().score(data).interval is None
    data.image_scores = {"lpips": [0.2] * 24 + [None]}
    score = ArtFID().score(data)
    assert score.value is not None and score.interval is None

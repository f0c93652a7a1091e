"""ArtFID and FID-infinity on synthetic features: the definitions, the intended number of fit
points, seeding, and the plan pulling in LPIPS for ArtFID."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from stylebench.metrics.distances import fid, fid_infinity, fid_infinity_sizes
from stylebench.metrics.sets import FID, ArtFID, ArtFIDInfinity, FIDInfinity, SetData
from stylebench.plan import make_plan
from stylebench.suites.load import load_suite

RNG = np.random.default_rng(0)
OUTPUTS = RNG.normal(size=(40, 16)) ** 2
REFERENCE = (RNG.normal(size=(30, 16)) * 1.2 + 0.3) ** 2
CONTENT = RNG.normal(size=(40, 16)) ** 2  # what ArtFID must NOT compare with


def data(seed: int = 0, lpips=(0.5, 0.3, None, 0.4)) -> SetData:
    return SetData(OUTPUTS, REFERENCE, {"lpips": list(lpips)}, seed=seed)


def test_artfid_is_one_plus_lpips_times_one_plus_fid_against_the_reference():
    score = ArtFID().score(data())
    expected = (1 + np.mean([0.5, 0.3, 0.4])) * (1 + fid(OUTPUTS, REFERENCE))
    assert score.value == pytest.approx(expected, rel=1e-12)
    assert score.details["lpips_n"] == 3 and score.n == 40 and score.n_reference == 30
    assert score.value != pytest.approx((1 + 0.4) * (1 + fid(OUTPUTS, CONTENT)), rel=1e-3)
    assert ArtFID.info.requires == ("lpips",) and ArtFID.info.higher_is_better is False
    missing = ArtFID().score(SetData(OUTPUTS, REFERENCE, {}, seed=0))
    assert missing.value is None and "lpips" in missing.error


def test_fid_infinity_uses_the_intended_points_and_is_seeded():
    result = fid_infinity(OUTPUTS, REFERENCE, seed=1)
    assert len(result.sizes) == 15 and len(result.fids) == 15
    assert result.sizes[0] == 20 and result.sizes[-1] == 40  # 40 < 5,000: from N/2 to N
    fit = stats.linregress(1 / np.asarray(result.sizes, dtype=float), result.fids)
    assert result.value == pytest.approx(fit.intercept, rel=1e-9)
    assert result.slope == pytest.approx(fit.slope, rel=1e-9)
    assert fid_infinity(OUTPUTS, REFERENCE, seed=1) == result
    assert fid_infinity(OUTPUTS, REFERENCE, seed=2).value != result.value
    # The whole set at the last point: its FID is the plain FID.
    assert result.fids[-1] == pytest.approx(fid(OUTPUTS, REFERENCE), rel=1e-12)


def test_fid_infinity_sizes_follow_chong_and_forsyth_for_large_sets():
    sizes = fid_infinity_sizes(50_000)
    assert len(sizes) == 15 and sizes[0] == 5000 and sizes[-1] == 50_000
    assert fid_infinity_sizes(6000)[0] == 5000
    with pytest.raises(ValueError, match="at least 3"):
        fid_infinity(OUTPUTS[:2], REFERENCE, seed=0)


def test_fid_infinity_and_artfid_infinity_record_their_fit_and_warn_on_small_n():
    score = FIDInfinity().score(data(seed=3))
    assert score.details["points"] == 15 and score.details["seed"] == 3
    assert len(score.details["sizes"]) == 15
    assert any("unreliable" in w for w in score.warnings)
    art = ArtFIDInfinity().score(data(seed=3))
    assert art.value == pytest.approx((1 + 0.4) * (1 + score.value), rel=1e-12)
    assert art.details["fid_infinity"] == score.value


def test_a_plan_asking_for_artfid_gets_lpips_too():
    suite = load_suite("smoke", ["metrics=[artfid, fid]"])
    assert make_plan(suite).metrics == ("lpips", "artfid", "fid")


def test_fid_infinity_needs_three_outputs_but_only_two_reference_images():
    smoke_like = FIDInfinity().score(SetData(OUTPUTS[:4], REFERENCE[:2], {}, seed=0))
    assert smoke_like.value is not None and smoke_like.details["sizes"][0] == 2
    too_few = FIDInfinity().score(SetData(OUTPUTS[:2], REFERENCE, {}, seed=0))
    assert too_few.value is None and "at least 3 outputs" in too_few.error


def test_a_negative_extrapolation_is_no_value_but_a_warning():
    # Four outputs: the 1/N fit through subsets of 2..4 overshoots below zero (-17.8 here).
    rng = np.random.default_rng(3)
    outputs, reference = rng.normal(size=(4, 8)) * 3, rng.normal(size=(30, 8))
    assert fid_infinity(outputs, reference, seed=1).value < 0
    features = SetData(outputs, reference, {"lpips": [0.5, 0.3]}, seed=1)
    for metric in (FIDInfinity(), ArtFIDInfinity()):
        score = metric.score(features)
        assert score.value is None and score.error is None
        assert any("extrapolated to -17.8" in w for w in score.warnings)
        assert score.unreliable and "5,000" in score.unreliable
    assert FIDInfinity().score(features).details["extrapolated"] == pytest.approx(-17.76, abs=0.01)


def test_a_fit_below_the_protocols_start_is_marked_unreliable():
    assert "fewer outputs" in FIDInfinity().score(data(seed=3)).unreliable
    assert ArtFIDInfinity().score(data(seed=3)).unreliable
    assert FID().score(data()).unreliable is None

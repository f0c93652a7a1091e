"""Comparisons on synthetic records whose truth is known by construction."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from stylebench.reports.compare import ComparisonError, compare, parse_thresholds, to_markdown
from tests.reports.records import synthetic_record

FID = {
    "name": "fid",
    "higher_is_better": False,
    "per": "set",
    "unit": "",
    "description": "f",
    "needs": ["reference"],
}


def pair(tmp_path, images: int = 6):
    """A baseline and an identical candidate: ``images`` x 2 cells for one method."""
    names = [f"c{i}.png" for i in range(images)]
    base = synthetic_record(tmp_path / "a", names, ["s0.png", "s1.png"], {"gatys": 1.0})
    return base, copy.deepcopy(base)


def perturb(record: dict, metric: str, fn) -> dict:
    for i, cell in enumerate(record["cells"]):
        cell["scores"][metric] = fn(i, cell["scores"][metric])
    return record


def verdict(comparison, method: str, metric: str) -> str:
    return next(c for c in comparison.changes if (c.method, c.metric) == (method, metric)).verdict


def test_identical_runs_are_unchanged_everywhere(tmp_path):
    base, cand = pair(tmp_path)
    result = compare(base, cand)
    assert result.regressions == [] and result.improvements == []
    assert {c.verdict for c in result.changes} == {"unchanged"}
    assert {c.metric for c in result.changes} == {"content_loss", "latency", "failed_cells"}


def test_a_metric_degraded_well_beyond_noise_regresses(tmp_path):
    base, cand = pair(tmp_path)
    rng = np.random.default_rng(1)
    perturb(cand, "content_loss", lambda i, v: v * 1.2 + rng.normal(0, 0.005))
    result = compare(base, cand)
    change = next(c for c in result.changes if c.metric == "content_loss")
    assert change.verdict == "regressed" and change.direction == "worse"
    assert change.relative == pytest.approx(0.2, abs=0.01) and change.n == 12
    assert verdict(result, "gatys", "latency") == "unchanged"
    assert "| gatys | content_loss ↓ |" in to_markdown(result)


def test_the_same_change_the_other_way_improves(tmp_path):
    base, cand = pair(tmp_path)
    perturb(cand, "content_loss", lambda i, v: v * 0.8)
    assert verdict(compare(base, cand), "gatys", "content_loss") == "improved"


def test_noise_within_the_band_is_unchanged(tmp_path):
    base, cand = pair(tmp_path)
    rng = np.random.default_rng(2)
    # Large image-to-image noise with no shift: the paired interval straddles zero.
    perturb(cand, "content_loss", lambda i, v: v + rng.normal(0, 0.05))
    assert verdict(compare(base, cand), "gatys", "content_loss") == "unchanged"
    # A consistent shift smaller than the practical threshold (2%): beyond noise, but too small.
    base, cand = pair(tmp_path)
    perturb(cand, "content_loss", lambda i, v: v * 1.01)
    result = compare(base, cand)
    assert verdict(result, "gatys", "content_loss") == "unchanged"
    # ... unless the threshold is tightened for that metric.
    tight = compare(base, cand, thresholds={"content_loss": 0.005})
    assert verdict(tight, "gatys", "content_loss") == "regressed"


def test_set_metrics_use_a_tolerance_band_and_need_the_same_n(tmp_path):
    base, cand = pair(tmp_path)
    for record, value in ((base, 100.0), (cand, 103.0)):
        record["metrics"]["fid"] = FID
        record["methods"]["gatys"]["set_scores"] = {
            "fid": {"value": value, "n": 12, "n_reference": 50}
        }
    assert verdict(compare(base, cand), "gatys", "fid") == "unchanged"  # inside the 5% band
    cand["methods"]["gatys"]["set_scores"]["fid"]["value"] = 120.0
    assert verdict(compare(base, cand), "gatys", "fid") == "regressed"
    cand["methods"]["gatys"]["set_scores"]["fid"]["n"] = 11
    result = compare(base, cand)
    assert verdict(result, "gatys", "fid") == "not compared"
    assert "N differs" in next(c.reason for c in result.changes if c.metric == "fid")


def test_kid_band_widens_with_its_subset_spread(tmp_path):
    base, cand = pair(tmp_path)
    for record, value in ((base, 0.010), (cand, 0.016)):
        record["metrics"]["kid"] = {**FID, "name": "kid"}
        record["methods"]["gatys"]["set_scores"] = {
            "kid": {"value": value, "std": 0.004, "n": 12, "n_reference": 50}
        }
    assert verdict(compare(base, cand), "gatys", "kid") == "unchanged"  # 0.006 < 2*0.0057
    for record in (base, cand):
        record["methods"]["gatys"]["set_scores"]["kid"]["std"] = 0.0005
    assert verdict(compare(base, cand), "gatys", "kid") == "regressed"


def test_runtime_is_compared_only_on_the_same_devices(tmp_path):
    base, cand = pair(tmp_path)
    perturb(cand, "latency", lambda i, v: v * 2)
    assert verdict(compare(base, cand), "gatys", "latency") == "regressed"
    cand["environment"]["devices"] = ["NVIDIA H100 80GB HBM3"]
    result = compare(base, cand)
    assert verdict(result, "gatys", "latency") == "not compared"
    assert verdict(result, "gatys", "content_loss") == "unchanged"
    assert any("devices differ" in note for note in result.notes)


def test_more_failed_cells_is_a_regression(tmp_path):
    base, cand = pair(tmp_path)
    cand["cells"][0]["status"] = "failed"
    cand["methods"]["gatys"]["cells_failed"] = 1
    result = compare(base, cand)
    assert verdict(result, "gatys", "failed_cells") == "regressed"
    assert verdict(result, "gatys", "content_loss") == "unchanged"  # the other 11 pairs


def test_runs_whose_numbers_mean_different_things_are_refused(tmp_path):
    base, cand = pair(tmp_path)
    cand["suite"]["version"] = 2
    with pytest.raises(ComparisonError, match="same suite version"):
        compare(base, cand)
    base, cand = pair(tmp_path)
    cand["weights"]["random"] = False
    with pytest.raises(ComparisonError, match="random weights"):
        compare(base, cand)


def test_thresholds_parse_or_say_what_is_expected():
    assert parse_thresholds(["lpips=0.05", " fid = 0.1"]) == {"lpips": 0.05, "fid": 0.1}
    for bad in ("lpips", "lpips=x", "=0.1", "lpips=-1"):
        with pytest.raises(ValueError, match="METRIC=FRACTION"):
            parse_thresholds([bad])

"""Comparisons on synthetic records whose truth is known by construction."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from stylebench.reports import compare as gate
from stylebench.reports.compare import ComparisonError, parse_thresholds, to_markdown
from tests.reports.records import synthetic_record, typed, with_runtime

FID = {
    "name": "fid",
    "higher_is_better": False,
    "per": "set",
    "unit": "",
    "description": "f",
    "needs": ["reference"],
}


def compare(base: dict, cand: dict, **kwargs) -> gate.Comparison:
    """The gate on two records built as JSON."""
    return gate.compare(typed(base), typed(cand), **kwargs)


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


def test_a_set_metric_moving_inside_its_bootstrap_intervals_is_noise(tmp_path):
    base, cand = pair(tmp_path)
    for record, value in ((base, 100.0), (cand, 120.0)):
        record["metrics"]["fid"] = FID
        record["methods"]["gatys"]["set_scores"] = {
            "fid": {"value": value, "n": 12, "n_reference": 50}
        }
    assert verdict(compare(base, cand), "gatys", "fid") == "regressed"
    for record in (base, cand):
        score = record["methods"]["gatys"]["set_scores"]["fid"]
        score["interval"] = {
            "low": score["value"] - 15, "high": score["value"] + 15, "confidence": 0.95,
            "resamples": 100, "bootstrap_mean": score["value"] + 9, "seed": 0, "method": "m",
        }  # fmt: skip
    result = compare(base, cand)
    change = next(c for c in result.changes if c.metric == "fid")
    assert change.verdict == "unchanged" and "bootstrap" in change.noise  # 20 < hypot(15, 15)
    cand["methods"]["gatys"]["set_scores"]["fid"]["value"] = 125.0
    assert verdict(compare(base, cand), "gatys", "fid") == "regressed"  # 25 > 21.2


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


def runtime_pair(tmp_path, **kwargs):
    base, cand = pair(tmp_path)
    return with_runtime(base, **kwargs), with_runtime(cand, **kwargs)


def change(comparison, method: str, metric: str):
    return next(c for c in comparison.changes if (c.method, c.metric) == (method, metric))


def test_timing_changes_below_an_absolute_floor_are_unchanged(tmp_path):
    # The case: microseconds that are +480%, a few MiB that are +20%.
    base, cand = runtime_pair(tmp_path, peak_memory=20.0)
    perturb(base, "latency", lambda i, v: 2.2e-05 + 1e-7 * i)
    perturb(cand, "latency", lambda i, v: 1.3e-04 + 1e-7 * i)
    perturb(cand, "peak_memory", lambda i, v: 24.0)
    result = compare(base, cand)
    assert change(result, "gatys", "latency").relative > 4
    assert verdict(result, "gatys", "latency") == "unchanged"
    assert verdict(result, "gatys", "peak_memory") == "unchanged"
    assert "floor" in change(result, "gatys", "latency").noise
    perturb(cand, "peak_memory", lambda i, v: 60.0)  # +40 MiB is not a few
    assert verdict(compare(base, cand), "gatys", "peak_memory") == "regressed"


def test_a_figure_measured_once_is_not_compared_without_a_noise_estimate(tmp_path):
    base, cand = runtime_pair(tmp_path)
    cand["methods"]["gatys"]["throughput"] = 7.4  # -26% on a loaded machine
    cand["methods"]["gatys"]["prepare_time"] = 3.0
    result = compare(base, cand)
    for metric in ("throughput", "prepare_time"):
        assert verdict(result, "gatys", metric) == "not compared"
        assert "one measurement" in change(result, "gatys", metric).reason
    assert result.regressions == []


def test_throughput_repeats_are_its_noise_estimate(tmp_path):
    steady = [0.80, 0.79, 0.81, 0.80, 0.80]
    base, cand = runtime_pair(tmp_path, throughput=10.0, repeats=steady)
    with_runtime(cand, throughput=8.0, repeats=[1.0, 0.99, 1.01, 1.0, 1.0])
    assert verdict(compare(base, cand), "gatys", "throughput") == "regressed"
    noisy = [0.5, 0.8, 1.2, 0.6, 1.1]  # the same medians, repeats spread by half
    base, cand = runtime_pair(tmp_path, throughput=10.0, repeats=noisy)
    with_runtime(cand, throughput=8.0, repeats=[x * 1.25 for x in noisy])
    result = compare(base, cand)
    assert verdict(result, "gatys", "throughput") == "unchanged"
    assert "repeats" in change(result, "gatys", "throughput").noise


def test_the_historys_night_to_night_spread_is_a_noise_estimate(tmp_path):
    base, cand = runtime_pair(tmp_path, prepare_time=2.0)
    cand["methods"]["gatys"]["prepare_time"] = 2.6
    rng = np.random.default_rng(0)
    quiet = [{"gatys": {"prepare_time": 2.0 + rng.normal(0, 0.01)}} for _ in range(10)]
    result = compare(base, cand, history=quiet)
    assert verdict(result, "gatys", "prepare_time") == "regressed"
    loud = [{"gatys": {"prepare_time": 2.0 + rng.normal(0, 0.3)}} for _ in range(10)]
    result = compare(base, cand, history=loud)
    assert verdict(result, "gatys", "prepare_time") == "unchanged"
    assert "sigma of 10 nights" in change(result, "gatys", "prepare_time").noise
    few = quiet[:3]
    assert verdict(compare(base, cand, history=few), "gatys", "prepare_time") == "not compared"


def fid_infinity(record: dict, value, n: int, unreliable: str | None = None, **details) -> None:
    record["metrics"]["fid_infinity"] = {**FID, "name": "fid_infinity"}
    score = {"value": value, "n": n, "n_reference": 50, "warnings": [], "details": details}
    record["methods"]["gatys"]["set_scores"] = {
        "fid_infinity": {**score, **({"unreliable": unreliable} if unreliable else {})}
    }


def test_a_metric_the_record_marks_unreliable_is_not_compared(tmp_path):
    base, cand = pair(tmp_path)
    fid_infinity(base, 10.0, 12, unreliable="fitted on 6..12 outputs")
    fid_infinity(cand, 30.0, 12, unreliable="fitted on 6..12 outputs")
    result = compare(base, cand)
    assert verdict(result, "gatys", "fid_infinity") == "not compared"
    assert "unreliable: fitted on 6..12" in change(result, "gatys", "fid_infinity").reason
    # A record written before scores said so: its fit's own start tells.
    fid_infinity(base, 10.0, 12, start=5000, sizes=[6, 12])
    fid_infinity(cand, 30.0, 12, start=5000, sizes=[6, 12])
    assert verdict(compare(base, cand), "gatys", "fid_infinity") == "not compared"
    assert result.regressions == []


def test_what_changed_opens_every_comparison(tmp_path):
    base, cand = pair(tmp_path)
    base["config"] = {"methods": {"gatys": {"steps": 3, "lr": 1.0}}, "weights": "random"}
    cand["config"] = {"methods": {"gatys": {"steps": 6, "lr": 1.0}}, "weights": "random"}
    cand["environment"]["git_commit"] = "def"
    cand["environment"]["packages"] = {"torch": "y"}
    cand["environment"]["devices"] = ["NVIDIA H100"]
    cand["suite"]["file_list_hash"] = "g"
    cand["weights"]["networks"] = [
        {"network": "vgg19", "source": "random", "random": True, "sha256": "9" * 64}
    ]
    base["weights"]["networks"] = [
        {"network": "vgg19", "source": "random", "random": True, "sha256": "1" * 64}
    ]
    result = compare(base, cand, log=["def fix gatys", "cde tune"])
    lines = [str(d) for d in result.what_changed]
    assert "gatys.steps: 3 -> 6" in lines and not any("lr" in line for line in lines)
    assert "commit: abc -> def" in lines and "torch: x -> y" in lines
    assert "suite file list: f -> g" in lines and "devices: cpu -> NVIDIA H100" in lines
    assert "vgg19 weights: 111111111111 -> 999999999999" in lines
    as_json = result.as_dict()
    assert as_json["log"] == ["def fix gatys", "cde tune"]
    assert {"what": "config", "name": "gatys.steps", "baseline": 3, "candidate": 6} in as_json[
        "what_changed"
    ]
    markdown = to_markdown(result)
    assert markdown.index("What changed") < markdown.index("| method |")
    assert "- `gatys.steps: 3 -> 6`" in markdown and "def fix gatys" in markdown
    same = compare(base, copy.deepcopy(base))
    assert [str(d) for d in same.what_changed] == []
    assert "commit abc in both; nothing else differs" in to_markdown(same)


def test_regressions_are_listed_first(tmp_path):
    names = [f"c{i}.png" for i in range(6)]
    base = synthetic_record(tmp_path / "a", names, ["s0.png"], {"adain": 1.0, "gatys": 1.0})
    cand = copy.deepcopy(base)
    for cell in cand["cells"]:
        if cell["method"] == "gatys":
            cell["scores"]["content_loss"] *= 1.5
    result = compare(base, cand)
    assert (result.changes[0].method, result.changes[0].verdict) == ("gatys", "regressed")
    assert [c.verdict for c in result.changes[1:]] == ["unchanged"] * 5


def test_blend_cells_are_left_out_of_the_paired_comparison(tmp_path):
    from tests.reports.test_html import with_blend

    base = synthetic_record(tmp_path, ["a.png"], ["s.png", "t.png"], {"p": 0.2})
    cand = with_blend(
        synthetic_record(tmp_path, ["a.png"], ["s.png", "t.png"], {"p": 0.2}), tmp_path, "p"
    )
    assert gate._cell_scores(typed(cand), "p", "content_loss") == (
        gate._cell_scores(typed(base), "p", "content_loss")
    )

"""Bootstrap intervals: seeded, sensible coverage, degenerate cases; tables use them per method."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from stylebench.reports.stats import bootstrap_ci
from stylebench.reports.tables import intervals
from tests.reports.records import synthetic_record, typed


def test_intervals_are_seeded_and_contain_the_mean():
    values = np.random.default_rng(0).normal(1.0, 0.5, size=40)
    ci = bootstrap_ci(values)
    assert ci == bootstrap_ci(values) and ci != bootstrap_ci(values, seed=1)
    assert ci.low < ci.mean < ci.high and ci.n == 40
    assert ci.mean == pytest.approx(values.mean())


def test_width_matches_the_normal_approximation():
    values = np.random.default_rng(1).normal(0.0, 2.0, size=400)
    ci = bootstrap_ci(values)
    half_width = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    assert (ci.high - ci.low) / 2 == pytest.approx(half_width, rel=0.1)


def test_coverage_is_close_to_95_percent():
    rng = np.random.default_rng(2)
    hits = 0
    for trial in range(200):
        ci = bootstrap_ci(rng.exponential(1.0, size=30), resamples=500, seed=trial)
        hits += ci.low <= 1.0 <= ci.high
    assert 0.85 <= hits / 200 <= 0.99  # percentile bootstrap under-covers a little on skewed data


def test_degenerate_inputs():
    assert bootstrap_ci([3.0, 3.0, 3.0]) == bootstrap_ci([3.0, 3.0, 3.0])
    constant = bootstrap_ci([3.0, 3.0, 3.0])
    assert constant.low == constant.high == constant.mean == 3.0
    single = bootstrap_ci([2.0, None, float("nan")])
    assert single.n == 1 and single.low is None and single.high is None
    with pytest.raises(ValueError):
        bootstrap_ci([None])


def test_tables_give_one_interval_per_method_and_per_image_metric(tmp_path):
    record = synthetic_record(
        tmp_path, ["0.png", "1.png", "2.png"], ["s.png"], {"a": 0.1, "b": 0.5}
    )
    record["metrics"]["fid"] = {"name": "fid", "higher_is_better": False, "per": "set"}
    record["cells"] = [c for c in record["cells"] if c["method"] == "a" or c["content"] == "c-0"]
    table = intervals(typed(record))
    assert set(table["a"]) == {"content_loss", "latency"} and table["a"]["content_loss"].n == 3
    assert table["b"]["content_loss"].low is None


def test_reports_and_the_record_models_do_not_import_torch(tmp_path):
    code = (
        "import sys, stylebench.record_model, stylebench.reports.html, stylebench.reports.compare; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)

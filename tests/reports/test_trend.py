"""Change points on series whose truth is known, and the trend page."""

from __future__ import annotations

import numpy as np

from stylebench.reports.html import render_trend
from stylebench.reports.trend import change_points


def test_a_persistent_step_is_found_where_it_starts():
    steps = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        series = np.r_[rng.normal(1.0, 0.01, 15), rng.normal(1.04, 0.01, 15)]
        steps += change_points(series.tolist()) == [15]
    assert steps >= 34  # a 4-sigma step, found at the right night nearly always


def test_pure_noise_rarely_shows_a_change():
    false = sum(
        bool(change_points(np.random.default_rng(seed).normal(1.0, 0.01, 30).tolist()))
        for seed in range(100)
    )
    assert false <= 8


def test_constant_and_short_series():
    assert change_points([2.0] * 12) == []
    assert change_points([2.0] * 8 + [3.0] * 4) == [8]
    assert change_points([1.0, 5.0, 1.0]) == []  # too short for two levels of two nights


def test_trend_page_marks_change_points_and_escapes_names():
    history = [
        {
            "run_id": f"smoke-{night}",
            "finished": f"2026-11-{night:02d}T02:00:00",
            "git_commit": "c" * 40,
            "baseline": None,
            "regressions": 0,
            "failed_cells": 0,
            "random_weights": True,
            "tags": ["<b>x</b>"],
            "values": {"<img src=x onerror=alert(1)>": {"lpips": 0.3 if night < 8 else 0.5}},
        }
        for night in range(1, 15)
    ]
    html = render_trend(history)
    assert html.count('id="change-point-') == 1 and "new level from smoke-8" in html
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert "<b>x</b>" not in html


def test_trend_page_names_nights_draws_the_noise_band_and_links_each_night(tmp_path):
    rng = np.random.default_rng(0)
    history = []
    for night in range(1, 7):
        run = tmp_path / "runs" / f"smoke-{night}"
        run.mkdir(parents=True)
        (run / "report.html").write_text("r")
        if night > 1:
            (run / "comparison.md").write_text("c")
        history.append(
            {
                "run_id": f"smoke-{night}",
                "report": str(run / "report.html"),
                "finished": f"2026-11-{night:02d}T02:00:00",
                "git_commit": f"{night:x}" * 40,
                "baseline": None,
                "regressions": 0,
                "failed_cells": 0,
                "random_weights": True,
                "tags": [],
                "values": {"gatys": {"lpips": 0.3 + 0.001 * float(rng.normal())}},
            }
        )
    html = render_trend(history, tmp_path / "history")
    assert "11-03 3333333" in html  # x ticks: date and commit
    assert 'id="noise-band-1"' in html  # the shaded noise band
    assert 'href="../runs/smoke-6/report.html"' in html
    assert 'href="../runs/smoke-6/comparison.md"' in html
    assert 'href="../runs/smoke-1/comparison.md"' not in html

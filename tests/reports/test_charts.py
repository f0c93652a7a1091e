"""Inline SVG charts: the Pareto front is right and labels cannot inject markup."""

from __future__ import annotations

from stylebench.reports.charts import Series, line_chart, pareto_front, scatter_chart, series_look


def test_pareto_front_keeps_exactly_the_undominated_points():
    points = [(1.0, 5.0), (2.0, 2.0), (3.0, 3.0), (4.0, 1.0), (2.0, 2.0), (0.5, 9.0)]
    # (3, 3) is beaten by (2, 2); the duplicate (2, 2) points do not dominate each other.
    assert pareto_front(points) == [5, 0, 1, 4, 3]


def test_labels_are_escaped_and_front_is_starred():
    evil = "<img src=x onerror=alert(1)>"
    svg = str(scatter_chart("t", [evil, "b"], [(1.0, 1.0), (2.0, 2.0)], "x", "y"))
    assert "<img" not in svg and "&lt;img src=x" in svg
    assert svg.count("★") == 1 and 'id="pareto"' in svg
    line = str(line_chart("<b>", [Series(evil, [(1, 2.0), (2, 1.0)], marks=[1.5])], "s", "l"))
    assert "<b>" not in line and line.count('id="change-point-') == 1


def test_names_are_literal_text_and_axes_have_ticks_and_a_legend():
    svg = str(scatter_chart("t", ["$x^2$", "b"], [(0.01, 1.0), (2.0, 2.0)], "latency (s)", "fid"))
    assert "$x^2$" in svg  # no maths parsing of user strings
    assert 'id="xtick_' in svg and 'id="ytick_' in svg and 'id="legend_' in svg
    assert 'aria-label="t"' in svg and "latency (s)" in svg


def test_log_axes_read_as_numbers_and_fourteen_methods_look_different():
    """The smoke suite charts 14 methods on a log axis: every tick is a plain number (not
    unparsed maths text) and no two methods share colour and marker."""
    labels = [f"m{i}" for i in range(14)]
    points = [(10.0 ** (i / 4 - 2), float(i)) for i in range(14)]
    svg = str(scatter_chart("t", labels, points, "latency (s)", "fid"))
    assert "mathdefault" not in svg and "$" not in svg
    assert ">0.01<" in svg or ">0.1<" in svg
    looks = {series_look(i) for i in range(64)}
    assert len(looks) == 64

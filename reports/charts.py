"""Inline SVG charts drawn with matplotlib: real ticks, units, gridlines and legends.

Reports must open offline under a strict CSP (no external scripts), so charts are SVG markup in
the page. matplotlib writes that SVG (text kept as text, so it stays small and searchable) and
escapes every label itself; maths parsing is off, so a method named ``$x$`` stays literal. Point
labels go in a legend, never next to the points, so labels cannot collide.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("svg")

import matplotlib.pyplot as plt
from markupsafe import Markup
from matplotlib import ticker

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
SIZE_IN = (5.2, 3.2)
STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "stylebench",
    "text.parse_math": False,
    "font.size": 8.5,
    "axes.grid": True,
    "grid.color": "#e3e3e3",
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "legend.fontsize": 7.5,
    "legend.frameon": False,
}


@dataclass
class Series:
    """One line (or one set of points) with its label; ``marks`` are x positions to flag, and
    ``band`` an optional (low, high) per point, drawn as a shaded noise band."""

    label: str
    points: list[tuple[float, float]]
    marks: list[float] = field(default_factory=list)
    band: list[tuple[float, float]] | None = None


def series_look(i: int) -> tuple[str, str]:
    """Series i's colour and marker: no two of the first 64 share both (the marker shifts by
    one each time the colours come round again)."""
    return PALETTE[i % len(PALETTE)], MARKERS[(i + i // len(PALETTE)) % len(MARKERS)]


def _plain_log_ticks(axis) -> None:
    """Tick labels of a log axis as plain numbers (0.01, 1, 100): its default labels are
    maths text, which is not parsed here (``text.parse_math`` is off so that names stay
    literal) and would show as ``$\\mathdefault{10^{-2}}$``."""
    axis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def _svg(figure, title: str) -> Markup:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    # Named for assistive technology and for tests: the chart's title as its label.
    label = title.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return Markup(svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1))


def line_chart(
    title: str,
    series: Sequence[Series],
    x_label: str,
    y_label: str,
    log_y: bool = False,
    x_ticks: Sequence[tuple[float, str]] | None = None,
) -> Markup:
    """Lines over x (loss per step, a metric per night); ``marks`` as dashed rules; ``x_ticks``
    names x positions (e.g. nights by date and commit)."""
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(figsize=SIZE_IN)
        marks = 0
        for i, s in enumerate(series):
            colour, shape = series_look(i)
            kept = [(x, y) for x, y in s.points if math.isfinite(y) and (y > 0 or not log_y)]
            if not kept:
                continue
            xs, ys = zip(*kept, strict=True)
            marker = shape if len(kept) < 20 else None
            axes.plot(xs, ys, color=colour, marker=marker, markersize=3.5, lw=1.4, label=s.label)
            if s.band:
                low, high = zip(*s.band, strict=True)
                axes.fill_between(
                    [x for x, _ in s.points], low, high, color=colour, alpha=0.12, lw=0
                ).set_gid(f"noise-band-{i + 1}")
            for mark in s.marks:
                marks += 1
                axes.axvline(mark, color=colour, ls="--", lw=1, gid=f"change-point-{marks}")
        if log_y:
            axes.set_yscale("log")
            _plain_log_ticks(axes.yaxis)
        if x_ticks:
            axes.set_xticks([x for x, _ in x_ticks], [t for _, t in x_ticks], rotation=30)
            for label in axes.get_xticklabels():
                label.set_horizontalalignment("right")
        axes.set(title=title, xlabel=x_label, ylabel=y_label)
        if len(series) > 1:
            axes.legend(loc="best")
        return _svg(figure, title)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of points no other point beats on both axes (both lower-is-better)."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any(
            (ox <= x and oy <= y) and (ox < x or oy < y)
            for j, (ox, oy) in enumerate(points)
            if j != i
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i])


def scatter_chart(
    title: str,
    labels: Sequence[str],
    points: Sequence[tuple[float, float]],
    x_label: str,
    y_label: str,
) -> Markup:
    """One marker per labelled point (both axes lower-is-better, x on a log scale), the Pareto
    front dashed; names in the legend, a ★ after those on the front."""
    front = pareto_front(points)
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(figsize=SIZE_IN)
        axes.plot(
            [points[i][0] for i in front],
            [points[i][1] for i in front],
            color="#2ca02c",
            ls="--",
            lw=1.6,
            gid="pareto",
            label="Pareto front",
        )
        for i, ((x, y), label) in enumerate(zip(points, labels, strict=True)):
            axes.plot(
                [x],
                [y],
                ls="none",
                marker=series_look(i)[1],
                markersize=6,
                color=series_look(i)[0],
                label=f"{label}{' ★' if i in front else ''}",
            )
        axes.set_xscale("log")
        _plain_log_ticks(axes.xaxis)
        axes.set(title=title, xlabel=x_label, ylabel=y_label)
        axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
        return _svg(figure, title)

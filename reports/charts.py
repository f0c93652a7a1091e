"""Small inline SVG charts (line charts, scatter plots), drawn server-side.

Reports must open offline under a strict CSP (no external scripts), so charts are plain SVG
markup built here; every label goes through `markupsafe.escape`, so a method or file name can
never inject markup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
WIDTH, HEIGHT, PAD, TOP = 440, 262, 58, 24


@dataclass
class Series:
    """One line (or one set of points) with its label; ``marks`` are x positions to flag."""

    label: str
    points: list[tuple[float, float]]
    marks: list[float] = field(default_factory=list)


def _scale(values: Sequence[float], lo_px: float, hi_px: float, log: bool = False):
    finite = [
        math.log10(v) if log else v for v in values if math.isfinite(v) and (v > 0 or not log)
    ]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5

    def to_px(v: float) -> float:
        t = ((math.log10(v) if log else v) - lo) / (hi - lo)
        return lo_px + t * (hi_px - lo_px)

    return to_px, (10**lo if log else lo), (10**hi if log else hi)


def _frame(title: str, x_label: str, y_label: str, x_range, y_range) -> list[str]:
    (x0, x1), (y0, y1) = x_range, y_range
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{PAD}" y="14" font-size="12" font-weight="600">{escape(title)}</text>',
        f'<rect x="{PAD}" y="{TOP}" width="{WIDTH - PAD - 10}" height="{HEIGHT - PAD - TOP}" '
        'fill="#fafafa" stroke="#ccc"/>',
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 6}" text-anchor="middle" font-size="11">'
        f"{escape(x_label)}</text>",
        f'<text x="12" y="{HEIGHT / 2}" text-anchor="middle" font-size="11" '
        f'transform="rotate(-90 12 {HEIGHT / 2})">{escape(y_label)}</text>',
        f'<text x="{PAD}" y="{HEIGHT - PAD + 14}" font-size="9">{x0:.3g}</text>',
        f'<text x="{WIDTH - 10}" y="{HEIGHT - PAD + 14}" font-size="9" text-anchor="end">'
        f"{x1:.3g}</text>",
        f'<text x="{PAD - 3}" y="{HEIGHT - PAD}" font-size="9" text-anchor="end">{y0:.3g}</text>',
        f'<text x="{PAD - 3}" y="{TOP + 8}" font-size="9" text-anchor="end">{y1:.3g}</text>',
    ]


def _legend(labels: Sequence[str]) -> list[str]:
    return [
        f'<text x="{WIDTH - 16}" y="{TOP + 14 + 12 * i}" font-size="10" text-anchor="end" '
        f'fill="{PALETTE[i % len(PALETTE)]}">■ {escape(label)}</text>'
        for i, label in enumerate(labels)
    ]


def line_chart(
    title: str, series: Sequence[Series], x_label: str, y_label: str, log_y: bool = False
) -> Markup:
    """Lines over x (e.g. loss per step, a metric per night); ``marks`` drawn as dashed rules."""
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    fx, x0, x1 = _scale(xs, PAD, WIDTH - 10)
    fy, y0, y1 = _scale(ys, HEIGHT - PAD, TOP, log=log_y)
    parts = _frame(title, x_label, y_label, (x0, x1), (y0, y1))
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        kept = [(x, y) for x, y in s.points if math.isfinite(y) and (y > 0 or not log_y)]
        path = " ".join(f"{fx(x):.1f},{fy(y):.1f}" for x, y in kept)
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{path}"/>'
        )
        if len(kept) < 20:
            parts += [
                f'<circle cx="{fx(x):.1f}" cy="{fy(y):.1f}" r="2.5" fill="{colour}"/>'
                for x, y in kept
            ]
        parts += [
            f'<line class="change-point" x1="{fx(m):.1f}" x2="{fx(m):.1f}" y1="{TOP}" '
            f'y2="{HEIGHT - PAD}" stroke="{colour}" stroke-dasharray="4 3"/>'
            for m in s.marks
        ]
    parts += _legend([s.label for s in series]) if len(series) > 1 else []
    parts.append("</svg>")
    return Markup("".join(parts))


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
    """Labelled points (both axes lower-is-better, x on a log scale) with the Pareto front."""
    fx, x0, x1 = _scale([x for x, _ in points], PAD + 8, WIDTH - 18, log=True)
    fy, y0, y1 = _scale([y for _, y in points], HEIGHT - PAD - 8, TOP + 12)
    parts = _frame(title, x_label, y_label, (x0, x1), (y0, y1))
    front = pareto_front(points)
    path = " ".join(f"{fx(points[i][0]):.1f},{fy(points[i][1]):.1f}" for i in front)
    parts.append(
        f'<polyline class="pareto" fill="none" stroke="#2ca02c" stroke-width="2" '
        f'stroke-dasharray="5 3" points="{path}"/>'
    )
    for i, ((x, y), label) in enumerate(zip(points, labels, strict=True)):
        colour = PALETTE[i % len(PALETTE)]
        right = fx(x) > WIDTH / 2  # labels of points on the right half go to their left
        parts.append(
            f'<circle cx="{fx(x):.1f}" cy="{fy(y):.1f}" r="4" fill="{colour}">'
            f"<title>{escape(label)}: {x:.3g}, {y:.3g}</title></circle>"
            f'<text x="{fx(x) + (-6 if right else 6):.1f}" y="{fy(y) - 6 - 10 * (i % 2):.1f}" '
            f'font-size="10" text-anchor="{"end" if right else "start"}" fill="{colour}">'
            f"{escape(label)}{' ★' if i in front else ''}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))

"""The self-contained HTML report of one run, rendered from its record alone.

Images are embedded as data URIs and there are no external scripts, styles or fonts, so the file
opens offline and can be mailed around. Every string that comes from users (file names, suite
names, settings, errors) goes through Jinja's autoescaping.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import os
from pathlib import Path
from urllib.parse import quote

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape
from PIL import Image

from stylebench.atomic import write_text_atomic
from stylebench.record_model import CellRecord, RunRecord
from stylebench.reports.charts import Series, line_chart, pareto_front, scatter_chart
from stylebench.reports.files import RunFiles
from stylebench.reports.grid import write_grid
from stylebench.reports.stats import CONFIDENCE, RESAMPLES
from stylebench.reports.tables import (
    best_per_metric,
    blend_scores,
    breakdown,
    cell_scores,
    grouped_metrics,
    headline,
    intervals,
    leaderboard,
    set_score,
    split_methods,
    split_scores,
)

_ENV = Environment(
    loader=PackageLoader("stylebench.reports", "templates"),
    autoescape=select_autoescape(["html", "j2"], default=True),
)


#: The report's only script: click a column header to sort its table (allowed by hash in the
#: page's CSP). Cells carry their number in ``data-value``; missing values sort last.
SCRIPT = """
document.querySelectorAll("table.sortable th[data-sort]").forEach((th) => {
  th.addEventListener("click", () => {
    const body = th.closest("table").tBodies[0], index = Number(th.dataset.sort);
    const up = th.dataset.order !== "asc";
    th.dataset.order = up ? "asc" : "desc";
    const key = (row) => row.cells[index].dataset.value ?? row.cells[index].textContent;
    const order = (a, b) => {
      const x = parseFloat(key(a)), y = parseFloat(key(b));
      if (isNaN(x) || isNaN(y)) return isNaN(x) - isNaN(y) || key(a).localeCompare(key(b));
      return up ? x - y : y - x;
    };
    [...body.rows].sort(order).forEach((row) => body.appendChild(row));
  });
});
"""

#: Images larger than this are embedded as JPEG thumbnails of this size, with the full PNG
#: linked: the report of a 512 px suite stays small, and the run folder travels with it.
THUMBNAIL_PX = 160


def _thumbnail(path: Path | None) -> str:
    """A data URI to embed: the PNG itself when it is small, else a JPEG thumbnail."""
    if path is None or not path.is_file():
        return ""
    try:
        with Image.open(path) as image:
            if max(image.size) <= THUMBNAIL_PX:
                return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
            small = image.convert("RGB")
            small.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    except (OSError, ValueError):
        return ""  # not an image: the grid shows the gap
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def _link(path: Path | None, base: Path) -> str:
    """A relative URL from the report's folder to a file of the run."""
    if path is None:
        return ""
    return quote(Path(os.path.relpath(path, base)).as_posix())


def _fmt(value: object, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        if 10**digits <= abs(value) < 1e6:
            return f"{value:,.0f}"  # MiB, images/s: whole numbers read better than 1.72e+03
        return f"{value:.{digits}g}"
    return str(value)


def _number(value: object) -> str:
    """A cell's ``data-value`` for sorting: the number, or empty when there is none."""
    if isinstance(value, int | float) and math.isfinite(value):
        return repr(float(value))
    return ""


def _score_cell(record: RunRecord, table, cis: dict, method: str, metric: str, notes: list) -> dict:
    """One leaderboard cell: the value, a second line (CI, N or std) and any warning's number."""
    info = record.metrics[metric]
    per = info.per
    summary = record.methods[method]
    value = table.at[method, metric]
    cell = {
        "text": _fmt(value, 3),
        "detail": "",
        "note": None,
        "title": "",
        "value": _number(value),
    }
    if per == "image" and metric in cis.get(method, {}):
        ci = cis[method][metric]
        if ci.low is not None and ci.high is not None:
            cell["detail"] = f"±{_fmt((ci.high - ci.low) / 2, 2)}"
            cell["title"] = f"{CONFIDENCE:.0%} interval [{_fmt(ci.low)}, {_fmt(ci.high)}]"
        else:
            cell["detail"] = "n=1"
        if summary.is_domain and "style" in info.needs:
            cell["detail"] += " vs style set"
            cell["title"] += "; domain method: against the mean Gram matrices of the style set"
    elif per == "method":
        details = (summary.throughput_details or {}) if metric == "throughput" else {}
        cell["detail"] = f"batch {details['batch_size']}" if "batch_size" in details else ""
        cell["title"] = details.get("error") or ""
    elif per == "set" and (score := set_score(record, method, metric)) is not None:
        cell["detail"] = f"N={score.n} vs {score.n_reference}"
        if score.interval is not None and math.isfinite(score.interval.half_width):
            cell["detail"] = f"±{_fmt(score.interval.half_width, 2)}, {cell['detail']}"
        elif score.std is not None:
            cell["detail"] = f"±{_fmt(score.std, 2)} sd, {cell['detail']}"
        cell["title"] = score.error or (
            f"{score.interval.confidence:.0%} bootstrap interval [{_fmt(score.interval.low)}, "
            f"{_fmt(score.interval.high)}] over {score.interval.resamples} resamples of the "
            f"images (resampled mean {_fmt(score.interval.bootstrap_mean)}: biased upwards)"
            if score.interval is not None
            else ""
        )
        for warning in score.warnings:
            if warning not in notes:
                notes.append(warning)
            cell["note"] = notes.index(warning) + 1
    return cell


#: Quality axis of the quality-vs-speed chart: the first of these the run has values for.
QUALITY_AXIS = ("artfid", "fid", "lpips", "style_loss")


def _curve_charts(record: RunRecord) -> list:
    """Per method: the median optimisation loss per step over its cells (iterative methods) and
    each training job's loss curve (trained methods)."""
    charts = []
    lines = []
    for method, summary in record.methods.items():
        mine = [
            c.curves["total"] for c in record.cells if c.method == method and c.curves.get("total")
        ]
        if mine:
            steps = min(len(c) for c in mine)
            median = [sorted(c[i] for c in mine)[len(mine) // 2] for i in range(steps)]
            lines.append(Series(method, [(i + 1, v) for i, v in enumerate(median)]))
        for job in summary.training:
            total = job.curves.get("total")
            if total:
                every = job.curve_every or 1
                series = Series(job.label, [((i + 1) * every, v) for i, v in enumerate(total)])
                charts.append(
                    line_chart(f"training loss: {job.label}", [series], "step", "loss", True)
                )
    if lines:
        title = "optimisation loss per step (median over cells)"
        charts.insert(0, line_chart(title, lines, "step", "total loss", log_y=True))
    return charts


def _quality_vs_speed(record: RunRecord, table) -> tuple[object | None, str, list[str]]:
    """Quality (lower is better) against per-image latency, one point per method: the chart,
    the quality metric used and the methods on the Pareto front."""
    metrics = record.metrics
    if "latency" not in table:
        return None, "", []
    for name in QUALITY_AXIS:
        if name in table and not metrics[name].higher_is_better:
            rows = table[[name, "latency"]].dropna()
            rows = rows[rows["latency"] > 0]
            if len(rows):
                points = [(float(r["latency"]), float(r[name])) for _, r in rows.iterrows()]
                chart = scatter_chart(
                    f"{name} vs latency (Pareto front dashed, ★ on it)",
                    list(rows.index),
                    points,
                    "latency per image (s, log scale)",
                    f"{name} (lower is better)",
                )
                return chart, name, [str(rows.index[i]) for i in pareto_front(points)]
    return None, "", []


def _summary(groups: dict[str, list[str]], rows: list[dict], best: dict[str, str]) -> list:
    """Above the fold: per metric group, its headline metric's best method, with the value and
    its interval or N (the leaderboard has the rest)."""
    cells = {row["method"]: dict(zip(row["columns"], row["scores"], strict=True)) for row in rows}
    summary = []
    for group, names in groups.items():
        metric = headline(group, names)
        if metric in best:
            summary.append(
                {"group": group, "metric": metric, "method": best[metric]}
                | cells[best[metric]][metric]
            )
    return summary


def _breakdowns(record: RunRecord, image_metrics: list[str], names: dict[str, str]) -> list:
    """Per-style and per-content tables (collapsed in the report)."""
    tables = []
    for by in ("style", "content"):
        table = breakdown(record, by)
        rows = [
            {
                "method": method,
                "image": names.get(key, key),
                "scores": [_fmt(table.at[(method, key), m]) for m in image_metrics],
                "values": [_number(table.at[(method, key), m]) for m in image_metrics],
                "n": int(table.at[(method, key), "n"]),
            }
            for method, key in table.index
        ]
        tables.append({"by": by, "rows": rows})
    return tables


def _output(cell: CellRecord | None, files: RunFiles, method: str, base: Path) -> dict:
    path = files.path(cell.output) if cell else None
    return {
        "method": method,
        "src": _thumbnail(path),
        "href": _link(path, base),
        "error": cell.error if cell else "not run",
    }


def _grid(
    record: RunRecord,
    files: RunFiles,
    pair_methods: list[str],
    domain_methods: list[str],
    base: Path,
) -> list:
    """One row per (content, style) pair with each per-pair method's output; a domain method's
    one output per content image sits in the content's first row, spanning its style rows.
    Then one row per input of the reverse direction (style-domain images translated to photos),
    with the outputs of the domain methods that go that way. A domain method's tile in the
    other direction's rows is None (the template says so)."""
    suite = record.suite
    pairs = {(c.method, c.content, c.style): c for c in record.cells}
    domain = {(c.method, c.content): c for c in record.cells if c.method in domain_methods}
    backwards = {m for m in domain_methods if record.methods[m].direction == "style_to_photo"}

    def domain_tiles(content: str, reverse: bool) -> list:
        return [
            _output(domain.get((m, content)), files, m, base)
            if (m in backwards) == reverse
            else None
            for m in domain_methods
        ]

    rows = []
    for content in suite.content:
        for index, style in enumerate(suite.style):
            rows.append(
                {
                    "content": content.key,
                    "style": style.key,
                    "outputs": [
                        _output(pairs.get((m, content.key, style.key)), files, m, base)
                        for m in pair_methods
                    ],
                    "domain": domain_tiles(content.key, False) if index == 0 else [],
                    "span": len(suite.style),
                }
            )
    if backwards:
        for content in suite.reverse_content:
            rows.append(
                {
                    "content": content.key,
                    "style": None,
                    "outputs": [],
                    "domain": domain_tiles(content.key, True),
                    "span": 1,
                }
            )
    return rows


def _blends(record: RunRecord, files: RunFiles, base: Path, image_metrics: list[str]) -> list:
    """Each blend with its parts and weights, and per method that ran it its outputs (one per
    content image) and its per-image metric means over them; the methods that cannot blend."""
    table = blend_scores(record)
    cells = {(c.method, c.content, c.style): c for c in record.cells}
    blends = []
    for blend in record.suite.blends:
        ran = [m for m in record.methods if any(c[0] == m and c[2] == blend.key for c in cells)]
        rows = [
            {
                "method": method,
                "outputs": [
                    _output(cells.get((method, content.key, blend.key)), files, method, base)
                    for content in record.suite.content
                ],
                "scores": [
                    _fmt(
                        table.at[(method, blend.key), m]
                        if (method, blend.key) in table.index
                        else None
                    )
                    for m in image_metrics
                ],
            }
            for method in ran
        ]
        blends.append(
            {
                "key": blend.key,
                "name": blend.name,
                "describe": blend.describe(),
                "parts": blend.parts,
                "rows": rows,
                "not_run": [m for m in record.methods if m not in ran],
            }
        )
    return blends


def render_report(
    record: RunRecord,
    run_dir: Path,
    comparison: dict | None = None,
    files: RunFiles | None = None,
    base: Path | None = None,
) -> str:
    """The report of ``record`` as one HTML string (images read from inside ``run_dir`` only,
    through ``files``; links to full-size files relative to ``base``, the folder the page is
    written to, by default the run folder)."""
    files = files or RunFiles(run_dir)
    base = base or run_dir
    table = leaderboard(record)
    metrics = record.metrics
    groups = grouped_metrics({name: info for name, info in metrics.items() if info.default})
    columns = [metric for names in groups.values() for metric in names]
    variants = [name for name, info in metrics.items() if not info.default]
    best = best_per_metric(table, metrics)
    cis = intervals(record)
    notes: list[str] = []

    def scores(method: str, names: list[str]) -> list[dict]:
        return [
            {**_score_cell(record, table, cis, method, m, notes), "best": best.get(m) == method}
            for m in names
        ]

    rows = [
        {
            "method": method,
            "paper": record.methods[method].paper,
            "columns": columns,
            "scores": scores(method, columns),
            "variants": scores(method, variants),
            "n": int(table.at[method, "n"]),
            "failed": int(table.at[method, "failed"]),
        }
        for method in table.index
    ]
    set_errors = [
        (method, name, score.error)
        for method, summary in record.methods.items()
        for name, score in summary.set_scores.items()
        if score.error
    ] + [
        (method, "set metrics", summary.method_error)
        for method, summary in record.methods.items()
        if summary.method_error
    ]
    suite = record.suite
    shown = suite.content + suite.style + suite.reverse_content
    names = {r.key: r.name for r in shown}
    inputs = {
        r.key: {
            "src": _thumbnail(files.path(r.input)),
            "href": _link(files.path(r.input), base),
        }
        for r in shown
    }
    pair_methods, domain_methods = split_methods(record)
    directions = {m: record.methods[m].direction for m in domain_methods}
    grid = _grid(record, files, pair_methods, domain_methods, base)
    failures = [c for c in record.cells if not c.ok]
    per_split = split_scores(record)
    image_metrics = record.metrics_per("image")
    splits = [
        {
            "method": method,
            "split": split,
            "scores": [_fmt(per_split.at[(method, split), m]) for m in image_metrics],
            "n": int(per_split.at[(method, split), "n"]),
        }
        for method, split in per_split.index
    ]
    speed_chart, quality_metric, front = _quality_vs_speed(record, table)
    scores_file = run_dir / SCORES_CSV
    return _ENV.get_template("report.html.j2").render(
        comparison=comparison,
        summary=_summary(groups, rows, best),
        pareto=front,
        quality_metric=quality_metric,
        speed_chart=speed_chart,
        curve_charts=_curve_charts(record),
        splits=splits,
        blends=_blends(record, files, base, image_metrics),
        blend_metrics=(record.evaluation.get("blends") or {}).get("style_metrics", {}),
        breakdowns=_breakdowns(record, image_metrics, names),
        image_metrics=image_metrics,
        record=record,
        metrics=metrics,
        groups=groups,
        columns=columns,
        variants=variants,
        rows=rows,
        grid=grid,
        pair_methods=pair_methods,
        domain_methods=domain_methods,
        directions=directions,
        forward_methods=[m for m in domain_methods if directions[m] != "style_to_photo"],
        reverse_methods=[m for m in domain_methods if directions[m] == "style_to_photo"],
        names=names,
        inputs=inputs,
        failures=failures,
        notes=notes,
        set_errors=set_errors,
        confidence=f"{CONFIDENCE:.0%}",
        resamples=RESAMPLES,
        sets=record.evaluation.get("sets"),
        refused=files.refused,
        scores_csv=_link(scores_file, base) if scores_file.is_file() else "",
        script=SCRIPT,
        script_hash="sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode(),
    )


#: The per-cell scores beside the record, for a spreadsheet or pandas (linked from the report).
SCORES_CSV = "scores.csv"


def write_scores(record: RunRecord, run_dir: Path) -> Path:
    """Write every successful cell's per-image scores as CSV into the run folder."""
    path = run_dir / SCORES_CSV
    write_text_atomic(path, cell_scores(record).to_csv(index=False))
    return path


def write_report(
    record: RunRecord, run_dir: Path, comparison: dict | None = None, path: Path | None = None
) -> Path:
    """Write ``report.html`` (with ``grid.png`` and ``scores.csv``) into the run folder, with a
    comparison section if given (`reports.compare.Comparison.as_dict`); returns the report
    path. A report written elsewhere links the run's files relative to where it is."""
    files = RunFiles(run_dir)
    write_grid(record, run_dir, files)
    write_scores(record, run_dir)
    path = path or run_dir / "report.html"
    html = render_report(record, run_dir, comparison, files, base=path.resolve().parent)
    write_text_atomic(path, html)
    return path


def _night_label(entry: dict) -> str:
    """An x tick of the trend charts: the night's date and commit."""
    return f"{str(entry.get('finished', ''))[5:10]} {str(entry.get('git_commit', ''))[:7]}"


def render_trend(history: list[dict], folder: Path | None = None) -> str:
    """The nightly trend page: one chart per metric (a line per method, its night-to-night
    noise band shaded, change points dashed; nights by date and commit) and the table of
    nights, each linked to its report and comparison (relative to ``folder``, the page's)."""
    from stylebench.reports.trend import change_points, noise_sigma

    metrics = sorted({m for e in history for v in e["values"].values() for m in v})
    methods = sorted({m for e in history for m in e["values"]})
    ticks = [(night, _night_label(e)) for night, e in enumerate(history, 1)]
    step = max(1, len(ticks) // 12)  # at most about a dozen labels on an axis
    charts, shifts = [], []
    for metric in metrics:
        series = []
        for method in methods:
            points = [
                (night, e["values"][method][metric])
                for night, e in enumerate(history, 1)
                if metric in e["values"].get(method, {})
                and math.isfinite(e["values"][method][metric])
            ]
            if not points:
                continue
            values = [v for _, v in points]
            found = change_points(values)
            marks = [points[i][0] - 0.5 for i in found]
            shifts += [(metric, method, history[points[i][0] - 1]["run_id"]) for i in found]
            sigma = 2 * noise_sigma(np.asarray(values)) if len(values) > 2 else 0.0
            band = [(v - sigma, v + sigma) for v in values] if sigma > 0 else None
            series.append(Series(method, points, marks, band))
        if series:
            charts.append(
                line_chart(metric, series, "night (date, commit)", metric, False, ticks[::step])
            )
    return _ENV.get_template("trend.html.j2").render(
        history=[_night_links(e, folder) for e in reversed(history)], charts=charts, shifts=shifts
    )


def _night_links(entry: dict, folder: Path | None) -> dict:
    """A history entry with relative links to its report and comparison, where they exist."""
    links = {}
    report = Path(entry["report"]) if entry.get("report") else None
    if report is not None and report.is_file():
        links["report"] = _link(report, folder) if folder else report.as_uri()
        comparison = report.parent / "comparison.md"
        if comparison.is_file():
            links["comparison"] = _link(comparison, folder) if folder else comparison.as_uri()
    return entry | {"links": links}


def write_trend(history: list[dict], path: Path) -> Path:
    """Write the trend page atomically; returns its path."""
    write_text_atomic(path, render_trend(history, path.resolve().parent))
    return path

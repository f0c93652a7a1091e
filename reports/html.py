"""The self-contained HTML report of one run, rendered from its record alone.

Images are embedded as data URIs and there are no external scripts, styles or fonts, so the file
opens offline and can be mailed around. Every string that comes from users (file names, suite
names, settings, errors) goes through Jinja's autoescaping.
"""

from __future__ import annotations

import base64
import hashlib
import math
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from reports.grid import write_grid
from reports.stats import CONFIDENCE, RESAMPLES
from reports.tables import (
    best_per_metric,
    intervals,
    leaderboard,
    set_score,
    split_methods,
    split_scores,
)

_ENV = Environment(
    loader=PackageLoader("reports", "templates"),
    autoescape=select_autoescape(["html", "j2"], default=True),
)


#: The report's only script: click an image to enlarge it (allowed by hash in the page's CSP).
SCRIPT = """
const zoom = document.getElementById("zoom");
document.querySelectorAll(".grid img").forEach((img) => {
  img.addEventListener("click", () => { zoom.querySelector("img").src = img.src; zoom.classList.add("open"); });
});
zoom.addEventListener("click", () => zoom.classList.remove("open"));
"""


def _data_uri(path: Path) -> str:
    if not path.is_file():
        return ""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _score_cell(record: dict, table, cis: dict, method: str, metric: str, notes: list) -> dict:
    """One leaderboard cell: the value, a second line (CI, N or std) and any warning's number."""
    info = record["metrics"][metric]
    per = info["per"]
    cell = {"text": _fmt(table.at[method, metric]), "detail": "", "note": None, "title": ""}
    if per == "image" and metric in cis.get(method, {}):
        ci = cis[method][metric]
        cell["detail"] = f"[{_fmt(ci.low)}, {_fmt(ci.high)}]" if ci.low is not None else "n=1"
        domain = (record["methods"][method].get("needs") or {}).get("style") == "domain"
        if domain and "style" in info.get("needs", ()):
            cell["detail"] += " vs style-set mean"
            cell["title"] = "domain method: against the mean Gram matrices of the style set"
    elif per == "method":
        details = record["methods"][method].get(f"{metric}_details") or {}
        cell["detail"] = f"batch {details['batch_size']}" if "batch_size" in details else ""
        cell["title"] = details.get("error") or ""
    elif per == "set":
        score = set_score(record, method, metric)
        if score.get("std") is not None:
            cell["text"] += f" ± {_fmt(score['std'])}"
        if score:
            cell["detail"] = f"N={score['n']} vs {score['n_reference']}"
        cell["title"] = score.get("error") or ""
        for warning in score.get("warnings") or []:
            if warning not in notes:
                notes.append(warning)
            cell["note"] = notes.index(warning) + 1
    return cell


def _output(cell: dict | None, run_dir: Path, method: str) -> dict:
    return {
        "method": method,
        "src": _data_uri(run_dir / cell["output"]) if cell and cell["output"] else "",
        "error": cell["error"] if cell else "not run",
    }


def _grid(record: dict, run_dir: Path, pair_methods: list[str], domain_methods: list[str]) -> list:
    """One row per (content, style) pair with each per-pair method's output; a domain method's
    one output per content image sits in the content's first row, spanning its style rows."""
    suite = record["suite"]
    pairs = {(c["method"], c["content"], c["style"]): c for c in record["cells"]}
    domain = {
        (c["method"], c["content"]): c for c in record["cells"] if c["method"] in domain_methods
    }
    rows = []
    for content in suite["content"]:
        for index, style in enumerate(suite["style"]):
            rows.append(
                {
                    "content": content["key"],
                    "style": style["key"],
                    "outputs": [
                        _output(pairs.get((m, content["key"], style["key"])), run_dir, m)
                        for m in pair_methods
                    ],
                    "domain": [
                        _output(domain.get((m, content["key"])), run_dir, m) for m in domain_methods
                    ]
                    if index == 0
                    else [],
                    "span": len(suite["style"]),
                }
            )
    return rows


def render_report(record: dict, run_dir: Path) -> str:
    """The report of ``record`` as one HTML string (images read from ``run_dir``)."""
    table = leaderboard(record)
    metrics = record["metrics"]
    best = best_per_metric(table, metrics)
    cis = intervals(record)
    notes: list[str] = []
    rows = [
        {
            "method": method,
            "paper": record["methods"][method]["paper"],
            "scores": [
                {
                    **_score_cell(record, table, cis, method, m, notes),
                    "best": best.get(m) == method,
                }
                for m in metrics
            ],
            "n": int(table.at[method, "n"]),
            "failed": int(table.at[method, "failed"]),
        }
        for method in table.index
    ]
    set_errors = [
        (method, name, score["error"])
        for method, summary in record["methods"].items()
        for name, score in (summary.get("set_scores") or {}).items()
        if score.get("error")
    ] + [
        (method, "set metrics", summary["method_error"])
        for method, summary in record["methods"].items()
        if summary.get("method_error")
    ]
    suite = record["suite"]
    names = {r["key"]: r["name"] for r in suite["content"] + suite["style"]}
    inputs = {r["key"]: _data_uri(run_dir / r["input"]) for r in suite["content"] + suite["style"]}
    pair_methods, domain_methods = split_methods(record)
    grid = _grid(record, run_dir, pair_methods, domain_methods)
    failures = [c for c in record["cells"] if c["status"] != "ok"]
    per_split = split_scores(record)
    image_metrics = [m for m, info in metrics.items() if info["per"] == "image"]
    splits = [
        {
            "method": method,
            "split": split,
            "scores": [_fmt(per_split.at[(method, split), m]) for m in image_metrics],
            "n": int(per_split.at[(method, split), "n"]),
        }
        for method, split in per_split.index
    ]
    return _ENV.get_template("report.html.j2").render(
        splits=splits,
        image_metrics=image_metrics,
        record=record,
        metrics=metrics,
        rows=rows,
        grid=grid,
        pair_methods=pair_methods,
        domain_methods=domain_methods,
        names=names,
        inputs=inputs,
        failures=failures,
        notes=notes,
        set_errors=set_errors,
        confidence=f"{CONFIDENCE:.0%}",
        resamples=RESAMPLES,
        sets=record["evaluation"].get("sets"),
        script=SCRIPT,
        script_hash="sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode(),
    )


def write_report(record: dict, run_dir: Path) -> Path:
    """Write ``report.html`` (and ``grid.png``) into the run folder; returns the report path."""
    write_grid(record, run_dir)
    path = run_dir / "report.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_report(record, run_dir), encoding="utf-8")
    tmp.replace(path)
    return path

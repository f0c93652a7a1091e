"""Tables computed from a run record (pandas only: reports never import torch)."""

from __future__ import annotations

import pandas as pd

from stylebench.record_model import MetricEntry, RunRecord, SetScore
from stylebench.reports.stats import Interval, bootstrap_ci


def cell_scores(record: RunRecord, blends: bool = True) -> pd.DataFrame:
    """One row per successful cell, one column per per-image metric. ``blends=False`` leaves
    out blend cells: the leaderboard's means are over the suite's style images, the same cells
    for every method whether it blends or not (`blend_scores` has the blends)."""
    rows = [
        {"method": c.method, "content": c.content, "style": c.style, **c.scores}
        for c in record.ok_cells()
        if blends or record.suite.blend(c.style) is None
    ]
    return pd.DataFrame(rows, columns=["method", "content", "style", *record.metrics])


def blend_scores(record: RunRecord) -> pd.DataFrame:
    """Per-image metric means of each method on each blend, indexed by (method, blend key),
    with N (empty without blends)."""
    per_image = record.metrics_per("image")
    scores = cell_scores(record)
    scores = scores[[record.suite.blend(style) is not None for style in scores["style"]]]
    table = scores.groupby(["method", "style"], sort=False)[per_image].mean()
    table["n"] = scores.groupby(["method", "style"], sort=False).size()
    return table


def split_methods(record: RunRecord) -> tuple[list[str], list[str]]:
    """The record's methods that stylize (content, style) pairs, and those that map content to a
    style domain (one output per content image, scored against the style set), in order."""
    domain = [name for name, summary in record.methods.items() if summary.is_domain]
    return [name for name in record.methods if name not in domain], domain


def set_score(record: RunRecord, method: str, metric: str) -> SetScore | None:
    """A method's score on a per-set metric (value, N, warnings...), or None if it has none."""
    return record.methods[method].set_scores.get(metric)


def leaderboard(record: RunRecord) -> pd.DataFrame:
    """Mean of each metric per method (rows in the record's method order), with N per cell
    (blend cells apart: `blend_scores`)."""
    scores = cell_scores(record, blends=False)
    per_image = record.metrics_per("image")
    table = (
        scores.groupby("method")[per_image].mean()
        if len(scores)
        else pd.DataFrame(columns=per_image)
    )
    table = table.reindex(list(record.methods))
    for name, info in record.metrics.items():
        if info.per == "method":
            table[name] = [record.methods[m].per_method(name) for m in table.index]
        elif info.per == "set":
            scores_of = [set_score(record, m, name) for m in table.index]
            table[name] = [score.value if score else None for score in scores_of]
    table["n"] = scores.groupby("method").size().reindex(table.index).fillna(0).astype(int)
    table["failed"] = [record.methods[m].cells_failed for m in table.index]
    return table


def intervals(record: RunRecord) -> dict[str, dict[str, Interval]]:
    """Mean and bootstrap 95% interval of every per-image metric, per method (blend cells
    apart, as in the leaderboard)."""
    scores = cell_scores(record, blends=False)
    per_image = record.metrics_per("image")
    result: dict[str, dict[str, Interval]] = {}
    for method in record.methods:
        mine = scores[scores["method"] == method]
        result[method] = {}
        for metric in per_image:
            values = mine[metric].tolist() if metric in mine else []
            try:
                result[method][metric] = bootstrap_ci(values)
            except ValueError:
                continue
    return result


def best_per_metric(table: pd.DataFrame, metrics: dict[str, MetricEntry]) -> dict[str, str]:
    """The winning method for each metric, honouring each metric's direction."""
    best = {}
    for name, info in metrics.items():
        column = table[name].dropna() if name in table else pd.Series(dtype=float)
        if len(column):
            best[name] = column.idxmax() if info.higher_is_better else column.idxmin()
    return best


def split_scores(record: RunRecord) -> pd.DataFrame:
    """Per-image metric means of each method on styles it was trained on (``train``) and on
    styles it never saw (``heldout``); only methods with held-out cells, indexed by
    (method, split), with N."""
    per_image = record.metrics_per("image")
    rows = [
        {"method": c.method, "split": c.style_split, **c.scores}
        for c in record.ok_cells()
        if c.style_split in ("train", "heldout")
    ]
    scores = pd.DataFrame(rows, columns=["method", "split", *per_image])
    held_out = set(scores.loc[scores["split"] == "heldout", "method"])
    scores = scores[scores["method"].isin(held_out)]
    table = scores.groupby(["method", "split"])[per_image].mean()
    table["n"] = scores.groupby(["method", "split"]).size()
    return table


def headline_values(record: RunRecord) -> dict[str, dict[str, float]]:
    """Each method's leaderboard numbers (finite ones), as the nightly history keeps them."""
    table = leaderboard(record)
    values: dict[str, dict[str, float]] = {}
    for method in table.index:
        values[method] = {}
        for metric in [*record.metrics, "failed"]:
            value = table.at[method, metric] if metric in table else None
            if value is not None and pd.notna(value):
                values[method][metric] = float(value)
    return values


#: The report's metric groups, in the leaderboard's column order: cost next to the method name.
GROUPS = ("cost", "content fidelity", "style match", "distribution match")


def metric_group(info: MetricEntry) -> str:
    """Which question a metric answers: a set metric compares distributions; a per-image metric
    that compares with the content image measures content fidelity, one with the style image
    style match; what compares with nothing, or is measured once per method (latency, memory,
    throughput, prepare time), is a cost."""
    if info.per == "set":
        return "distribution match"
    needs = info.needs
    if info.per == "method" or not needs:
        return "cost"
    if "content" in needs:
        return "content fidelity"
    if "style" in needs:
        return "style match"
    return "cost"


def grouped_metrics(metrics: dict[str, MetricEntry]) -> dict[str, list[str]]:
    """The record's metrics by group, in `GROUPS` order (empty groups left out)."""
    groups: dict[str, list[str]] = {group: [] for group in GROUPS}
    for name, info in metrics.items():
        groups[metric_group(info)].append(name)
    return {group: names for group, names in groups.items() if names}


#: Each group's headline metric in the report's summary: the first of these the run has.
HEADLINES = {
    "cost": ("latency", "throughput", "peak_memory"),
    "content fidelity": ("lpips", "content_loss", "cfsd"),
    "style match": ("style_loss",),
    "distribution match": ("artfid", "fid", "kid"),
}


def headline(group: str, names: list[str]) -> str:
    """The metric that answers a group's question at a glance."""
    return next((name for name in HEADLINES.get(group, ()) if name in names), names[0])


def breakdown(record: RunRecord, by: str) -> pd.DataFrame:
    """Per-image metric means per method and ``by`` (``content`` or ``style``): where a method
    wins on average, whether it wins on every image. Indexed by (method, image key), with N."""
    per_image = record.metrics_per("image")
    scores = cell_scores(record, blends=False)
    table = scores.groupby(["method", by], sort=False)[per_image].mean()
    table["n"] = scores.groupby(["method", by], sort=False).size()
    return table

"""Compare a candidate run with a baseline run: per method and metric, the change, whether it is
beyond noise, and a verdict (improved / unchanged / regressed).

Read from two records only (nothing is recomputed). The rules, chosen so that a nightly gate
is right about noise:

- **Per-image metrics** (content/style loss, LPIPS, CFSD, latency...): the cells of both runs
  are paired by (method, content image, style image) and the mean paired difference gets a
  seeded percentile-bootstrap 95% interval over images (`reports.stats`). A change counts only
  if the interval excludes zero (it is beyond the image-to-image noise) *and* the mean change is
  larger than the metric's practical threshold (it matters).
- **Per-set metrics** (FID, KID, ArtFID...): one value per run, so no paired test; the change
  counts when it leaves the tolerance band: the practical threshold, widened for KID by twice
  the combined standard deviation over subsets. Values computed on different N are not compared.
- **Per-method metrics** (throughput, prepare time): the practical threshold alone.
- **Runtime metrics** are compared only when both runs ran on the same devices.

Practical thresholds are relative to the baseline's value (``0.02`` = 2%), per metric, with
defaults below; ``--threshold METRIC=VALUE`` overrides one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from stylebench.reports.stats import CONFIDENCE, RESAMPLES, SEED

Verdict = Literal["improved", "unchanged", "regressed", "not compared"]

#: Relative change that matters, per metric; others get ``DEFAULT_THRESHOLD``.
THRESHOLDS: dict[str, float] = {
    "latency": 0.10,
    "peak_memory": 0.10,
    "throughput": 0.10,
    "prepare_time": 0.10,
    "fid": 0.05,
    "kid": 0.05,
    "artfid": 0.05,
    "fid_infinity": 0.05,
    "artfid_infinity": 0.05,
}
DEFAULT_THRESHOLD = 0.02
RUNTIME = frozenset({"latency", "peak_memory", "throughput", "prepare_time"})


class ComparisonError(ValueError):
    """Two records that cannot be compared (another suite, or random vs pretrained weights)."""


@dataclass(frozen=True)
class Change:
    """One (method, metric) line of a comparison."""

    method: str
    metric: str
    per: str
    higher_is_better: bool
    baseline: float | None
    candidate: float | None
    delta: float | None
    relative: float | None
    threshold: float
    noise: str
    verdict: Verdict
    reason: str = ""
    n: int = 0

    @property
    def direction(self) -> str:
        """``better`` / ``worse`` / ``same`` in the metric's own sense (not yet a verdict)."""
        if self.delta is None or self.delta == 0:
            return "same"
        return "better" if (self.delta > 0) == self.higher_is_better else "worse"


@dataclass
class Comparison:
    """Every change, plus what was compared."""

    baseline: str
    candidate: str
    suite: str
    same_device: bool
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.verdict == "regressed"]

    @property
    def improvements(self) -> list[Change]:
        return [c for c in self.changes if c.verdict == "improved"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "candidate": self.candidate,
            "suite": self.suite,
            "same_device": self.same_device,
            "notes": self.notes,
            "regressed": len(self.regressions),
            "improved": len(self.improvements),
            "changes": [{**asdict(c), "direction": c.direction} for c in self.changes],
        }


def paired_interval(
    differences: np.ndarray, confidence: float = CONFIDENCE, resamples: int = RESAMPLES
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of paired differences (seeded: a comparison
    of the same two records always gives the same verdict)."""
    if len(differences) < 2:
        return -math.inf, math.inf
    rng = np.random.default_rng(SEED)
    index = rng.integers(0, len(differences), size=(resamples, len(differences)))
    means = differences[index].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def _verdict(
    delta: float, baseline: float, threshold: float, higher_is_better: bool, beyond_noise: bool
) -> Verdict:
    matters = abs(delta) > threshold * abs(baseline) if baseline else delta != 0
    if not (beyond_noise and matters):
        return "unchanged"
    return "improved" if (delta > 0) == higher_is_better else "regressed"


def _cell_scores(record: Mapping[str, Any], method: str, metric: str) -> dict[tuple, float]:
    names = {r["key"]: r["name"] for r in record["suite"]["content"] + record["suite"]["style"]}
    scores = {}
    for cell in record["cells"]:
        value = (cell.get("scores") or {}).get(metric)
        ok = cell["method"] == method and cell["status"] == "ok"
        if ok and value is not None and math.isfinite(value):
            scores[names.get(cell["content"]), names.get(cell["style"])] = float(value)
    return scores


def _per_image(
    base: Mapping[str, Any], cand: Mapping[str, Any], method: str, metric: str, info: dict, t: float
) -> Change:
    before, after = _cell_scores(base, method, metric), _cell_scores(cand, method, metric)
    pairs = sorted(set(before) & set(after))
    common = dict(method=method, metric=metric, per="image", threshold=t)
    common["higher_is_better"] = info["higher_is_better"]
    if not pairs:
        return Change(
            **common, baseline=None, candidate=None, delta=None, relative=None, noise="",
            verdict="not compared", reason="no image scored in both runs",
        )  # fmt: skip
    b = np.array([before[k] for k in pairs])
    c = np.array([after[k] for k in pairs])
    low, high = paired_interval(c - b)
    delta = float((c - b).mean())
    beyond = low > 0 or high < 0
    lost = len(before) - len(pairs)
    return Change(
        **common,
        baseline=float(b.mean()),
        candidate=float(c.mean()),
        delta=delta,
        relative=delta / abs(b.mean()) if b.mean() else None,
        noise=f"paired {CONFIDENCE:.0%} CI [{low:.4g}, {high:.4g}]" if len(pairs) > 1 else "n=1",
        verdict=_verdict(delta, float(b.mean()), t, info["higher_is_better"], beyond),
        reason=f"{lost} baseline image(s) not scored in the candidate" if lost else "",
        n=len(pairs),
    )


def _set_score(record: Mapping[str, Any], method: str, metric: str) -> dict[str, Any]:
    return (record["methods"][method].get("set_scores") or {}).get(metric) or {}


def _per_set(
    base: Mapping[str, Any], cand: Mapping[str, Any], method: str, metric: str, info: dict, t: float
) -> Change:
    before, after = _set_score(base, method, metric), _set_score(cand, method, metric)
    common = dict(method=method, metric=metric, per="set", threshold=t)
    common["higher_is_better"] = info["higher_is_better"]
    b, c = before.get("value"), after.get("value")
    if b is None or c is None:
        return Change(
            **common, baseline=b, candidate=c, delta=None, relative=None, noise="",
            verdict="not compared", reason="no value in " + ("baseline" if b is None else "candidate"),
        )  # fmt: skip
    if (before.get("n"), before.get("n_reference")) != (after.get("n"), after.get("n_reference")):
        return Change(
            **common, baseline=b, candidate=c, delta=c - b, relative=None, noise="",
            verdict="not compared",
            reason=f"N differs ({before.get('n')} vs {after.get('n')} outputs): "
            "set metrics depend on N",
        )  # fmt: skip
    band = t * abs(b)
    noise = f"band ±{band:.4g}"
    if before.get("std") is not None and after.get("std") is not None:
        spread = 2 * math.hypot(before["std"], after["std"])
        band = max(band, spread)
        noise = f"band ±{band:.4g} (2 std of subsets {spread:.4g})"
    delta = c - b
    verdict: Verdict = "unchanged"
    if abs(delta) > band:
        verdict = "improved" if (delta > 0) == info["higher_is_better"] else "regressed"
    return Change(
        **common, baseline=b, candidate=c, delta=delta, relative=delta / abs(b) if b else None,
        noise=noise, verdict=verdict, n=int(after.get("n") or 0),
    )  # fmt: skip


def _per_method(
    base: Mapping[str, Any], cand: Mapping[str, Any], method: str, metric: str, info: dict, t: float
) -> Change:
    b, c = base["methods"][method].get(metric), cand["methods"][method].get(metric)
    common = dict(method=method, metric=metric, per="method", threshold=t)
    common["higher_is_better"] = info["higher_is_better"]
    if b is None or c is None:
        return Change(
            **common, baseline=b, candidate=c, delta=None, relative=None, noise="",
            verdict="not compared", reason="no value in " + ("baseline" if b is None else "candidate"),
        )  # fmt: skip
    delta = float(c) - float(b)
    return Change(
        **common, baseline=float(b), candidate=float(c), delta=delta,
        relative=delta / abs(b) if b else None, noise="threshold only",
        verdict=_verdict(delta, float(b), t, info["higher_is_better"], True), n=1,
    )  # fmt: skip


def check_comparable(baseline: Mapping[str, Any], candidate: Mapping[str, Any]) -> None:
    """Refuse comparisons whose numbers mean different things."""
    b, c = baseline["suite"], candidate["suite"]
    if (b["name"], b["version"]) != (c["name"], c["version"]):
        raise ComparisonError(
            f"baseline is suite {b['name']} v{b['version']}, candidate {c['name']} v{c['version']}: "
            "compare runs of the same suite version"
        )
    if baseline["weights"]["random"] != candidate["weights"]["random"]:
        raise ComparisonError(
            "one run has random weights and the other pretrained weights: their numbers are not "
            "comparable"
        )


def compare(
    baseline: Mapping[str, Any],
    candidate: Mapping[str, Any],
    thresholds: Mapping[str, float] | None = None,
) -> Comparison:
    """Compare every (method, metric) both records have."""
    check_comparable(baseline, candidate)
    limits = {**THRESHOLDS, **(thresholds or {})}
    same_device = baseline["environment"]["devices"] == candidate["environment"]["devices"]
    result = Comparison(
        baseline=baseline["run_id"],
        candidate=candidate["run_id"],
        suite=f"{candidate['suite']['name']} v{candidate['suite']['version']}",
        same_device=same_device,
    )
    if baseline["suite"].get("file_list_hash") != candidate["suite"].get("file_list_hash"):
        result.notes.append("the suites' file lists differ: only images in both are paired")
    if not same_device:
        result.notes.append(
            "runtime not compared: devices differ "
            f"({', '.join(baseline['environment']['devices']) or '-'} vs "
            f"{', '.join(candidate['environment']['devices']) or '-'})"
        )
    by_per = {"image": _per_image, "set": _per_set, "method": _per_method}
    for method in candidate["methods"]:
        if method not in baseline["methods"]:
            result.notes.append(f"{method}: not in the baseline")
            continue
        for metric, info in candidate["metrics"].items():
            if metric not in baseline["metrics"]:
                continue
            threshold = limits.get(metric, DEFAULT_THRESHOLD)
            change = by_per[info["per"]](baseline, candidate, method, metric, info, threshold)
            if metric in RUNTIME and not same_device:
                change = Change(
                    **{**asdict(change), "verdict": "not compared", "reason": "devices differ"}
                )
            result.changes.append(change)
        result.changes.append(_failed_cells(baseline, candidate, method))
    return result


def _failed_cells(base: Mapping[str, Any], cand: Mapping[str, Any], method: str) -> Change:
    """More failed cells than the baseline is a regression, whatever the scores of the rest."""
    b = base["methods"][method]["cells_failed"]
    c = cand["methods"][method]["cells_failed"]
    verdict: Verdict = "regressed" if c > b else "improved" if c < b else "unchanged"
    return Change(
        method=method, metric="failed_cells", per="method", higher_is_better=False,
        baseline=float(b), candidate=float(c), delta=float(c - b), relative=None, threshold=0.0,
        noise="count", verdict=verdict, n=cand["methods"][method]["cells_planned"],
    )  # fmt: skip


def parse_thresholds(items: list[str]) -> dict[str, float]:
    """``["lpips=0.05", ...]`` -> ``{"lpips": 0.05}`` (relative thresholds)."""
    parsed = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            parsed[name.strip()] = float(value)
        except ValueError:
            parsed[name.strip()] = -1.0
        if not name.strip() or not parsed[name.strip()] >= 0:
            raise ValueError(f"--threshold {item!r}: expected METRIC=FRACTION, e.g. lpips=0.05")
    return parsed


def to_markdown(comparison: Comparison) -> str:
    """The comparison as a markdown table (for PR comments and nightly mails)."""
    lines = [
        f"### stylebench compare: {comparison.candidate} vs {comparison.baseline} "
        f"({comparison.suite})",
        "",
        f"**{len(comparison.regressions)} regressed, {len(comparison.improvements)} improved**",
        "",
        "| method | metric | baseline | candidate | change | noise | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in comparison.changes:
        lines.append(
            f"| {c.method} | {c.metric} {'↑' if c.higher_is_better else '↓'} | {fmt(c.baseline)} "
            f"| {fmt(c.candidate)} | {fmt_change(c)} | {c.noise} | {c.verdict}"
            f"{f' ({c.reason})' if c.reason else ''} |"
        )
    lines += ["", *[f"- {note}" for note in comparison.notes]]
    return "\n".join(lines).rstrip() + "\n"


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def fmt_change(change: Change) -> str:
    """``+0.012 (+3.1%, worse)``."""
    if change.delta is None:
        return "-"
    relative = f", {change.relative:+.1%}" if change.relative is not None else ""
    return f"{change.delta:+.4g} ({change.direction}{relative})"

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
  the combined standard deviation over subsets. Values computed on different N, and values the
  record marks unreliable (FID-infinity extrapolated from fewer outputs than its protocol
  needs), are not compared.
- **Figures measured once per run** (throughput, prepare time) have no spread of their own
  within a run: they are compared only against a noise estimate, the spread of throughput's
  timed repeats or the nightly history's night-to-night spread, else not compared.
- **Runtime metrics** are compared only when both runs ran on the same devices, and a change
  smaller than an absolute floor (timer and allocator granularity) never counts, whatever its
  relative size: 2e-5 s -> 1.3e-4 s is +480% of nothing.
- **Night-to-night noise**: given the history's values (``bench nightly``, ``bench compare
  --history``), every band is at least `Z` times the noise of a difference of two nights, so a
  metric that wanders from night to night (runtime on a shared machine) does not cry wolf.

Practical thresholds are relative to the baseline's value (``0.02`` = 2%), per metric, with
defaults below; ``--threshold METRIC=VALUE`` overrides one. The comparison opens with what else
differs between the runs (`reports.changes`), and lists regressions first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from stylebench.record_model import MetricEntry, RunRecord, SetScore
from stylebench.reports.changes import Difference, what_changed
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
#: Figures a run measures once (per method): no spread of their own.
ONCE_PER_RUN = frozenset({"throughput", "prepare_time"})
#: Absolute changes that never count (seconds, MiB): timer, scheduler and allocator jitter.
FLOORS: dict[str, float] = {"latency": 5e-4, "prepare_time": 0.05, "peak_memory": 16.0}
#: Throughput's floor: the seconds its batch takes change by less than latency's floor.
BATCH_FLOOR_S = FLOORS["latency"]
#: A noise band is this many standard deviations of the difference, each standard deviation
#: taken at the upper end of its 95% interval (`upper_sd`): a false alarm from noise alone is
#: then rarer than 5e-4 per metric with 5 nights of history, 1e-4 with 7 or more.
Z = 4.0
#: Nights of history needed before their spread is used as a noise estimate.
MIN_NIGHTS = 5
#: Timed repeats needed before their spread is used as a noise estimate.
MIN_REPEATS = 3
#: Order of verdicts in every output: what needs a look first.
ORDER: dict[str, int] = {"regressed": 0, "improved": 1, "not compared": 2, "unchanged": 3}


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
    #: How far the value could move without counting (None: not compared).
    band: float | None = None

    @property
    def direction(self) -> str:
        """``better`` / ``worse`` / ``same`` in the metric's own sense (not yet a verdict)."""
        if self.delta is None or self.delta == 0:
            return "same"
        return "better" if (self.delta > 0) == self.higher_is_better else "worse"


@dataclass
class Comparison:
    """Every change, plus what was compared and what else differs between the runs."""

    baseline: str
    candidate: str
    suite: str
    same_device: bool
    commits: tuple[str, str] = ("", "")
    what_changed: list[Difference] = field(default_factory=list)
    log: list[str] | None = None
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
            "commits": {"baseline": self.commits[0], "candidate": self.commits[1]},
            "what_changed": [asdict(d) for d in self.what_changed],
            "what_changed_text": changed_lines(self),
            "log": self.log,
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


@dataclass(frozen=True)
class Band:
    """How far a value may move before the move counts, and which term set that."""

    width: float
    why: str

    def __str__(self) -> str:
        return f"band ±{self.width:.4g} ({self.why})"


#: Standard deviation of one night's value, and the nights it was estimated from.
NightNoise = Mapping[tuple[str, str], tuple[float, int]]


def upper_sd(sd: float, df: int) -> float:
    """Upper end of the 95% interval of a standard deviation estimated with ``df`` degrees of
    freedom (chi-square quantile by Wilson-Hilferty): a few nights or repeats can look quiet
    by chance, and a band built on that luck would cry wolf."""
    quantile = df * (1 - 2 / (9 * df) - 1.645 * math.sqrt(2 / (9 * df))) ** 3
    return sd * math.sqrt(df / quantile)


def night_sigma(values: Sequence[float]) -> float:
    """One night's noise from consecutive nights' differences (a slow drift cancels out; a
    step only widens it, which errs towards no alarm): their standard deviation / sqrt 2, at
    its upper 95% bound."""
    diffs = np.diff(np.asarray(values, dtype=np.float64))
    return upper_sd(float(np.std(diffs, ddof=1)) / math.sqrt(2), len(diffs) - 1)


def night_noise(history: Sequence[Mapping[str, Mapping[str, float]]]) -> dict:
    """Per (method, metric), `night_sigma` of the nightly history's values (oldest first) where
    at least `MIN_NIGHTS` nights have one, with that count."""
    series: dict[tuple[str, str], list[float]] = {}
    for night in history:
        for method, values in night.items():
            for metric, value in values.items():
                if value is not None and math.isfinite(value):
                    series.setdefault((method, metric), []).append(float(value))
    return {
        key: (night_sigma(values), len(values))
        for key, values in series.items()
        if len(values) >= MIN_NIGHTS
    }


def _band(metric: str, baseline: float, threshold: float, noise: list[tuple[float, str]]) -> Band:
    """The widest of: the relative threshold, the metric's absolute floor, the noise terms."""
    terms = [(threshold * abs(baseline), f"threshold {threshold:.0%}")]
    if metric in FLOORS:
        terms.append((FLOORS[metric], f"floor {FLOORS[metric]:g}"))
    terms += noise
    width, why = max(terms, key=lambda term: term[0])
    return Band(width, why)


def _night_term(nights: NightNoise, method: str, metric: str) -> list[tuple[float, str]]:
    """The band a difference of two nights needs to leave: `Z` sigma of that difference."""
    if (method, metric) not in nights:
        return []
    sigma, count = nights[method, metric]
    return [(Z * math.sqrt(2) * sigma, f"{Z:g} sigma of {count} nights")]


def _verdict(delta: float, band: Band, higher_is_better: bool, beyond_noise: bool) -> Verdict:
    if not (beyond_noise and abs(delta) > band.width):
        return "unchanged"
    return "improved" if (delta > 0) == higher_is_better else "regressed"


def _cell_scores(record: RunRecord, method: str, metric: str) -> dict[tuple, float]:
    """A method's scores by (content name, style name); blend cells are left out, as in the
    leaderboard."""
    names = {r.key: r.name for r in record.suite.content + record.suite.style}
    scores = {}
    for cell in record.ok_cells(method):
        if record.suite.blend(cell.style) is not None:
            continue
        value = cell.scores.get(metric)
        if value is not None and math.isfinite(value):
            scores[names.get(cell.content), names.get(cell.style)] = float(value)
    return scores


def _per_image(
    base: RunRecord,
    cand: RunRecord,
    method: str,
    metric: str,
    info: MetricEntry,
    t: float,
    nights: NightNoise,
) -> Change:
    before, after = _cell_scores(base, method, metric), _cell_scores(cand, method, metric)
    pairs = sorted(set(before) & set(after))
    common = dict(method=method, metric=metric, per="image", threshold=t)
    common["higher_is_better"] = info.higher_is_better
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
    band = _band(metric, float(b.mean()), t, _night_term(nights, method, metric))
    interval = f"paired {CONFIDENCE:.0%} CI [{low:.4g}, {high:.4g}]" if len(pairs) > 1 else "n=1"
    return Change(
        **common,
        baseline=float(b.mean()),
        candidate=float(c.mean()),
        delta=delta,
        relative=delta / abs(b.mean()) if b.mean() else None,
        noise=f"{interval}; {band}",
        band=band.width,
        verdict=_verdict(delta, band, info.higher_is_better, beyond),
        reason=f"{lost} baseline image(s) not scored in the candidate" if lost else "",
        n=len(pairs),
    )


def _set_score(record: RunRecord, method: str, metric: str) -> SetScore:
    return record.methods[method].set_scores.get(metric) or SetScore()


def unreliable(score: SetScore) -> str | None:
    """Why a set score must not be compared: the record says so, or (records written before it
    did) its FID-infinity fit never reached the protocol's first subset size."""
    if score.unreliable:
        return score.unreliable
    start, sizes = score.details.get("start"), score.details.get("sizes")
    if start and sizes and max(sizes) <= start:
        return (
            f"fitted on {min(sizes)}..{max(sizes)} outputs, fewer outputs than its protocol "
            f"needs (from {start:,})"
        )
    return None


def _missing(score: SetScore, side: str) -> str:
    """``no value in baseline``, with the score's own error or last warning when it has one."""
    why = score.error or (score.warnings or [None])[-1]
    return f"no value in {side}" + (f": {why}" if why else "")


def _per_set(
    base: RunRecord,
    cand: RunRecord,
    method: str,
    metric: str,
    info: MetricEntry,
    t: float,
    nights: NightNoise,
) -> Change:
    before, after = _set_score(base, method, metric), _set_score(cand, method, metric)
    common = dict(method=method, metric=metric, per="set", threshold=t)
    common["higher_is_better"] = info.higher_is_better
    b, c = before.value, after.value
    delta = c - b if b is not None and c is not None else None
    skip = dict(
        **common, baseline=b, candidate=c, delta=delta, relative=None, noise="",
        verdict="not compared",
    )  # fmt: skip
    flaw = unreliable(before) or unreliable(after)
    if flaw:
        return Change(**skip, reason=f"unreliable: {flaw}")
    if b is None or c is None:
        return Change(
            **skip,
            reason=_missing(before, "baseline") if b is None else _missing(after, "candidate"),
        )
    if (before.n, before.n_reference) != (after.n, after.n_reference):
        return Change(
            **skip,
            reason=f"N differs ({before.n} vs {after.n} outputs): set metrics depend on N",
        )
    noise = _night_term(nights, method, metric)
    if before.std is not None and after.std is not None:
        noise.append((2 * math.hypot(before.std, after.std), "2 std of subsets"))
    if before.interval is not None and after.interval is not None:
        width = math.hypot(before.interval.half_width, after.interval.half_width)
        if math.isfinite(width):
            noise.append((width, "their bootstrap intervals"))
    band = _band(metric, b, t, noise)
    skip.update(delta=c - b, relative=(c - b) / abs(b) if b else None, noise=str(band))
    skip["band"] = band.width
    skip["verdict"] = _verdict(c - b, band, info.higher_is_better, True)
    return Change(**skip, n=after.n or 0)


def _repeats_term(record: RunRecord, method: str) -> list[tuple[float, str]]:
    """Throughput's standard error from the spread of its timed repeats (the median of n runs:
    1.25 sd / sqrt n in seconds, sd at its upper bound, carried to images/s), when the record
    kept them."""
    summary = record.methods[method]
    runs = (summary.throughput_details or {}).get("run_seconds") or []
    if len(runs) < MIN_REPEATS or not summary.throughput:
        return []
    median = float(np.median(runs))
    sd = upper_sd(float(np.std(runs, ddof=1)), len(runs) - 1)
    error = 1.2533 * sd / math.sqrt(len(runs))
    return [(summary.throughput * error / median, f"{len(runs)} repeats")]


def _throughput_floor(record: RunRecord, method: str, value: float) -> float:
    """Images/s equal to `BATCH_FLOOR_S` more or less on the timed batch."""
    batch = (record.methods[method].throughput_details or {}).get("batch_size") or 1
    return value * value * BATCH_FLOOR_S / batch


def _per_method(
    base: RunRecord,
    cand: RunRecord,
    method: str,
    metric: str,
    info: MetricEntry,
    t: float,
    nights: NightNoise,
) -> Change:
    b, c = base.methods[method].per_method(metric), cand.methods[method].per_method(metric)
    common = dict(method=method, metric=metric, per="method", threshold=t)
    common["higher_is_better"] = info.higher_is_better
    if b is None or c is None:
        return Change(
            **common, baseline=b, candidate=c, delta=None, relative=None, noise="",
            verdict="not compared", reason="no value in " + ("baseline" if b is None else "candidate"),
        )  # fmt: skip
    delta = float(c) - float(b)
    noise = _night_term(nights, method, metric)
    if metric == "throughput":
        repeats = _repeats_term(base, method) + _repeats_term(cand, method)
        if len(repeats) == 2:
            both = math.hypot(repeats[0][0], repeats[1][0])
            noise.append((Z * both, f"{Z:g} sigma of {repeats[1][1]}"))
    estimated = bool(noise)  # the terms so far are noise estimates; the floor is not
    if metric == "throughput":
        floor = _throughput_floor(base, method, float(b))
        noise.append((floor, f"floor {BATCH_FLOOR_S:g} s/batch"))
    common.update(baseline=float(b), candidate=float(c), delta=delta, n=1)
    common["relative"] = delta / abs(b) if b else None
    if metric in ONCE_PER_RUN and not estimated:
        return Change(
            **common, noise="", verdict="not compared",
            reason=f"one measurement: no timed repeats, and fewer than {MIN_NIGHTS} nights of "
            "history to estimate its noise",
        )  # fmt: skip
    band = _band(metric, float(b), t, noise)
    verdict = _verdict(delta, band, info.higher_is_better, True)
    return Change(**common, noise=str(band), band=band.width, verdict=verdict)


def check_comparable(baseline: RunRecord, candidate: RunRecord) -> None:
    """Refuse comparisons whose numbers mean different things."""
    b, c = baseline.suite, candidate.suite
    if (b.name, b.version) != (c.name, c.version):
        raise ComparisonError(
            f"baseline is suite {b.name} v{b.version}, candidate {c.name} v{c.version}: "
            "compare runs of the same suite version"
        )
    if baseline.weights.random != candidate.weights.random:
        raise ComparisonError(
            "one run has random weights and the other pretrained weights: their numbers are not "
            "comparable"
        )


def compare(
    baseline: RunRecord,
    candidate: RunRecord,
    thresholds: Mapping[str, float] | None = None,
    history: Sequence[Mapping[str, Mapping[str, float]]] = (),
    log: list[str] | None = None,
) -> Comparison:
    """Compare every (method, metric) both records have. ``history``: earlier nights' values
    (`reports.tables.headline_values`, oldest first) for their night-to-night noise; ``log``:
    ``git log --oneline`` between the two commits, where the repository is at hand."""
    check_comparable(baseline, candidate)
    limits = {**THRESHOLDS, **(thresholds or {})}
    nights = night_noise(history)
    same_device = baseline.environment.devices == candidate.environment.devices
    result = Comparison(
        baseline=baseline.run_id,
        candidate=candidate.run_id,
        suite=f"{candidate.suite.name} v{candidate.suite.version}",
        same_device=same_device,
        commits=(baseline.environment.git_commit, candidate.environment.git_commit),
        what_changed=what_changed(baseline, candidate),
        log=log,
    )
    if baseline.suite.file_list_hash != candidate.suite.file_list_hash:
        result.notes.append("the suites' file lists differ: only images in both are paired")
    if not same_device:
        result.notes.append(
            "runtime not compared: devices differ "
            f"({', '.join(baseline.environment.devices) or '-'} vs "
            f"{', '.join(candidate.environment.devices) or '-'})"
        )
    by_per = {"image": _per_image, "set": _per_set, "method": _per_method}
    for method in candidate.methods:
        if method not in baseline.methods:
            result.notes.append(f"{method}: not in the baseline")
            continue
        for metric, info in candidate.metrics.items():
            if metric not in baseline.metrics:
                continue
            threshold = limits.get(metric, DEFAULT_THRESHOLD)
            compare_one = by_per[info.per]
            change = compare_one(baseline, candidate, method, metric, info, threshold, nights)
            if metric in RUNTIME and not same_device:
                change = Change(
                    **{**asdict(change), "verdict": "not compared", "reason": "devices differ"}
                )
            result.changes.append(change)
        result.changes.append(_failed_cells(baseline, candidate, method))
    result.changes.sort(key=lambda c: ORDER[c.verdict])
    return result


def _failed_cells(base: RunRecord, cand: RunRecord, method: str) -> Change:
    """More failed cells than the baseline is a regression, whatever the scores of the rest."""
    b = base.methods[method].cells_failed
    c = cand.methods[method].cells_failed
    verdict: Verdict = "regressed" if c > b else "improved" if c < b else "unchanged"
    return Change(
        method=method, metric="failed_cells", per="method", higher_is_better=False,
        baseline=float(b), candidate=float(c), delta=float(c - b), relative=None, threshold=0.0,
        noise="count", verdict=verdict, n=cand.methods[method].cells_planned,
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


def changed_lines(comparison: Comparison) -> list[str]:
    """What changed, one line each (``gatys.steps: 3 -> 6``), the commits always named."""
    lines = [str(d) for d in comparison.what_changed]
    same = comparison.commits[0] == comparison.commits[1]
    if same:
        lines.insert(0, f"commit {comparison.commits[1]} in both")
    if same and len(lines) == 1:
        lines[0] += "; nothing else differs"
    return lines


def to_markdown(comparison: Comparison) -> str:
    """The comparison as markdown (for PR comments and nightly mails): what changed, then the
    verdicts, regressions first."""
    lines = [
        f"### stylebench compare: {comparison.candidate} vs {comparison.baseline} "
        f"({comparison.suite})",
        "",
        "**What changed**",
        "",
        *[f"- `{line}`" for line in changed_lines(comparison)],
    ]
    if comparison.log:
        base, cand = comparison.commits
        lines += ["", f"`git log --oneline {base[:12]}..{cand[:12]}`:", "", "```"]
        lines += [*comparison.log, "```"]
    lines += [
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

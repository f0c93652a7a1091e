"""``bench nightly``: run a suite, compare it with a baseline, keep a history, gate on regressions.

The history is one folder: ``history.jsonl`` (one line per night: night, run, commit, verdict,
tags and each method's headline numbers), ``regressions.txt`` (the latest night's),
``trend.html`` (every metric over the nights, change points marked) and, per run,
``comparison.json`` / ``comparison.md`` / ``regressions.txt`` beside its record, with the
comparison also in the run's ``report.html``.

Each night is measured afresh: the night stamp is part of the run's identity, so unchanged code
is run again (drivers, hardware and packages change under it); a rerun of the same night
resumes that night's run and replaces its history line.

Baselines: ``last-good`` (default: the newest earlier night with no regression and no failed
cell; if there is none, the newest earlier night, said in a note), ``tag:NAME`` (the newest
night tagged NAME with ``--tag``) or a run folder / record path. The earlier nights of the same
suite on the same devices also give each metric's night-to-night noise to the comparison.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stylebench.atomic import write_text_atomic
from stylebench.driver import run_benchmark
from stylebench.environment import git_log
from stylebench.errors import BenchError
from stylebench.preflight import RunOptions
from stylebench.record_model import RunRecord
from stylebench.records import read_record, write_json_atomic
from stylebench.reports.compare import Comparison, ComparisonError, compare, to_markdown
from stylebench.reports.html import write_report, write_trend
from stylebench.reports.tables import headline_values

HISTORY = "history.jsonl"


@dataclass
class NightlyOutcome:
    """What a nightly did; ``regressed`` decides the exit status."""

    run_dir: Path
    report: Path
    baseline: str | None
    comparison: Comparison | None
    trend: Path

    @property
    def regressed(self) -> bool:
        return bool(self.comparison and self.comparison.regressions)


def night_of(entry: dict[str, Any]) -> str:
    """The night an entry belongs to (lines written before nights were stamped: their run)."""
    return entry.get("night") or entry["run_id"]


def read_history(folder: Path) -> list[dict[str, Any]]:
    """Nightly entries, oldest first, one per night (a rerun's newer line replaces the older)."""
    path = folder / HISTORY
    if not path.is_file():
        return []
    entries: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            raise BenchError(f"{path} line {number} is not JSON; fix or delete that line") from None
        entries.pop(night_of(entry), None)
        entries[night_of(entry)] = entry
    return list(entries.values())


def pick_baseline(history: list[dict[str, Any]], spec: str, current: str) -> Path | None:
    """The record to compare with; ``current`` is tonight (`night_of`), never its own baseline.
    ``None`` only when no earlier night exists: ``last-good`` with no good night falls back to
    the newest earlier one."""
    earlier = [e for e in history if night_of(e) != current]
    if spec == "last-good":
        good = [e for e in earlier if e["good"]] or earlier
        return Path(good[-1]["record"]) if good else None
    if spec.startswith("tag:"):
        tag = spec.removeprefix("tag:")
        tagged = [e for e in earlier if tag in e.get("tags", [])]
        if not tagged:
            known = sorted({t for e in history for t in e.get("tags", [])})
            raise BenchError(
                f"no nightly is tagged {tag!r}; tags: {', '.join(known) or 'none yet'}"
            )
        return Path(tagged[-1]["record"])
    named = [e for e in earlier if e["run_id"] == spec]
    path = Path(named[-1]["record"]) if named else Path(spec)
    if not path.exists():
        raise BenchError(
            f"--baseline {spec}: not a run folder, record.json, run id in the history, "
            "'last-good' or 'tag:NAME'"
        )
    return path


def noise_history(history: list[dict[str, Any]], record: RunRecord) -> list[dict]:
    """Earlier nights' headline values whose noise is the record's: the same suite version,
    weights kind and devices (runtime on other devices is another series)."""
    suite = f"{record.suite.name} v{record.suite.version}"
    return [
        e["values"]
        for e in history
        if e["run_id"] != record.run_id
        and e.get("suite") == suite
        and e.get("random_weights") == record.weights.random
        and e.get("devices") == record.environment.devices
    ]


def run_nightly(
    options: RunOptions,
    history_dir: Path,
    baseline: str = "last-good",
    tags: list[str] | None = None,
    thresholds: dict[str, float] | None = None,
) -> NightlyOutcome:
    """Run tonight (``options.night``), compare, record in the history, redraw the trend page."""
    history_dir = history_dir.resolve()
    night = options.night or datetime.now(UTC).date().isoformat()
    options = replace(options, night=night)
    history = read_history(history_dir)
    earlier = [e for e in history if night_of(e) != night]
    base_path = pick_baseline(history, baseline, current=night)
    base_record = read_record(base_path) if base_path is not None else None  # before compute
    outcome = run_benchmark(options)
    record = outcome.record
    comparison = None
    if base_record is not None:
        commits = base_record.environment.git_commit, record.environment.git_commit
        try:
            comparison = compare(
                base_record, record, thresholds, noise_history(earlier, record), git_log(*commits)
            )
        except ComparisonError as exc:
            raise BenchError(f"cannot compare with {base_path}: {exc}") from None
        if baseline == "last-good" and not any(e["good"] for e in earlier):
            comparison.notes.append(
                "no earlier night was good (each regressed or had failed cells): compared with "
                "the newest earlier night"
            )
        write_json_atomic(outcome.run_dir / "comparison.json", comparison.as_dict())
        write_text_atomic(outcome.run_dir / "comparison.md", to_markdown(comparison))
    lines = [
        f"{c.method} {c.metric}: {c.baseline:.4g} -> {c.candidate:.4g} ({c.noise})"
        for c in (comparison.regressions if comparison else [])
    ]
    text = "".join(f"{line}\n" for line in lines)
    write_text_atomic(outcome.run_dir / "regressions.txt", text)
    report = write_report(record, outcome.run_dir, comparison.as_dict() if comparison else None)
    regressed = bool(comparison and comparison.regressions)
    earlier_tags = {t for e in history if night_of(e) == night for t in e["tags"]}
    entry = {
        "night": night,
        "run_id": record.run_id,
        "record": str(outcome.run_dir / "record.json"),
        "report": str(report),
        "finished": datetime.now(UTC).isoformat(),
        "git_commit": record.environment.git_commit,
        "suite": f"{record.suite.name} v{record.suite.version}",
        "random_weights": record.weights.random,
        "devices": record.environment.devices,
        "baseline": comparison.baseline if comparison else None,
        "regressions": len(lines),
        "failed_cells": outcome.failed,
        "good": not regressed and record.status == "complete",
        "tags": sorted(earlier_tags | set(tags or [])),
        "values": headline_values(record),
    }
    history_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(history_dir / "regressions.txt", text)  # the latest night's, for mail/CI
    nights = [*earlier, entry]
    write_text_atomic(history_dir / HISTORY, "".join(json.dumps(e) + "\n" for e in nights))
    trend = write_trend(nights, history_dir / "trend.html")
    return NightlyOutcome(
        run_dir=outcome.run_dir,
        report=report,
        baseline=comparison.baseline if comparison else None,
        comparison=comparison,
        trend=trend,
    )

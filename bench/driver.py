"""A benchmark run from start to finish: suite -> plan -> Ray -> journal -> record -> MLflow -> report.

Data flows one way. The driver loads and checks every input before any compute starts, writes
each finished cell to the journal at once, and assembles the record, the MLflow runs and the HTML
report from the journal alone. Running the same resolved config (and code) into the same output
folder resumes: cells already in the journal are not computed again.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from stylebench import locks
from stylebench.environment import git_commit
from stylebench.errors import BenchError
from stylebench.execute import run_cells, run_training, session
from stylebench.images import ImageError, load_image, to_uint8, write_png
from stylebench.method_jobs import domain_sets, input_sets, method_work
from stylebench.methods.core.weights import WeightsSource
from stylebench.plan import Cell, Plan, is_domain, method_class
from stylebench.preflight import (
    RunOptions,
    budgets,
    check_inputs,
    check_weights,
    load_plan,
    run_key,
)
from stylebench.progress import RunProgress
from stylebench.record_builder import build_record, cell_entry
from stylebench.record_model import RunRecord, TrackingIds
from stylebench.records import (
    CELL_JOURNAL,
    METHOD_JOURNAL,
    RECORD,
    TRAINING_JOURNAL,
    append_journal,
    read_journal,
    read_json,
    write_array_atomic,
    write_json_atomic,
    write_record,
)
from stylebench.registry import METHODS
from stylebench.scheduler import MethodWork
from stylebench.stored_features import features_file, pairs_file
from stylebench.suites.guides import guide_key
from stylebench.training_jobs import (
    PreparedCheckpoints,
    TrainingError,
    TrainingPlan,
    plan_training,
    prepare_checkpoints,
    style_arrays,
)
from stylebench.training_task import TrainedCheckpoint, TrainingJob, TrainingSettings
from stylebench.worker import (
    CellResult,
    WorkerSettings,
)


@dataclass
class RunOutcome:
    run_dir: Path
    report: Path
    tracking_uri: str
    record: RunRecord
    tracking_error: str | None = None

    @property
    def failed(self) -> int:
        return sum(1 for cell in self.record.cells if not cell.ok)


def prepare_jobs(
    plan: Plan,
    jobs: list[TrainingJob],
    images: dict[str, np.ndarray],
    options: RunOptions,
    tracking_uri: str,
    commit: str,
    on_job: Callable[[dict[str, Any]], None],
    progress: RunProgress,
) -> PreparedCheckpoints:
    """Load, reuse or train (as Ray tasks) the checkpoints of ``jobs``; register new ones in the
    MLflow model registry. ``on_job`` sees each job's entry (source, seconds, path, registry);
    ``progress`` shows the training jobs' bars."""
    from stylebench.tracking import register_checkpoint

    spec = plan.suite.spec
    settings = TrainingSettings(weights=spec.weights, seed=spec.seed, resume=not options.retrain)
    styles = style_arrays(jobs, plan, images)
    provenance = {
        "suite": spec.name,
        "suite_version": spec.version,
        "config_hash": plan.config_hash,
        "git_commit": commit,
        "weights": spec.weights,
    }

    def train(todo: list[TrainingJob]) -> list[TrainedCheckpoint]:
        progress.note(f"training {len(todo)} network(s): {', '.join(j.label for j in todo)}")
        progress.add_jobs({j.key: (j.method, j.label, j.settings["steps"]) for j in todo})
        return run_training(
            todo, settings, styles, options.ray_address, options.workers, watcher=progress
        )

    def registered(entry: dict[str, Any]) -> None:
        if entry["source"] in ("trained", "cache"):
            entry["registry"] = register_checkpoint(tracking_uri, entry)
        on_job(entry)

    try:
        return prepare_checkpoints(
            jobs,
            settings,
            styles,
            options.retrain,
            train,
            provenance,
            registered,
        )
    except TrainingError as exc:
        raise BenchError(str(exc)) from None


def _load_inputs(plan: Plan, run_dir: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Load every image once on the driver; keep a preprocessed copy in the run folder."""
    images, errors = {}, {}
    size = plan.suite.spec.image_size
    files = [(f"{role}/{ref.key}", ref) for role, refs in input_sets(plan) for ref in refs]
    files += [(f"guides/{key}", ref) for key, ref in plan.suite.guides.items()]
    for name, ref in files:
        try:
            array = to_uint8(load_image(ref.path, size).unsqueeze(0))[0]
        except ImageError as exc:
            errors[ref.key] = str(exc)
            continue
        images[ref.key] = array
        target = run_dir / "inputs" / f"{name}.png"
        if not target.is_file():
            write_png(array, target)
    return images, errors


INVOCATION = "invocation.json"


def options_for_resume(run: Path, tracking_uri: str | None) -> RunOptions:
    """The options a run folder was made with, to run its missing cells again."""
    path = run / INVOCATION
    if not path.is_file():
        raise BenchError(f"{run} is not a run folder made by 'bench run' (no {INVOCATION})")
    saved = read_json(path)
    return RunOptions(
        suite=saved["suite"],
        methods=saved["methods"],
        out=run.resolve().parent,
        tracking_uri=tracking_uri or saved["tracking_uri"],
        weights=saved["weights"],
        overrides=saved["overrides"],
        data_dir=Path(saved["data_dir"]) if saved.get("data_dir") else None,
        night=saved.get("night"),
    )


def run_benchmark(options: RunOptions) -> RunOutcome:
    """Run a suite and return where its record, report and MLflow runs are, showing how it
    goes on stderr."""
    with RunProgress() as progress:
        return _run_benchmark(options, progress)


def _run_benchmark(options: RunOptions, progress: RunProgress) -> RunOutcome:
    """The data flow of a run: plan -> checkpoints -> cells -> record -> tracking -> report."""
    from stylebench.reports.html import write_report
    from stylebench.tracking import Tracker, record_header

    run = _plan_run(options, progress)
    with locks.run_folder(run.folder):
        progress.note(f"loading the inputs of {len(run.plan.cells)} cells")
        images, bad_images = _load_inputs(run.plan, run.folder)
        _write_invocation(run)
        progress.note("opening the MLflow runs")
        tracker = Tracker(run.tracking_uri, run.folder)
        tracker.start(record_header(run.record()))
        with tracker.ending_runs_on_error():
            tracker.monitor_system()
            todo = run.cells_to_do()
            unusable = _unusable_inputs(run.plan, todo, bad_images)
            candidates = run.training.attach([c for c in todo if c.id not in unusable])
            work = method_work(run.plan, run.folder, candidates, images, bad_images, run.training)
            cells = _CellWriter(run, tracker)
            with session():
                needed = {c.job for c in candidates if c.job} | set(work.checkpoints)
                prepared, job_errors = _checkpoints(run, needed, images, bad_images)
                progress.start_cells(len(run.plan.cells), len(run.plan.cells) - len(todo), {
                    c.id: (c.method, run.plan.cell_cost(c)) for c in todo
                })  # fmt: skip
                for cell_id, error in unusable.items():
                    cells(CellResult(cell_id=cell_id, status="failed", error=error))
                runnable = []
                for cell in candidates:
                    if cell.job in job_errors:
                        cells(
                            CellResult(cell_id=cell.id, status="failed", error=job_errors[cell.job])
                        )
                    else:
                        runnable.append(cell)
                if runnable or work.methods:
                    checkpoints = {k: v for k, v in prepared.states.items() if k in needed}
                    _run_cells(run, runnable, images, cells, work, checkpoints)
            progress.note("writing the record, the report and the MLflow runs")
            record = run.record()
            write_record(run.folder / RECORD, record)
            report = write_report(record, run.folder)
            tracker.finish(record)
        record.tracking = tracker.ids
        write_record(run.folder / RECORD, record)
    return RunOutcome(run.folder, report, run.tracking_uri, record, tracker.error)


@dataclass(frozen=True)
class _Run:
    """A run being made: what each step of `_run_benchmark` reads."""

    options: RunOptions
    plan: Plan
    weights: WeightsSource
    training: TrainingPlan
    commit: str
    key: str
    folder: Path
    tracking_uri: str
    progress: RunProgress
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    @property
    def run_id(self) -> str:
        return self.folder.name

    def cells_to_do(self) -> list[Cell]:
        """The plan's cells without a successful entry in the journal (a resumed run skips
        those)."""
        done = read_journal(self.folder / CELL_JOURNAL)
        return [c for c in self.plan.cells if done.get(c.id, {}).get("status") != "ok"]

    def record(self) -> RunRecord:
        """The record from the journals as they are now (the run's header before any cell)."""
        return build_record(
            self.plan,
            self.run_id,
            self.key,
            self.commit,
            self.weights,
            list(read_journal(self.folder / CELL_JOURNAL).values()),
            self.started,
            read_journal(self.folder / METHOD_JOURNAL),
            list(read_journal(self.folder / TRAINING_JOURNAL).values()),
        )


def _plan_run(options: RunOptions, progress: RunProgress) -> _Run:
    """Check every input and say what each method will spend, before any compute; the run's
    identity (its key hashes the resolved config and the code) names its folder."""
    from stylebench.tracking import default_tracking_uri

    out = options.out.resolve()
    tracking_uri = options.tracking_uri or default_tracking_uri(out)
    progress.note("checking the suite, its images and the weights", line=False)
    checked = check_inputs(options, tracking_uri)
    if checked.problems or checked.weights is None:
        raise BenchError("\n".join(checked.problems))
    plan = checked.plan
    lines, warnings = budgets(plan, local=not options.ray_address)
    for line in [*lines, *(f"warning: {w}" for w in warnings)]:
        print(line, file=sys.stderr)
    commit = git_commit()
    key = run_key(plan, commit, options.night)
    return _Run(
        options=options,
        plan=plan,
        weights=checked.weights,
        training=plan_training(plan, checked.identities),
        commit=commit,
        key=key,
        folder=out / f"{plan.suite.spec.name}-{key[:12]}",
        tracking_uri=tracking_uri,
        progress=progress,
    )


def _write_invocation(run: _Run) -> None:
    """What `bench run --resume`-style commands need to run this folder's missing cells again."""
    options = run.options
    suite = Path(options.suite)
    write_json_atomic(
        run.folder / INVOCATION,
        {
            "suite": str(suite.resolve()) if suite.exists() else options.suite,
            "methods": options.methods,
            "weights": options.weights,
            "overrides": options.overrides,
            "tracking_uri": run.tracking_uri,
            "data_dir": str(options.data_dir.resolve()) if options.data_dir else None,
            "night": options.night,
        },
    )


def _unusable_inputs(plan: Plan, cells: list[Cell], bad_images: dict[str, str]) -> dict[str, str]:
    """Cells that cannot run because an image they read (content, style or style set, semantic
    maps) is unreadable, with the first such image's error."""
    domain_keys = domain_sets(plan)
    unusable = {}
    for cell in cells:
        if is_domain(cell.method):
            styles = list(domain_keys.get(cell.method, ()))
        elif blend := plan.suite.blend(cell.style):
            styles = list(blend.parts)  # a blend's images
        else:
            styles = [cell.style]
        keys = [cell.content, *styles]
        if method_class(cell.method).needs.guides:
            keys += [guide_key(cell.content), guide_key(cell.style)]
        errors = [bad_images[k] for k in keys if k in bad_images]
        if errors:
            unusable[cell.id] = errors[0]
    return unusable


def _checkpoints(
    run: _Run, needed: set[str], images: dict[str, np.ndarray], bad_images: dict[str, str]
) -> tuple[PreparedCheckpoints, dict[str, str]]:
    """Load, reuse or train the ``needed`` checkpoints; and the error of each job that cannot
    give one (an unreadable training style, or a failed training), as its cells will show it."""
    jobs = [job for key, job in run.training.jobs.items() if key in needed]
    unusable = {j.key: bad_images[s] for j in jobs for s in j.styles if s in bad_images}

    def log_job(entry: dict[str, Any]) -> None:
        append_journal(run.folder / TRAINING_JOURNAL, {**entry, "id": entry["key"]})
        run.progress.job_done(entry)

    usable = [j for j in jobs if j.key not in unusable]
    prepared = prepare_jobs(
        run.plan, usable, images, run.options, run.tracking_uri, run.commit, log_job, run.progress
    )
    errors = {key: unusable.get(key) or prepared.error(key) for key in run.training.jobs}
    return prepared, {
        key: f"training {run.training.jobs[key].label} failed: {error}"
        for key, error in errors.items()
        if error
    }


class _CellWriter:
    """Where each finished cell goes, the moment it is back: its PNG and features into the
    run folder, then its journal line (so the journal names only complete files), MLflow and
    the progress display."""

    def __init__(self, run: _Run, tracker: Any) -> None:
        self.run = run
        self.tracker = tracker
        weights = run.weights
        self.provenance = {
            "stylebench:run": run.run_id,
            "stylebench:weights": weights.describe(),
            "stylebench:random-weights": "yes: not a quality result" if weights.is_random else "no",
        }

    def __call__(self, result: CellResult) -> None:
        folder = self.run.folder
        files: dict[str, str | None] = {"output": None, "features": None}
        if result.status == "ok" and result.output is not None:
            files["output"] = f"images/{result.cell_id}.png"
            write_png(result.output, folder / files["output"], self.provenance)
        if result.status == "ok" and result.features is not None:
            files["features"] = features_file(result.cell_id)
            write_array_atomic(folder / files["features"], result.features)
        for view, pairs in result.pairs.items() if result.status == "ok" else ():
            write_array_atomic(folder / pairs_file(result.cell_id, view), pairs)
        split = self.run.training.splits.get(result.cell_id)
        entry = cell_entry(self.run.plan, result.cell_id, result, files, split)
        append_journal(folder / CELL_JOURNAL, entry.model_dump(mode="json"))
        self.tracker.log_cell(entry)
        detail = result.error or f"{result.scores.get('latency', float('nan')):.2f}s"
        seconds = [v for k, v in result.timings.items() if k != "setup"]  # not loading networks
        self.run.progress.cell_done(
            result.cell_id, entry.ok, detail, sum(seconds) if seconds else None
        )


def _run_cells(
    run: _Run,
    cells: list[Cell],
    images: dict[str, np.ndarray],
    on_result: Callable[[CellResult], None],
    work: MethodWork,
    checkpoints: dict[str, Any],
) -> None:
    """The cells (longest first) and the method jobs on Ray workers."""
    plan, spec = run.plan, run.plan.suite.spec
    settings = WorkerSettings(
        weights=spec.weights,
        seed=spec.seed,
        methods={name: cfg.model_dump(mode="json") for name, cfg in plan.methods.items()},
        metrics=plan.metrics,
        domain=domain_sets(plan),
        blends={b.key: tuple(plan.suite.blend_parts(b)) for b in plan.suite.blends},
    )
    run_cells(
        plan.longest_first(cells),
        settings,
        images,
        [r.key for r in plan.suite.style if r.key in images],
        on_result,
        run.options.ray_address,
        run.options.workers,
        work,
        checkpoints,
        watcher=run.progress,
    )


def sync_run(run: Path, tracking_uri: str | None) -> TrackingIds:
    """Log to MLflow whatever of a finished run's record is not there yet (exactly once)."""
    from stylebench.records import read_record
    from stylebench.tracking import Tracker, preflight

    record = read_record(run)
    run_dir = run if run.is_dir() else run.parent
    uri = tracking_uri or (record.tracking.uri if record.tracking else None)
    if not uri:
        raise BenchError(f"{run} has no tracking URI on record; pass --tracking-uri")
    preflight(uri)
    with locks.run_folder(run_dir):
        tracker = Tracker(uri, run_dir)
        if not tracker.finish(record):
            raise BenchError(f"{tracker.error}; results are safe in {run_dir / 'journal.jsonl'}")
        record.tracking = tracker.ids
        write_record(run_dir / RECORD, record)
    return tracker.ids


@dataclass
class TrainOutcome:
    entries: list[dict[str, Any]]
    tracking_uri: str

    @property
    def failed(self) -> int:
        return sum(1 for entry in self.entries if entry["source"] == "failed")


def train_methods(options: RunOptions) -> TrainOutcome:
    """``bench train``: train (or reuse) every checkpoint the suite's trained methods need."""
    from stylebench.tracking import default_tracking_uri, preflight

    plan = load_plan(options)
    untrained = [name for name in plan.methods if not method_class(name).needs.training]
    if untrained:
        trained = sorted(n for n in METHODS.names() if METHODS.get(n).needs.training)
        raise BenchError(
            f"{', '.join(untrained)}: not trained methods; trained methods: {', '.join(trained)}"
        )
    tracking_uri = options.tracking_uri or default_tracking_uri(options.out.resolve())
    preflight(tracking_uri)
    _, identities = check_weights(plan)
    training = plan_training(plan, identities)
    entries: list[dict[str, Any]] = []

    with RunProgress() as progress:

        def log_job(entry: dict[str, Any]) -> None:
            entries.append(entry)
            progress.job_done(entry)

        with session():
            jobs = list(training.jobs.values())
            prepare_jobs(plan, jobs, {}, options, tracking_uri, git_commit(), log_job, progress)
    return TrainOutcome(entries=entries, tracking_uri=tracking_uri)

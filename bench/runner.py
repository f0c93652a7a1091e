"""A benchmark run from start to finish: suite -> plan -> Ray -> journal -> record -> MLflow -> report.

Data flows one way. The driver loads and checks every input before any compute starts, writes
each finished cell to the journal at once, and assembles the record, the MLflow runs and the HTML
report from the journal alone. Running the same resolved config (and code) into the same output
folder resumes: cells already in the journal are not computed again.
"""

from __future__ import annotations

import hashlib
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
from stylebench.method_jobs import domain_set, method_work, set_metrics
from stylebench.methods.core.encoders import load_encoder
from stylebench.methods.core.weights import WeightsSource, WeightsUnavailable
from stylebench.metrics.perceptual import (
    EVALUATION_NETWORK,
)
from stylebench.plan import Plan, budget, is_domain, make_plan
from stylebench.progress import RunProgress
from stylebench.record_builder import build_record, cell_entry
from stylebench.record_model import RunRecord, TrackingIds
from stylebench.records import (
    append_journal,
    read_journal,
    read_json,
    write_array_atomic,
    write_json_atomic,
    write_record,
)
from stylebench.registry import METHODS, METRICS
from stylebench.stored_features import features_file
from stylebench.suites.guides import guide_key
from stylebench.suites.load import load_suite
from stylebench.train_task import TrainedCheckpoint, TrainingJob, TrainingSettings
from stylebench.training import (
    PreparedCheckpoints,
    TrainingError,
    missing_training_sources,
    plan_training,
    prepare_checkpoints,
    style_arrays,
)
from stylebench.worker import (
    CellResult,
    WorkerSettings,
)


@dataclass
class RunOptions:
    """Everything ``bench run`` was asked to do."""

    suite: str = "smoke"
    methods: list[str] | None = None
    out: Path = Path("bench-out")
    tracking_uri: str | None = None
    ray_address: str | None = None
    weights: str | None = None
    overrides: list[str] = field(default_factory=list)
    workers: int | None = None
    data_dir: Path | None = None
    retrain: bool = False
    #: A nightly's night stamp: part of the run's identity, so each night measures afresh.
    night: str | None = None


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


def run_key(plan: Plan, commit: str, night: str | None = None) -> str:
    """Identity of a run: its resolved config and the code that computes it, and for a nightly
    its night (the same code must be measured again on a new night: drivers, hardware and
    packages change under it)."""
    stamp = f":{night}" if night else ""
    return hashlib.sha256(f"{plan.config_hash}:{commit}{stamp}".encode()).hexdigest()


def _check_weights(plan: Plan) -> tuple[WeightsSource, dict[str, str]]:
    """Fail before any compute if the weights cannot be had (one clear line, no traceback).

    Returns the source and the SHA-256 of every backbone's weights (training jobs key on them).
    """
    identities = {}
    try:
        source = WeightsSource.parse(plan.suite.spec.weights, seed=plan.suite.spec.seed)
        archs = {EVALUATION_NETWORK} | {a for m in plan.methods for a in METHODS.get(m).encoders}
        for arch in sorted(archs):
            identities[arch] = load_encoder(arch, source).identity.sha256
        if not source.is_random:
            for name in plan.metrics:
                METRICS.get(name).preflight(source)
    except WeightsUnavailable as exc:
        raise BenchError(str(exc)) from None
    return source, identities


def load_plan(options: RunOptions) -> Plan:
    """The suite and plan ``options`` select (``--set``, ``--weights``, ``--methods`` applied)."""
    overrides = [*options.overrides, *([f"weights={options.weights}"] if options.weights else [])]
    suite = load_suite(options.suite, overrides, options.data_dir)
    return make_plan(suite, options.methods)


@dataclass(frozen=True)
class Preflight:
    """What a run would start from: its plan, and (when ``problems`` is empty) the weights and
    the SHA-256 of every backbone's weights."""

    plan: Plan
    weights: WeightsSource | None
    identities: dict[str, str]
    problems: list[str]


def check_inputs(options: RunOptions, tracking_uri: str | None = None) -> Preflight:
    """Everything `bench run` checks before any compute, and `bench validate` with it, so that
    what validate passes run does not refuse: the suite and its settings (raises), the tracking
    store when given (raises), the weights of every network and the trained methods' training
    data or checkpoint files (collected in ``problems``)."""
    plan = load_plan(options)
    if tracking_uri is not None:
        from stylebench.tracking import preflight

        preflight(tracking_uri)
    problems = missing_training_sources(plan)
    try:
        weights, identities = _check_weights(plan)
    except BenchError as exc:
        return Preflight(plan, None, {}, [str(exc), *problems])
    return Preflight(plan, weights, identities, problems)


def budgets(plan: Plan, local: bool) -> tuple[list[str], list[str]]:
    """What each method will spend (a line each), and warnings: a trained method at its paper
    budget on a machine without a GPU trains for days (``local``: the run uses this machine)."""
    import torch

    lines = [budget(name, config) for name, config in plan.methods.items()]
    cpu_only = local and not torch.cuda.is_available()
    warnings = [
        f"{name} trains at its paper budget ({config.model_dump().get('steps', '?'):,} steps) "
        "on a machine without a GPU, which takes many hours to days; pass --set "
        f"{name}.preset=smoke for a tiny run, or run on a GPU"
        for name, config in plan.methods.items()
        if cpu_only and METHODS.get(name).needs.training and config.preset == "paper"
        and not getattr(config, "checkpoint", None)
    ]  # fmt: skip
    return lines, warnings


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
    roles = [("content", plan.suite.content), ("style", plan.suite.style)]
    if plan.suite.reference and (set_metrics(plan) or domain_set(plan)):
        roles.append(("reference", plan.suite.reference))
    for role, refs in roles:
        for ref in refs:
            try:
                array = to_uint8(load_image(ref.path, size).unsqueeze(0))[0]
            except ImageError as exc:
                errors[ref.key] = str(exc)
                continue
            images[ref.key] = array
            target = run_dir / "inputs" / role / f"{ref.key}.png"
            if not target.is_file():
                write_png(array, target)
    for image_key, ref in plan.suite.guides.items():
        try:
            array = to_uint8(load_image(ref.path, size).unsqueeze(0))[0]
        except ImageError as exc:
            errors[ref.key] = str(exc)
            continue
        images[ref.key] = array
        target = run_dir / "inputs" / "guides" / f"{image_key}.png"
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


def _cell_seconds(result: CellResult) -> float | None:
    """A cell's worker time, without loading networks (a worker's once, not a cell's cost)."""
    seconds = [v for k, v in result.timings.items() if k != "setup"]
    return sum(seconds) if seconds else None


def _run_benchmark(options: RunOptions, progress: RunProgress) -> RunOutcome:
    from stylebench.reports.html import write_report
    from stylebench.tracking import Tracker, default_tracking_uri, record_header

    out = options.out.resolve()
    tracking_uri = options.tracking_uri or default_tracking_uri(out)
    progress.note("checking the suite, its images and the weights", line=False)
    checked = check_inputs(options, tracking_uri)
    if checked.problems or checked.weights is None:
        raise BenchError("\n".join(checked.problems))
    plan, weights, suite = checked.plan, checked.weights, checked.plan.suite
    lines, warnings = budgets(plan, local=not options.ray_address)
    for line in [*lines, *(f"warning: {w}" for w in warnings)]:
        print(line, file=sys.stderr)
    training = plan_training(plan, checked.identities)
    commit = git_commit()
    key = run_key(plan, commit, options.night)
    run_id = f"{suite.spec.name}-{key[:12]}"
    run_dir = out / run_id
    with locks.run_folder(run_dir):
        started = datetime.now(UTC).isoformat()
        progress.note(f"loading the inputs of {len(plan.cells)} cells")
        images, bad_images = _load_inputs(plan, run_dir)
        write_json_atomic(
            run_dir / INVOCATION,
            {
                "suite": str(Path(options.suite).resolve())
                if Path(options.suite).exists()
                else options.suite,
                "methods": options.methods,
                "weights": options.weights,
                "overrides": options.overrides,
                "tracking_uri": tracking_uri,
                "data_dir": str(options.data_dir.resolve()) if options.data_dir else None,
                "night": options.night,
            },
        )
        journal = run_dir / "journal.jsonl"
        training_log = run_dir / "training.jsonl"
        done = {cid: e for cid, e in read_journal(journal).items() if e["status"] == "ok"}
        todo = [c for c in plan.cells if c.id not in done]
        progress.note("opening the MLflow runs")
        tracker = Tracker(tracking_uri, run_dir)
        tracker.start(record_header(build_record(plan, run_id, key, commit, weights, [], started)))
        with tracker.ending_runs_on_error():
            tracker.monitor_system()
            provenance = {
                "stylebench:run": run_id,
                "stylebench:weights": weights.describe(),
                "stylebench:random-weights": "yes: not a quality result"
                if weights.is_random
                else "no",
            }
            broken = {}
            domain_keys = domain_set(plan)
            for cell in todo:
                keys = [cell.content, *(domain_keys if is_domain(cell.method) else [cell.style])]
                if METHODS.get(cell.method).needs.guides:
                    keys += [guide_key(cell.content), guide_key(cell.style)]
                errors = [bad_images[k] for k in keys if k in bad_images]
                if errors:
                    broken[cell.id] = errors[0]
            candidates = training.attach([c for c in todo if c.id not in broken])
            work = method_work(plan, run_dir, candidates, images, bad_images, training)

            def log_job(entry: dict[str, Any]) -> None:
                append_journal(training_log, {**entry, "id": entry["key"]})
                progress.job_done(entry)

            with session():
                needed = {c.job for c in candidates if c.job} | set(work.checkpoints)
                jobs = [job for job_key, job in training.jobs.items() if job_key in needed]
                unusable = {j.key: bad_images[s] for j in jobs for s in j.styles if s in bad_images}
                usable = [j for j in jobs if j.key not in unusable]
                prepared = prepare_jobs(
                    plan, usable, images, options, tracking_uri, commit, log_job, progress
                )
                costs = {c.id: (c.method, plan.cell_cost(c)) for c in todo}
                progress.start_cells(len(plan.cells), len(done), costs)

                def record_result(result: CellResult) -> None:
                    files: dict[str, str | None] = {"output": None, "features": None}
                    if result.status == "ok" and result.output is not None:
                        files["output"] = f"images/{result.cell_id}.png"
                        write_png(result.output, run_dir / files["output"], provenance)
                    if result.status == "ok" and result.features is not None:
                        files["features"] = features_file(result.cell_id)
                        write_array_atomic(run_dir / files["features"], result.features)
                    split = training.splits.get(result.cell_id)
                    entry = cell_entry(plan, result.cell_id, result, files, split)
                    append_journal(journal, entry.model_dump(mode="json"))
                    tracker.log_cell(entry)
                    detail = result.error or f"{result.scores.get('latency', float('nan')):.2f}s"
                    ok = result.status == "ok"
                    progress.cell_done(result.cell_id, ok, detail, _cell_seconds(result))

                for cell_id, error in broken.items():
                    record_result(CellResult(cell_id=cell_id, status="failed", error=error))
                runnable = []
                for cell in candidates:
                    job_error = unusable.get(cell.job or "") or (
                        cell.job and prepared.error(cell.job)
                    )
                    if job_error:
                        label = training.jobs[cell.job or ""].label
                        error = f"training {label} failed: {job_error}"
                        record_result(CellResult(cell_id=cell.id, status="failed", error=error))
                    else:
                        runnable.append(cell)
                if runnable or work.methods:
                    settings = WorkerSettings(
                        weights=suite.spec.weights,
                        seed=suite.spec.seed,
                        methods={
                            name: cfg.model_dump(mode="json") for name, cfg in plan.methods.items()
                        },
                        metrics=plan.metrics,
                        domain=domain_keys,
                    )
                    styles = [r.key for r in suite.style if r.key in images]
                    run_cells(
                        plan.longest_first(runnable),
                        settings,
                        images,
                        styles,
                        record_result,
                        options.ray_address,
                        options.workers,
                        work,
                        {k: v for k, v in prepared.states.items() if k in needed},
                        watcher=progress,
                    )

            progress.note("writing the record, the report and the MLflow runs")
            cells = list(read_journal(journal).values())
            method_results = read_journal(run_dir / "methods.jsonl")
            jobs_done = list(read_journal(training_log).values())
            record = build_record(
                plan, run_id, key, commit, weights, cells, started, method_results, jobs_done
            )
            write_record(run_dir / "record.json", record)
            report = write_report(record, run_dir)
            tracker.finish(record)
        record.tracking = tracker.ids
        write_record(run_dir / "record.json", record)
        return RunOutcome(
            run_dir=run_dir,
            report=report,
            tracking_uri=tracking_uri,
            record=record,
            tracking_error=tracker.error,
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
        write_record(run_dir / "record.json", record)
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
    untrained = [name for name in plan.methods if not METHODS.get(name).needs.training]
    if untrained:
        trained = sorted(n for n in METHODS.names() if METHODS.get(n).needs.training)
        raise BenchError(
            f"{', '.join(untrained)}: not trained methods; trained methods: {', '.join(trained)}"
        )
    tracking_uri = options.tracking_uri or default_tracking_uri(options.out.resolve())
    preflight(tracking_uri)
    _, identities = _check_weights(plan)
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

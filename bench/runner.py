"""A benchmark run from start to finish: suite -> plan -> Ray -> journal -> record -> MLflow -> report.

Data flows one way. The driver loads and checks every input before any compute starts, writes
each finished cell to the journal at once, and assembles the record, the MLflow runs and the HTML
report from the journal alone. Running the same resolved config (and code) into the same output
folder resumes: cells already in the journal are not computed again.
"""

from __future__ import annotations

import hashlib
import platform
import socket
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from stylebench import locks
from stylebench.environment import git_commit, package_versions
from stylebench.errors import BenchError
from stylebench.execute import MethodWork, run_cells, run_training, session
from stylebench.images import PREPROCESS, ImageError, load_image, to_uint8, write_png
from stylebench.methods.core.encoders import load_encoder
from stylebench.methods.core.weights import WeightsSource, WeightsUnavailable
from stylebench.metrics.inception import empty_features
from stylebench.metrics.perceptual import (
    DOMAIN_STYLE_LOSS,
    EVALUATION_NETWORK,
    evaluation_description,
)
from stylebench.metrics.runtime import REPEATS, THROUGHPUT_BATCH, Throughput
from stylebench.plan import DOMAIN_STYLE, Cell, Plan, budget, is_domain, make_plan
from stylebench.progress import RunProgress
from stylebench.records import (
    SCHEMA,
    append_journal,
    read_journal,
    read_json,
    write_array_atomic,
    write_json_atomic,
)
from stylebench.registry import METHODS, METRICS
from stylebench.suites.guides import guide_key
from stylebench.suites.load import load_suite
from stylebench.train_task import TrainedCheckpoint, TrainingJob, TrainingSettings
from stylebench.training import (
    PreparedCheckpoints,
    TrainingError,
    TrainingPlan,
    missing_training_sources,
    plan_training,
    prepare_checkpoints,
    style_arrays,
)
from stylebench.worker import (
    CellResult,
    MethodJob,
    MethodResult,
    ReferenceSpec,
    ThroughputSpec,
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
    record: dict[str, Any]
    tracking_error: str | None = None

    @property
    def failed(self) -> int:
        return sum(1 for cell in self.record["cells"] if cell["status"] != "ok")


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
    if plan.suite.reference and (_set_metrics(plan) or _domain_set(plan)):
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


def _set_metrics(plan: Plan) -> list[str]:
    return [name for name in plan.metrics if METRICS.get(name).info.per == "set"]


def _domain_set(plan: Plan) -> tuple[str, ...]:
    """Keys of the style set that domain methods' per-image style metrics compare with: the
    reference set, as for FID/KID (empty when no such method or metric is in the plan)."""
    style_metrics = [
        name
        for name in plan.metrics
        if METRICS.get(name).info.per == "image" and "style" in METRICS.get(name).info.needs
    ]
    if not (style_metrics and any(is_domain(m) for m in plan.methods)):
        return ()
    return tuple(ref.key for ref in plan.suite.reference_set)


def _reference_spec(plan: Plan) -> ReferenceSpec:
    refs = plan.suite.reference_set
    return ReferenceSpec(
        keys=tuple(r.key for r in refs),
        files=tuple((r.name, r.sha256) for r in refs),
        preprocess=PREPROCESS,
        image_size=plan.suite.spec.image_size,
    )


def _ok_cells(run_dir: Path, method: str) -> list[dict[str, Any]]:
    cells = read_journal(run_dir / "journal.jsonl").values()
    return sorted(
        (c for c in cells if c["method"] == method and c["status"] == "ok"), key=lambda c: c["id"]
    )


class StoredFeaturesError(BenchError):
    """A finished cell's Inception features are gone from the run folder or unreadable."""


def _features_file(cell_id: str) -> str:
    """Where a cell's Inception features live in the run folder (beside ``images/``)."""
    return f"features/{cell_id}.npy"


def _stored_features(run_dir: Path, cells: list[dict[str, Any]]) -> np.ndarray:
    """The Inception features each finished cell stored beside its output, in order."""
    paths = [run_dir / (cell.get("features") or _features_file(cell["id"])) for cell in cells]
    missing = [path for path in paths if not path.is_file()]
    if missing:
        raise StoredFeaturesError(
            f"the Inception features of {len(missing)} finished cells are missing (first: "
            f"{missing[0]}); run the suite into a new --out folder"
        )
    try:
        return np.stack([np.load(path) for path in paths]) if paths else empty_features()
    except (OSError, ValueError, EOFError) as exc:
        raise StoredFeaturesError(
            f"cannot read stored Inception features in {run_dir / 'features'}: {exc}; run the "
            "suite into a new --out folder"
        ) from None


def _fingerprint(cells: list[dict[str, Any]]) -> str:
    return hashlib.sha256("\n".join(c["id"] for c in cells).encode()).hexdigest()


def _method_work(
    plan: Plan,
    run_dir: Path,
    runnable: list[Cell],
    images: dict[str, np.ndarray],
    bad_images: dict[str, str],
    training: TrainingPlan,
) -> MethodWork:
    """Per-method work (set metrics, throughput) for every method with cells still to run or
    whose result is not in the method journal for exactly its current successful cells; results
    go to that journal. Throughput of a trained method runs the checkpoint of its first cell's
    training job."""
    journal = run_dir / "methods.jsonl"
    done = read_journal(journal)
    reference = _reference_spec(plan)
    unreadable = [bad_images[k] for k in reference.keys if k in bad_images and _set_metrics(plan)]
    contents = [r.key for r in plan.suite.content if r.key in images]
    styles = [r.key for r in plan.suite.style if r.key in images]
    throughput = (
        ThroughputSpec(tuple(contents[:THROUGHPUT_BATCH]), styles[0], tuple(styles))
        if Throughput.info.name in plan.metrics and contents and styles
        else None
    )
    fingerprints: dict[str, str] = {}

    def throughput_of(method: str) -> ThroughputSpec | None:
        if throughput is None:
            return None
        style = DOMAIN_STYLE if is_domain(method) else throughput.style
        first = next(
            c.id
            for c in plan.cells
            if (c.method, c.content, c.style) == (method, throughput.contents[0], style)
        )
        return replace(throughput, job=training.cell_jobs.get(first))

    def record(result: MethodResult) -> None:
        entry = {"id": result.method, "inputs": fingerprints[result.method], **asdict(result)}
        append_journal(journal, entry)

    def current(method: str) -> bool:
        return done.get(method, {}).get("inputs") == _fingerprint(_ok_cells(run_dir, method))

    def job(method: str) -> MethodJob | None:
        ok = _ok_cells(run_dir, method)
        fingerprints[method] = _fingerprint(ok)
        if done.get(method, {}).get("inputs") == fingerprints[method]:
            return None
        if unreadable:
            record(MethodResult(method, error=f"the reference set is unusable: {unreadable[0]}"))
            return None
        try:
            features = _stored_features(run_dir, ok) if _set_metrics(plan) else empty_features()
        except StoredFeaturesError as exc:
            record(MethodResult(method, error=str(exc)))
            return None
        return MethodJob(
            method=method,
            features=features,
            image_scores={name: [c["scores"].get(name) for c in ok] for name in plan.metrics},
            reference=reference,
        )

    def early(method: str) -> MethodJob | None:
        spec = throughput_of(method)
        if spec is None or unreadable:
            return None
        return MethodJob(
            method, empty_features(), {}, reference, throughput=spec, set_metrics=False
        )

    needed = bool(_set_metrics(plan)) or throughput is not None
    running = {cell.method for cell in runnable}
    methods = [m for m in plan.methods if m in running or not current(m)] if needed else []
    checkpoints = [spec.job for m in methods if (spec := throughput_of(m)) and spec.job]
    return MethodWork(
        methods=methods, job=job, early=early, on_result=record, checkpoints=checkpoints
    )


def _cell_entry(
    plan: Plan,
    cell_id: str,
    result: CellResult,
    files: dict[str, str | None],
    split: str | None,
) -> dict[str, Any]:
    """A cell's journal line; ``files``: its ``output`` PNG and ``features`` array, relative
    to the run folder (None where the cell has none)."""
    cell = next(c for c in plan.cells if c.id == cell_id)
    return {
        "id": cell.id,
        "method": cell.method,
        "content": cell.content,
        "style": cell.style,
        "style_split": split,
        "seed": cell.seed,
        "status": result.status,
        **files,
        "scores": result.scores,
        "curves": result.curves,
        "prepare_time": result.prepare_time,
        "error": result.error,
        "traceback": result.traceback,
        "device": result.device,
        "worker": result.worker,
        "weights": result.weights,
        "notes": result.notes,
        "timings": result.timings,
        "finished": datetime.now(UTC).isoformat(),
    }


def _prepare_time(cells: list[dict[str, Any]], training: list[dict[str, Any]]) -> float | None:
    """Trained methods: the training time of every checkpoint they use (measured when it was
    trained, also when it now comes from the cache), or the loading time of a checkpoint file.
    Others: the slowest worker's prepare."""
    if training:
        seconds = [t.get("seconds") for t in training]
        return None if None in seconds else sum(seconds)
    prepare = [c["prepare_time"] for c in cells if c.get("prepare_time") is not None]
    return max(prepare) if prepare else None


def compute_summary(
    cells: list[dict[str, Any]],
    method_results: dict[str, dict[str, Any]],
    training: list[dict[str, Any]],
) -> dict[str, float]:
    """Seconds of work on workers, summed over the record's cells, method jobs and the
    checkpoints trained for it: the method (``prepare``, ``stylize``, ``throughput``), the metrics
    (``score``) and, apart, loading networks (``setup``). ``compute`` is the method and metric
    work, the part a run exists to do; a run's wall time over it is the harness's overhead."""
    cell_timings = [c.get("timings") or {} for c in cells]
    job_timings = [r.get("timings") or {} for r in method_results.values()]
    trained = [t.get("seconds") or 0.0 for t in training if t.get("source") == "trained"]
    summary = {
        "prepare": sum(t.get("prepare", 0.0) for t in cell_timings) + sum(trained),
        "stylize": sum(t.get("stylize", 0.0) for t in cell_timings),
        "throughput": sum(t.get("throughput", 0.0) for t in job_timings),
        "score": sum(t.get("score", 0.0) for t in cell_timings)
        + sum(t.get("set_metrics", 0.0) for t in job_timings),
        "setup": sum(t.get("setup", 0.0) for t in [*cell_timings, *job_timings]),
    }
    summary["compute"] = sum(v for k, v in summary.items() if k != "setup")
    return summary


def _method_summaries(
    plan: Plan,
    cells: list[dict[str, Any]],
    training: list[dict[str, Any]],
    method_results: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    summaries = {}
    for name, config in plan.methods.items():
        cls = METHODS.get(name)
        mine = [c for c in cells if c["method"] == name]
        jobs = sorted((t for t in training if t["method"] == name), key=lambda t: t["label"])
        result = method_results.get(name, {})
        summaries[name] = {
            "config": config.model_dump(mode="json"),
            "summary": cls.summary,
            "paper": cls.paper,
            "needs": asdict(cls.needs),
            "prepare_time": _prepare_time(mine, jobs),
            "training": jobs,
            "cells_planned": sum(1 for c in plan.cells if c.method == name),
            "cells_ok": sum(1 for c in mine if c["status"] == "ok"),
            "cells_failed": sum(1 for c in mine if c["status"] != "ok"),
            "iterative": cls.iterative,
            "throughput": (result.get("throughput") or {}).get("value"),
            "throughput_details": result.get("throughput"),
            "set_scores": result.get("set_scores", {}),
            "job_timings": result.get("timings", {}),
            "method_error": result.get("error"),
        }
    return summaries


def _guide_entry(plan: Plan, image_key: str) -> dict[str, str] | None:
    """The suite's semantic map of an image (None: a semantic method makes one itself)."""
    ref = plan.suite.guides.get(image_key)
    if ref is None:
        return None
    return {"name": ref.name, "sha256": ref.sha256, "input": f"inputs/guides/{image_key}.png"}


def _set_evaluation(plan: Plan, method_results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """How set metrics were computed (the same for every method) and the reference set."""
    settings = next((r["set_settings"] for r in method_results.values() if r["set_settings"]), {})
    return {
        **settings,
        "reference_images": [
            {"key": r.key, "name": r.name, "sha256": r.sha256} for r in plan.suite.reference_set
        ],
        "reference_role": "reference" if plan.suite.reference else "style",
    }


def _domain_evaluation(plan: Plan) -> dict[str, Any]:
    """How domain methods (one output per content image, no style image) are scored."""
    return {
        "methods": [m for m in plan.methods if is_domain(m)],
        "cell_style": DOMAIN_STYLE,
        "style_set": "reference" if plan.suite.reference else "style",
        "style_set_images": len(plan.suite.reference_set),
        "style_loss": DOMAIN_STYLE_LOSS,
        "content_metrics": "against the content image, as for every method",
        "set_metrics": "outputs against the reference set, as for every method",
    }


def build_record(
    plan: Plan,
    run_id: str,
    key: str,
    commit: str,
    weights: WeightsSource,
    cells: list[dict],
    started: str,
    method_results: dict[str, dict[str, Any]] | None = None,
    training: list[dict] | None = None,
) -> dict[str, Any]:
    """The run record: everything reports and comparisons need, and nothing they must recompute."""
    spec = plan.suite.spec
    method_results = method_results or {}
    sources = [*cells, *method_results.values()]
    networks = {w["network"]: w for c in sources for w in c.get("weights", [])}
    devices = sorted({c["device"] for c in cells if c.get("device")})
    complete = all(c["status"] == "ok" for c in cells) and len(cells) == len(plan.cells)
    return {
        "schema": SCHEMA,
        "run_id": run_id,
        "run_key": key,
        "status": "complete" if complete else "partial",
        "started": started,
        "finished": datetime.now(UTC).isoformat(),
        "config": plan.resolved_config(),
        "config_hash": plan.config_hash,
        "suite": {
            "name": spec.name,
            "version": spec.version,
            "description": spec.description,
            "source": plan.suite.source,
            "image_size": spec.image_size,
            "seed": spec.seed,
            "file_list_hash": plan.suite.file_list_hash,
            "datasets": plan.suite.datasets,
            "preprocess": PREPROCESS,
            "content": [
                {
                    "key": r.key,
                    "name": r.name,
                    "sha256": r.sha256,
                    "input": f"inputs/content/{r.key}.png",
                    "guide": _guide_entry(plan, r.key),
                }
                for r in plan.suite.content
            ],
            "style": [
                {
                    "key": r.key,
                    "name": r.name,
                    "sha256": r.sha256,
                    "input": f"inputs/style/{r.key}.png",
                    "guide": _guide_entry(plan, r.key),
                }
                for r in plan.suite.style
            ],
        },
        "environment": {
            "git_commit": commit,
            "packages": package_versions(),
            "host": socket.gethostname(),
            "platform": platform.platform(),
            "devices": devices,
        },
        "weights": {
            "source": weights.describe(),
            "random": weights.is_random,
            "networks": sorted(networks.values(), key=lambda w: w["network"]),
        },
        "evaluation": {
            **evaluation_description(),
            "runtime": {
                "latency": f"device-synchronised; median of {REPEATS} runs after one warm-up per "
                "worker, or one run for iterative methods",
                "throughput": f"images/s on one batch of up to {THROUGHPUT_BATCH} content images, "
                "same protocol",
                "peak_memory": "peak CUDA allocation on GPU, peak process RSS on CPU",
            },
            **({"sets": _set_evaluation(plan, method_results)} if _set_metrics(plan) else {}),
            **({"domain": _domain_evaluation(plan)} if any(map(is_domain, plan.methods)) else {}),
        },
        "metrics": {name: METRICS.get(name).info.as_dict() for name in plan.metrics},
        "methods": _method_summaries(plan, cells, training or [], method_results),
        "compute_seconds": compute_summary(cells, method_results, training or []),
        "cells": sorted(cells, key=lambda c: [c["method"], c["content"], c["style"]]),
    }


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
            domain_set = _domain_set(plan)
            for cell in todo:
                keys = [cell.content, *(domain_set if is_domain(cell.method) else [cell.style])]
                if METHODS.get(cell.method).needs.guides:
                    keys += [guide_key(cell.content), guide_key(cell.style)]
                errors = [bad_images[k] for k in keys if k in bad_images]
                if errors:
                    broken[cell.id] = errors[0]
            candidates = training.attach([c for c in todo if c.id not in broken])
            method_work = _method_work(plan, run_dir, candidates, images, bad_images, training)

            def log_job(entry: dict[str, Any]) -> None:
                append_journal(training_log, {**entry, "id": entry["key"]})
                progress.job_done(entry)

            with session():
                needed = {c.job for c in candidates if c.job} | set(method_work.checkpoints)
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
                        files["features"] = _features_file(result.cell_id)
                        write_array_atomic(run_dir / files["features"], result.features)
                    split = training.splits.get(result.cell_id)
                    entry = _cell_entry(plan, result.cell_id, result, files, split)
                    append_journal(journal, entry)
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
                if runnable or method_work.methods:
                    settings = WorkerSettings(
                        weights=suite.spec.weights,
                        seed=suite.spec.seed,
                        methods={
                            name: cfg.model_dump(mode="json") for name, cfg in plan.methods.items()
                        },
                        metrics=plan.metrics,
                        domain=domain_set,
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
                        method_work,
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
            write_json_atomic(run_dir / "record.json", record)
            report = write_report(record, run_dir)
            tracker.finish(record)
        record["tracking"] = tracker.ids
        write_json_atomic(run_dir / "record.json", record)
        return RunOutcome(
            run_dir=run_dir,
            report=report,
            tracking_uri=tracking_uri,
            record=record,
            tracking_error=tracker.error,
        )


def sync_run(run: Path, tracking_uri: str | None) -> dict[str, Any]:
    """Log to MLflow whatever of a finished run's record is not there yet (exactly once)."""
    from stylebench.records import read_record
    from stylebench.tracking import Tracker, preflight

    record = read_record(run)
    run_dir = run if run.is_dir() else run.parent
    uri = tracking_uri or (record.get("tracking") or {}).get("uri")
    if not uri:
        raise BenchError(f"{run} has no tracking URI on record; pass --tracking-uri")
    preflight(uri)
    with locks.run_folder(run_dir):
        tracker = Tracker(uri, run_dir)
        if not tracker.finish(record):
            raise BenchError(f"{tracker.error}; results are safe in {run_dir / 'journal.jsonl'}")
        record["tracking"] = tracker.ids
        write_json_atomic(run_dir / "record.json", record)
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

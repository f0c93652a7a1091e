"""Training jobs of trained methods: planned once per (method, style set), trained once, cached.

A *job* is one thing a trained method learns: one network per style (``train_styles="each"``),
one for the suite's styles (``all``), one for its training styles (``training``) or one that
learns no style (``none``: no style image in its key, and every cell of it is held out). Its
key is the SHA-256 of everything that decides the trained weights: method, training settings
(not the inference-only ones), style images (file hashes and the size they are used at),
training content (file hashes), suite seed and the weights of every backbone the method
borrows. The key names the checkpoint in the on-disk cache (`bench.checkpoint_cache`), so a
rerun with the same key loads instead of training. The code version is not in the key, so
checkpoints survive unrelated commits; ``--retrain`` forces training.

Jobs train as their own Ray tasks (`bench.execute.run_training`) before the cells that need them;
workers then get the state dicts through Ray's object store and only load them. A method whose
settings name a ``checkpoint`` file is not trained: the driver loads the file once (strictly,
weights-only) and every cell of that method uses it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stylebench.checkpoint_cache import cache_paths, read_cached, write_cached
from stylebench.errors import BenchError
from stylebench.hashing import file_sha256
from stylebench.images import load_image, to_uint8
from stylebench.methods.core.checkpoints import CheckpointMismatch
from stylebench.methods.core.training_loop import curve_every
from stylebench.methods.core.weights import (
    WeightsUnavailable,
    file_problem,
    read_state_dict,
    state_dict_sha256,
)
from stylebench.plan import Cell, Plan, PlanError, is_domain, is_reverse, method_class, method_of
from stylebench.suites.load import ImageRef
from stylebench.training_task import (
    State,
    TrainedCheckpoint,
    TrainingJob,
    TrainingSettings,
    build_method,
)

#: Bump when the cache layout or the meaning of a key changes.
KEY_FORMAT = 1
#: Style names a record lists per job (the count is always there).
LISTED_STYLES = 50


class TrainingError(BenchError):
    """A checkpoint named in the settings cannot be used."""


@dataclass(frozen=True)
class TrainingPlan:
    """The jobs of a plan, which job each cell uses, and whether its style was trained on."""

    jobs: dict[str, TrainingJob]
    cell_jobs: dict[str, str]
    splits: dict[str, str | None]

    def attach(self, cells: list[Cell]) -> list[Cell]:
        """``cells`` with their job keys filled in (workers load those checkpoints)."""
        return [replace(c, job=self.cell_jobs.get(c.id)) for c in cells]


def _sha256_json(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _set_digest(hashes: list[str]) -> dict[str, Any]:
    """A list of file hashes as its length and the hash of the list (records stay small for
    training sets of 80,000 images)."""
    return {"count": len(hashes), "sha256": _sha256_json(hashes)}


def style_set_id(hashes: tuple[str, ...]) -> str:
    """A short name for a set of style images (order does not matter)."""
    return _sha256_json(sorted(hashes))[:12]


def _job(
    plan: Plan, name: str, styles: tuple[ImageRef, ...], label: str, weights: Mapping[str, str]
) -> TrainingJob:
    config = plan.methods[name]
    spec = plan.suite.spec
    method = method_of(name)  # both directions of a domain method share their training
    identity = {
        "format": KEY_FORMAT,
        "method": method,
        "settings": config.training_settings(),
        "styles": _set_digest([ref.sha256 for ref in styles]),
        "style_size": spec.image_size,
        "training_content": _set_digest([ref.sha256 for ref in plan.suite.training_content]),
        "seed": spec.seed,
        "weights": {arch: weights[arch] for arch in method_class(name).encoders},
    }
    return TrainingJob(
        method=method,
        key=_sha256_json(identity),
        label=label,
        settings=config.model_dump(mode="json"),
        styles=tuple(ref.key for ref in styles),
        style_names=tuple(ref.name for ref in styles),
        style_hashes=tuple(ref.sha256 for ref in styles),
        training=tuple(str(ref.path) for ref in plan.suite.training_content),
        identity=identity,
        style_paths=tuple(str(ref.path) for ref in styles) if is_domain(name) else (),
    )


def missing_training_sources(plan: Plan) -> list[str]:
    """One message per trained method of ``plan`` that has neither a training split in its suite
    nor a usable checkpoint file (`bench validate` lists them; a run stops on them)."""
    problems = []
    for name, config in plan.methods.items():
        if not method_class(name).needs.training or is_reverse(name):
            continue  # a reverse entry has its method's training source
        checkpoint = getattr(config, "checkpoint", None)
        if checkpoint:
            path = Path(checkpoint).expanduser().resolve()
            problem = file_problem(path)
            if problem:
                problems.append(f"methods.{name}.checkpoint: {path} {problem}")
        elif not plan.suite.training_content:
            problems.append(
                f"method {name!r} is trained but suite {plan.suite.spec.name!r} has no training "
                f"split: add training.content to the suite, or pass --checkpoint {name}=PATH"
            )
    return problems


def _checkpoint_job(plan: Plan, name: str, path_text: str) -> TrainingJob:
    path = Path(path_text).expanduser().resolve()
    file_hash = file_sha256(path)
    return TrainingJob(
        method=name,
        key=f"file-{file_hash}",
        label=f"{name}/{path.name}",
        settings={**plan.methods[name].model_dump(mode="json"), "checkpoint": str(path)},
        identity={"method": name, "checkpoint": str(path), "file_sha256": file_hash},
        checkpoint=str(path),
    )


def plan_training(plan: Plan, weights: Mapping[str, str]) -> TrainingPlan:
    """The training jobs of ``plan``; ``weights`` maps each backbone to its weights' SHA-256.

    Fails before any compute if a trained method has neither a training split nor a checkpoint.
    """
    problems = missing_training_sources(plan)
    if problems:
        raise PlanError("\n".join(problems))
    jobs: dict[str, TrainingJob] = {}
    cell_jobs: dict[str, str] = {}
    splits: dict[str, str | None] = {}
    suite = plan.suite
    for name, config in plan.methods.items():
        needs = method_class(name).needs
        if not needs.training:
            continue
        checkpoint = getattr(config, "checkpoint", None)
        if checkpoint:
            job = _checkpoint_job(plan, name, checkpoint)
            jobs[job.key] = job
            for cell in plan.cells:
                if cell.method == name:
                    cell_jobs[cell.id], splits[cell.id] = job.key, None
            continue
        if needs.train_styles == "each":
            sets = [((ref,), f"{name}/{ref.key}") for ref in suite.style]
        elif needs.train_styles == "none":
            sets = [((), f"{name}/no styles")]
        elif needs.train_styles == "all":
            sets = [(suite.style, f"{name}/{len(suite.style)} styles")]
        else:
            styles = suite.training_style or suite.style
            sets = [(styles, f"{name}/{len(styles)} training styles")]
        mine = [_job(plan, name, styles, label, weights) for styles, label in sets]
        for job in mine:  # a reverse entry's job is its method's (same key)
            jobs.setdefault(job.key, job)
        for cell in plan.cells:
            if cell.method != name:
                continue
            # One job per style ("each") or one job for every style of the method.
            job = next((j for j in mine if cell.style in j.styles), mine[0])
            cell_jobs[cell.id] = job.key
            # Scored against the style domain, or a blend: not one style image, trained or not.
            if is_domain(name) or suite.blend(cell.style) is not None:
                splits[cell.id] = None
                continue
            style_hash = suite.image(cell.style).sha256
            splits[cell.id] = "train" if style_hash in job.style_hashes else "heldout"
    return TrainingPlan(jobs=jobs, cell_jobs=cell_jobs, splits=splits)


def load_checkpoint_file(job: TrainingJob, settings: TrainingSettings) -> tuple[State, float]:
    """Read a checkpoint named in the settings on the driver: strictly, weights-only, once."""
    assert job.checkpoint is not None
    method = build_method(
        job.method, job.settings, settings.seed, settings.weights, torch.device("cpu")
    )
    start = time.perf_counter()
    try:
        method.load_state_dict(read_state_dict(Path(job.checkpoint)), source=job.checkpoint)
    except (CheckpointMismatch, WeightsUnavailable) as exc:
        raise TrainingError(f"methods.{job.method}.checkpoint: {exc}") from None
    return method.state_dict(), time.perf_counter() - start


@dataclass
class PreparedCheckpoints:
    """Every job's state dict (for the workers) and its entry (for the record), or its error."""

    states: dict[str, State] = field(default_factory=dict)
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)

    def error(self, key: str) -> str | None:
        return self.entries.get(key, {}).get("error")


def job_entry(job: TrainingJob, **facts: Any) -> dict[str, Any]:
    """A job's facts as recorded (record, cache metadata, MLflow tags)."""
    return {
        "method": job.method,
        "key": job.key,
        "label": job.label,
        "styles": list(job.style_names[:LISTED_STYLES]),
        "style_count": len(job.style_names),
        "style_set": style_set_id(job.style_hashes) if job.style_hashes else None,
        "training_images": len(job.training),
        "identity": job.identity,
        **facts,
    }


def prepare_checkpoints(
    jobs: list[TrainingJob],
    settings: TrainingSettings,
    styles: dict[str, np.ndarray],
    retrain: bool,
    train: Callable[[list[TrainingJob]], list[TrainedCheckpoint]],
    provenance: dict[str, str],
    on_job: Callable[[dict[str, Any]], None] = lambda entry: None,
) -> PreparedCheckpoints:
    """Load, reuse or train every job. ``train`` runs the jobs that need it (Ray tasks in a run);
    ``provenance`` (suite, config hash, git commit) goes into the cache facts of new checkpoints.
    """
    prepared = PreparedCheckpoints()
    to_train = []
    for job in jobs:
        if job.checkpoint:
            state, seconds = load_checkpoint_file(job, settings)
            entry = job_entry(
                job,
                source="file",
                path=job.checkpoint,
                sha256=state_dict_sha256(state),
                seconds=seconds,
            )
            prepared.states[job.key], prepared.entries[job.key] = state, entry
            on_job(entry)
            continue
        cached = None if retrain else read_cached(job)
        if cached is not None:
            state, meta = cached
            # Facts of the training (time, device, curves, provenance) with this run's names.
            entry = {
                **meta,
                **job_entry(job),
                "source": "cache",
                "path": str(cache_paths(job)[0]),
            }
            prepared.states[job.key], prepared.entries[job.key] = state, entry
            on_job(entry)
        else:
            to_train.append(job)
    by_key = {job.key: job for job in to_train}
    for result in train(to_train) if to_train else []:
        job = by_key[result.key]
        if result.error is not None or result.state is None:
            entry = job_entry(job, source="failed", error=result.error, traceback=result.traceback)
            prepared.entries[job.key] = entry
            on_job(entry)
            continue
        facts = job_entry(
            job,
            sha256=state_dict_sha256(result.state),
            seconds=result.seconds,
            resumed_from_step=result.resumed_from,
            device=result.device,
            device_kind=result.device_kind,
            devices=result.devices,
            device_seconds=result.seconds * result.devices,
            steps=job.settings["steps"],
            curve_every=curve_every(job.settings["steps"]),
            curves=result.curves,
            trained_at=datetime.now(UTC).isoformat(),
            **provenance,
        )
        path = write_cached(job, result.state, facts)
        entry = {**facts, "source": "trained", "path": str(path)}
        prepared.states[job.key], prepared.entries[job.key] = result.state, entry
        on_job(entry)
    return prepared


def style_arrays(jobs: list[TrainingJob], plan: Plan, images: dict[str, np.ndarray]) -> dict:
    """Style images of ``jobs`` as the cells see them; training-only styles are loaded here.
    Domain methods read their style domain from its files in the task instead (``style_paths``:
    a domain may hold thousands of images)."""
    refs = {ref.key: ref for ref in (*plan.suite.style, *plan.suite.training_style)}
    size = plan.suite.spec.image_size
    arrays = {}
    for job in jobs:
        if job.style_paths:
            continue
        for key in job.styles:
            if key not in arrays:
                arrays[key] = (
                    images[key]
                    if key in images
                    else to_uint8(load_image(refs[key].path, size).unsqueeze(0))[0]
                )
    return arrays

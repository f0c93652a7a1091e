"""MLflow tracking: one experiment per suite, a parent run per invocation, a child run per method.

The only module that imports MLflow. The default store is an embedded sqlite file in the output
folder; ``--tracking-uri`` / ``MLFLOW_TRACKING_URI`` point at any tracking server instead. Metric
and param names are the same for every method so the UI's compare view lines them up.

The UI opens each experiment on its runs table (`EXPERIMENT_KIND`); a child run spans its
method's cells, from the start of the first to the end of the last, so its duration is the
method's own; loss curves are metric histories under ``curves/`` (one per image pair) and
``train/`` (per training job), which the compare view's filter separates from the summary
numbers; the parent holds the leaderboard and every cell's scores as MLflow tables
(``leaderboard.json``, ``scores.json``).

Logging is incremental and exactly-once: each cell is logged the moment it finishes, and a ledger
in the run folder (``tracking.json``) remembers what has been logged, so resuming a run or
``bench sync`` after the server went away logs only what is missing. If the server fails
mid-run, the run goes on (the journal keeps everything) and says to run ``bench sync``.
"""

from __future__ import annotations

import logging
import math
import os
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from stylebench import interrupts, locks
from stylebench.errors import BenchError
from stylebench.record_model import (
    CellRecord,
    RunRecord,
    SetScore,
    TrackingIds,
    TrainingEntry,
)
from stylebench.records import read_json, write_json_atomic
from stylebench.reports.stats import bootstrap_ci
from stylebench.reports.tables import cell_scores

BATCH = 900
#: MLflow's HTTP client retries a dead server for minutes by default (7 retries, backoff factor
#: 2, 120 s timeout); a run must fall back to its journal within seconds instead. A user's own
#: settings of these variables win.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
PARAM_BATCH = 90
#: The tag MLflow 3's UI reads to choose an experiment's landing page: without it the UI opens
#: on the GenAI "Traces" page; "custom_model_development" ("Machine learning") opens the runs.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


class TrackingError(BenchError):
    """The tracking store cannot be used."""


def default_tracking_uri(out: Path) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else an sqlite store in the output folder."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{out / 'mlflow.db'}"


def sqlite_file(uri: str) -> Path | None:
    """The database file of an ``sqlite:///`` store (absolute), else None.

    SQLAlchemy's form is ``sqlite:///`` followed by the path, so an absolute path gives four
    slashes; `urlparse` would keep two of them (``//data/x``) and everything built on that path
    would read ``data`` as a host name.
    """
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    return Path(os.path.abspath(uri[len(prefix) :].split("?", 1)[0]))


def preflight(uri: str) -> None:
    """Fail within seconds, before any compute, if a remote tracking server does not answer."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("http", "https"):
        database = sqlite_file(uri)
        if database is not None:
            database.parent.mkdir(parents=True, exist_ok=True)
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5) as response:
            if response.status != 200:
                raise TrackingError(f"tracking server {uri} answered {response.status} on /health")
    except OSError as exc:
        raise TrackingError(
            f"tracking server {uri} is unreachable ({exc}); start it or pass another --tracking-uri"
        ) from None


def flatten(data: Any, prefix: str = "") -> dict[str, str]:
    """Nested config to MLflow params: ``{"a": {"b": 1}}`` -> ``{"a.b": "1"}``."""
    if isinstance(data, dict):
        flat: dict[str, str] = {}
        for key, value in data.items():
            flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: str(data)[:6000]}


def _log_batch(
    client: Any,
    run_id: str,
    metrics: Sequence[tuple[str, float, int]] = (),
    params: dict[str, str] | None = None,
) -> None:
    """Metrics (finite ones) and params in as few requests as MLflow's batch limits allow."""
    from mlflow.entities import Metric, Param

    items = [Metric(key=k, value=v, timestamp=0, step=s) for k, v, s in metrics if math.isfinite(v)]
    for start in range(0, len(items), BATCH):
        client.log_batch(run_id, metrics=items[start : start + BATCH])
    plist = [Param(k, v) for k, v in (params or {}).items()]
    for start in range(0, len(plist), PARAM_BATCH):
        client.log_batch(run_id, params=plist[start : start + PARAM_BATCH])


def artifact_location(uri: str, folder: str) -> str | None:
    """Artifacts of a local store live beside its database (MLflow's default is the cwd), as a
    ``file:///`` URI; a server or an in-memory store keeps its own default (None)."""
    database = sqlite_file(uri)
    if database is None:
        return None
    return (database.parent / "mlartifacts" / folder).as_uri()


def experiment_page(experiment_id: str) -> str:
    """The UI's path to an experiment's runs table. MLflow 3.17's UI ignores `EXPERIMENT_KIND`
    and picks the page from a "workflow type" (the URL's, else the browser's saved choice, else
    GenAI, whose landing page is the traces), so the link names the machine-learning one."""
    return f"#/experiments/{experiment_id}?workflowType=machine_learning"


def get_or_create_experiment(client: Any, name: str, uri: str, folder: str) -> str:
    """The id of experiment ``name``, created with bench's artifact location if missing; tagged
    with `EXPERIMENT_KIND` (also an experiment an older bench made without it)."""
    with _store_lock(uri):
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            location = artifact_location(uri, folder)
            return client.create_experiment(name, artifact_location=location, tags=EXPERIMENT_KIND)
        for key, value in EXPERIMENT_KIND.items():
            if key not in experiment.tags:
                client.set_experiment_tag(experiment.experiment_id, key, value)
        return experiment.experiment_id


def _finite_mean(values: list[float | None]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None


def mlflow_client(uri: str) -> Any:
    """An MLflow client for ``uri`` (tracking and model registry) with bench's defaults: HTTP
    retries that give up within seconds (`HTTP_DEFAULTS`), and MLflow's INFO lines (creating
    tables, system metrics starting and stopping) kept out of bench's own output. A user's
    own ``MLFLOW_HTTP_*`` and ``MLFLOW_LOGGING_LEVEL`` settings win."""
    for name, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)
    from mlflow.tracking import MlflowClient

    if not os.environ.get("MLFLOW_LOGGING_LEVEL"):
        logging.getLogger("mlflow").setLevel(logging.WARNING)
    with _store_lock(uri):
        # Opening an sqlite store creates or migrates its schema: one process at a time.
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_registered_models(max_results=1)  # the registry's store opens lazily
    return client


@contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    """Serialise schema creation and experiment creation on a local sqlite store (a server
    serialises them itself)."""
    database = sqlite_file(uri)
    if database is None:
        yield
        return
    with locks.exclusive(database.with_name(database.name + ".lock"), wait=True):
        yield


class Tracker:
    """Logs one run to MLflow, each thing exactly once, remembering progress in a ledger."""

    def __init__(self, uri: str, run_dir: Path) -> None:
        self.uri = uri
        self.run_dir = run_dir
        self.ledger_path = run_dir / "tracking.json"
        self.ledger: dict[str, Any] = {"uri": uri, "cells": [], "methods_done": [], "children": {}}
        if self.ledger_path.is_file():
            previous = read_json(self.ledger_path)
            if previous.get("uri") == uri:
                self.ledger = previous
        self.error: str | None = None
        self._client: Any = None
        self._system: Any = None
        self._header: dict[str, Any] | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = mlflow_client(self.uri)
        return self._client

    @property
    def ids(self) -> TrackingIds:
        """What the record keeps about the MLflow side."""
        return TrackingIds(
            uri=self.uri,
            experiment_id=self.ledger.get("experiment_id"),
            parent_run_id=self.ledger.get("parent"),
            children=dict(self.ledger["children"]),
            complete=self.ledger.get("finished", False),
        )

    def _save(self) -> None:
        write_json_atomic(self.ledger_path, self.ledger)

    def _guard(self, action: str, fn: Any, *args: Any) -> bool:
        """Run an MLflow action; on failure remember the error and stop tracking this session."""
        if self.error is not None:
            return False
        try:
            fn(*args)
            return True
        except Exception as exc:
            if interrupts.requested():  # the stop, wrapped by MLflow's database layer
                raise KeyboardInterrupt from exc
            self.error = f"MLflow {action} failed ({type(exc).__name__}: {str(exc)[:200]})"
            return False

    def _log_batch(
        self,
        run_id: str,
        metrics: Sequence[tuple[str, float, int]] = (),
        params: dict[str, str] | None = None,
    ) -> None:
        _log_batch(self.client, run_id, metrics, params)

    def start(self, header: dict[str, Any]) -> bool:
        """Create (or find again) the experiment, parent run and one child run per method."""
        return self._guard("start", self._start, header)

    def _start(self, header: dict[str, Any]) -> None:
        client = self.client
        self._header = header
        if "parent" not in self.ledger:
            suite = header["suite"]
            experiment_id = get_or_create_experiment(client, f"stylebench/{suite}", self.uri, suite)
            parent = client.create_run(
                experiment_id, run_name=header["run_id"], tags=header["tags"]
            )
            self._log_batch(parent.info.run_id, params=header["params"])
            self.ledger.update(experiment_id=experiment_id, parent=parent.info.run_id)
            self._save()
        else:
            client.update_run(self.ledger["parent"], status="RUNNING")
        for method, run_id in self.ledger["children"].items():
            if method not in self.ledger["methods_done"]:
                client.update_run(run_id, status="RUNNING")

    def _child(self, method: str, start_ms: int | None) -> str:
        """The method's child run, created when its first cell is logged (``start_ms``: when
        that cell started), so that the run's duration is the method's own."""
        if method in self.ledger["children"]:
            return self.ledger["children"][method]
        found = self.client.search_runs(
            [self.ledger["experiment_id"]],
            filter_string=f"tags.`mlflow.parentRunId` = '{self.ledger['parent']}' "
            f"and tags.`stylebench.method` = '{method}'",
        )
        if found:  # created by an invocation stopped before its ledger said so
            self.ledger["children"][method] = found[0].info.run_id
            self._save()
            return found[0].info.run_id
        assert self._header is not None
        header = self._header
        child = self.client.create_run(
            self.ledger["experiment_id"],
            start_time=start_ms,
            run_name=method,
            tags={
                **header["tags"],
                "mlflow.parentRunId": self.ledger["parent"],
                "stylebench.method": method,
            },
        )
        params = {**header["params"], "method": method, **header["methods"].get(method, {})}
        self._log_batch(child.info.run_id, params=params)
        self.ledger["children"][method] = child.info.run_id
        self._save()
        return child.info.run_id

    def monitor_system(self, interval_s: float = 10.0) -> None:
        """Sample CPU, memory (and GPU, with pynvml) of this machine into the parent run."""
        if self.error is not None or "parent" not in self.ledger:
            return
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

        self._system = SystemMetricsMonitor(
            self.ledger["parent"],
            sampling_interval=interval_s,
            resume_logging=True,
            tracking_uri=self.uri,
        )
        self._guard("system metrics", self._system.start)

    @contextmanager
    def ending_runs_on_error(self) -> Iterator[None]:
        """A block after which the runs are finished; if it raises, they end as KILLED
        (interrupted) or FAILED (crashed) instead of staying RUNNING."""
        try:
            yield
        except BaseException as exc:
            self.abandon("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
            raise

    def abandon(self, status: str) -> None:
        """End the runs of an invocation that stops early (``KILLED`` when interrupted,
        ``FAILED`` when it crashed), so none stays RUNNING; a resume sets them running again."""
        self.stop_system()
        if "parent" in self.ledger:
            self._guard("end runs", self._end_running, status)

    def _end_running(self, status: str) -> None:
        """The parent and every child still RUNNING, found in MLflow itself: a child created
        just as the stop came may not be in the ledger yet."""
        children = self.client.search_runs(
            [self.ledger["experiment_id"]],
            filter_string=f"tags.`mlflow.parentRunId` = '{self.ledger['parent']}'",
        )
        running = [run.info.run_id for run in children if run.info.status == "RUNNING"]
        for run_id in [*running, self.ledger["parent"]]:
            self.client.set_terminated(run_id, status)

    def stop_system(self) -> None:
        if self._system is not None:
            self._guard("system metrics", self._system.finish)
            self._system = None

    def log_cell(self, cell: CellRecord) -> bool:
        """Log one finished cell (its loss curves and output image), unless it already was."""
        if cell.id in self.ledger["cells"] or "parent" not in self.ledger:
            return True
        return self._guard("log cell", self._log_cell, cell)

    def _log_cell(self, cell: CellRecord) -> None:
        child = self._child(cell.method, _cell_span_ms(cell)[0])
        metrics = [
            (f"curves/{cell.content}/{cell.style}/{term}", value, step)
            for term, curve in cell.curves.items()
            for step, value in enumerate(curve)
        ]
        self._log_batch(child, metrics)
        if cell.output:
            folder = str(Path("outputs") / cell.content)
            self.client.log_artifact(child, str(self.run_dir / cell.output), artifact_path=folder)
        self.ledger["cells"].append(cell.id)
        self._save()

    def finish(self, record: RunRecord) -> bool:
        """Log every cell still missing, per-method summaries, the report and record; close runs."""
        self.stop_system()
        self._header = self._header or record_header(record)
        if "parent" not in self.ledger and not self.start(self._header):
            return False
        for cell in record.cells:
            if not self.log_cell(cell):
                return False
        return self._guard("finish", self._finish, record)

    def _finish(self, record: RunRecord) -> None:
        client = self.client
        complete = record.status == "complete"
        for method, summary in record.methods.items():
            if method in self.ledger["methods_done"]:
                continue
            cells = [c for c in record.cells if c.method == method]
            finished = len(cells) == summary.cells_planned
            if not finished:
                continue
            spans = [_cell_span_ms(cell) for cell in cells]
            child = self._child(method, min((s for s, _ in spans if s is not None), default=None))
            metrics = [(name, value, 0) for name, value in method_metrics(record, method).items()]
            training = summary.training
            self._log_batch(child, [*metrics, *_training_values(training)])
            registry = [
                f"{t.registry['model']} v{t.registry['version']}" for t in training if t.registry
            ]
            if registry:
                client.set_tag(child, "stylebench.checkpoints", ", ".join(registry))
            client.set_terminated(
                child,
                "FINISHED" if summary.cells_failed == 0 else "FAILED",
                end_time=max((end for _, end in spans if end is not None), default=None),
            )
            self.ledger["methods_done"].append(method)
            self._save()
        parent = self.ledger["parent"]
        all_done = len(self.ledger["methods_done"]) == len(record.methods)
        if all_done and not self.ledger.get("leaderboard_logged"):
            client.log_table(parent, data=leaderboard(record), artifact_file="leaderboard.json")
            client.log_table(parent, data=cell_scores(record), artifact_file="scores.json")
            self.ledger["leaderboard_logged"] = True
        for file in ("report.html", "grid.png", "record.json", "scores.csv"):
            if (self.run_dir / file).is_file():
                client.log_artifact(parent, str(self.run_dir / file))
        if not self.ledger.get("inputs_logged") and (self.run_dir / "inputs").is_dir():
            client.log_artifacts(parent, str(self.run_dir / "inputs"), artifact_path="inputs")
            self.ledger["inputs_logged"] = True
        client.set_terminated(
            parent, "FINISHED" if complete else ("FAILED" if all_done else "KILLED")
        )
        self.ledger["finished"] = all_done
        self._save()


def _cell_span_ms(cell: CellRecord) -> tuple[int | None, int | None]:
    """When a cell started and finished (ms since the epoch, MLflow's clock): its journal time
    minus the worker time it took (None for a cell without a time)."""
    if not cell.finished:
        return None, None
    end = datetime.fromisoformat(cell.finished).timestamp()
    seconds = sum(cell.timings.values())
    return round((end - seconds) * 1000), round(end * 1000)


def leaderboard(record: RunRecord) -> dict[str, list[Any]]:
    """One row per method with every number its child run logs (`method_metrics`; None where
    a method has none), for the parent run's MLflow table."""
    rows = {method: method_metrics(record, method) for method in record.methods}
    names = sorted({name for values in rows.values() for name in values})
    return {
        "method": list(rows),
        **{name: [values.get(name) for values in rows.values()] for name in names},
    }


def method_metrics(record: RunRecord, method: str) -> dict[str, float]:
    """The per-method numbers logged to MLflow: means of per-image metrics with their bootstrap
    95% intervals, set metrics with their N, method metrics, prepare time and cell counts."""
    summary = record.methods[method]
    ok = [c for c in record.ok_cells(method) if record.suite.blend(c.style) is None]
    values: dict[str, float] = {}
    for name, info in record.metrics.items():
        if info.per == "image":
            scores = [c.scores.get(name) for c in ok]
            mean = _finite_mean(scores)
            if mean is not None:
                values[name] = mean
                ci = bootstrap_ci(scores)
                if ci.low is not None and ci.high is not None:
                    values[f"{name}_ci95_low"], values[f"{name}_ci95_high"] = ci.low, ci.high
        elif info.per == "set":
            values.update(_set_values(name, summary.set_scores.get(name)))
        elif (value := summary.per_method(name)) is not None:
            values[name] = value
    if summary.prepare_time is not None and "prepare_time" not in record.metrics:
        values["prepare_time"] = summary.prepare_time
    values.update(_split_means(record, ok))
    values.update(_blend_means(record, method))
    values["cells_ok"] = float(summary.cells_ok)
    values["cells_failed"] = float(summary.cells_failed)
    return values


def _blend_means(record: RunRecord, method: str) -> dict[str, float]:
    """``blend/<blend key>/<metric>``: mean scores on each blend (kept apart from the means
    above, which are over the suite's style images for every method)."""
    values = {}
    for blend in record.suite.blends:
        mine = [c for c in record.ok_cells(method) if c.style == blend.key]
        for metric in record.metrics_per("image"):
            mean = _finite_mean([c.scores.get(metric) for c in mine])
            if mean is not None:
                values[f"blend/{blend.key}/{metric}"] = mean
    return values


def _split_means(record: RunRecord, ok: list[CellRecord]) -> dict[str, float]:
    """``split/train/<metric>`` and ``split/heldout/<metric>``: mean scores on styles a trained
    method learnt, and on styles it never saw."""
    values = {}
    for split in ("train", "heldout"):
        mine = [c for c in ok if c.style_split == split]
        for metric in record.metrics_per("image"):
            mean = _finite_mean([c.scores.get(metric) for c in mine])
            if mean is not None:
                values[f"split/{split}/{metric}"] = mean
    return values


def _training_values(training: list[TrainingEntry]) -> list[tuple[str, float, int]]:
    """Loss curves of each training job (``train/<job>/<term>``, step = training step) and the
    device-seconds spent training."""
    values: list[tuple[str, float, int]] = []
    for job in training:
        every = job.curve_every or 1
        for term, curve in job.curves.items():
            key = f"train/{job.label}/{term}"
            values += [(key, v, (i + 1) * every) for i, v in enumerate(curve) if math.isfinite(v)]
    device_seconds = [job.device_seconds for job in training if job.device_seconds is not None]
    if device_seconds:
        values.append(("training_device_seconds", sum(device_seconds), 0))
    return values


def register_checkpoint(uri: str, trained: dict[str, Any]) -> dict[str, Any]:
    """Register a trained checkpoint in the MLflow model registry, once.

    One registered model per method and style set (``stylebench.<method>.<style set>``, the set
    ``no_styles`` for a method whose training uses no style image); each
    checkpoint is a version whose source is the checkpoint logged by its training run (in the
    ``stylebench/training`` experiment, with its loss curves), tagged with the checkpoint key,
    config hash, suite, weights and git commit. A checkpoint already registered (same key) is
    not registered again.
    """
    from mlflow.exceptions import MlflowException

    entry = TrainingEntry.model_validate(trained)
    client = mlflow_client(uri)
    style_set = entry.style_set or "no_styles"  # a method that learns no style (wct)
    name = f"stylebench.{entry.method}.{style_set}"
    styles = ", ".join(entry.styles) or "none (no style image is learnt)"
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(
            name,
            tags={"stylebench.method": entry.method, "stylebench.style_set": style_set},
            description=f"{entry.method} trained on styles: {styles}"[:5000],
        )
    found = client.search_model_versions(
        f"name = '{name}' and tags.`stylebench.checkpoint_key` = '{entry.key}'"
    )
    if found:
        return {"model": name, "version": int(found[0].version), "run_id": found[0].run_id}
    tags = {
        "stylebench.checkpoint_key": entry.key,
        "stylebench.config_hash": str(entry.config_hash),
        "stylebench.suite": str(entry.suite),
        "stylebench.weights": str(entry.weights),
        "stylebench.sha256": str(entry.sha256),
        "mlflow.source.git.commit": str(entry.git_commit),
    }
    experiment_id = get_or_create_experiment(client, "stylebench/training", uri, "training")
    run = client.create_run(
        experiment_id,
        run_name=f"train {entry.label}",
        tags={**tags, "stylebench.method": entry.method},
    )
    run_id = run.info.run_id
    params = {
        "method": entry.method,
        "styles": ", ".join(entry.styles)[:6000],
        "training_images": str(entry.training_images),
        **flatten(entry.identity["settings"], "method"),
    }
    metrics = [*_training_values([entry]), ("training_time", entry.seconds or 0.0, 0)]
    try:
        _log_batch(client, run_id, metrics, params)
        client.log_artifact(run_id, str(entry.path), artifact_path="checkpoint")
    except BaseException as exc:
        client.set_terminated(run_id, "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    version = client.create_model_version(
        name, source=f"{run.info.artifact_uri}/checkpoint", run_id=run_id, tags=tags
    )
    return {"model": name, "version": int(version.version), "run_id": run_id}


def _set_values(metric: str, score: SetScore | None) -> dict[str, float]:
    """A set metric's value with its N (and standard deviation for KID)."""
    if score is None or score.value is None or not math.isfinite(score.value):
        return {}
    values = {
        metric: score.value,
        f"{metric}_n": float(score.n or 0),
        f"{metric}_n_reference": float(score.n_reference or 0),
    }
    if score.std is not None:
        values[f"{metric}_std"] = score.std
    if score.interval is not None and math.isfinite(score.interval.half_width):
        values[f"{metric}_ci95_low"] = score.interval.low
        values[f"{metric}_ci95_high"] = score.interval.high
    return values


def record_header(record: RunRecord) -> dict[str, Any]:
    """What the parent and child runs are created with, from a record (or a run's plan)."""
    return {
        "suite": record.suite.name,
        "run_id": record.run_id,
        "tags": {
            "stylebench.run_id": record.run_id,
            "stylebench.suite": record.suite.name,
            "stylebench.suite_version": str(record.suite.version),
            "stylebench.weights": record.weights.source,
            "stylebench.random_weights": str(record.weights.random).lower(),
            "stylebench.commit": record.environment.git_commit,
            "mlflow.source.git.commit": record.environment.git_commit,
        },
        "params": {
            **flatten({"suite": record.config["suite"]}),
            "weights": record.weights.source,
            "config_hash": record.config_hash,
            # Each blend's parts and weights: "0.7 x painting_00.png + 0.3 x painting_01.png".
            **{f"blend.{blend.key}": blend.describe() for blend in record.suite.blends},
        },
        # A domain method's child run says which way it translates (both ways: two runs).
        "methods": {
            m: {
                **flatten(s.config, "method"),
                **({"direction": s.direction} if s.direction else {}),
            }
            for m, s in record.methods.items()
        },
    }

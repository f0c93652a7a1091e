"""MLflow tracking: one experiment per suite, a parent run per invocation, a child run per method.

The only module that imports MLflow. The default store is an embedded sqlite file in the output
folder; ``--tracking-uri`` / ``MLFLOW_TRACKING_URI`` point at any tracking server instead. Metric
and param names are the same for every method so the UI's compare view lines them up.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bench.errors import BenchError

BATCH = 900


class TrackingError(BenchError):
    """The tracking store cannot be used."""


def default_tracking_uri(out: Path) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else an sqlite store in the output folder."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{out / 'mlflow.db'}"


def preflight(uri: str) -> None:
    """Fail within seconds, before any compute, if a remote tracking server does not answer."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("http", "https"):
        if parsed.scheme == "sqlite":
            Path(parsed.path).parent.mkdir(parents=True, exist_ok=True)
        return
    import urllib.request

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


def _artifact_location(uri: str, folder: str) -> str | None:
    scheme = urlparse(uri).scheme
    if scheme in ("http", "https", "databricks"):
        return None
    return (Path(urlparse(uri).path).parent / "mlartifacts" / folder).as_uri()


def _experiment(client: Any, name: str, uri: str, folder: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment:
        return experiment.experiment_id
    return client.create_experiment(name, artifact_location=_artifact_location(uri, folder))


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None


def _log_metrics(client: Any, run_id: str, values: list[tuple[str, float, int]]) -> None:
    from mlflow.entities import Metric

    metrics = [Metric(key=k, value=v, timestamp=0, step=s) for k, v, s in values]
    for start in range(0, len(metrics), BATCH):
        client.log_batch(run_id, metrics=metrics[start : start + BATCH])


def _log_params(client: Any, run_id: str, params: dict[str, str]) -> None:
    from mlflow.entities import Param

    items = [Param(k, v) for k, v in params.items()]
    for start in range(0, len(items), 90):
        client.log_batch(run_id, params=items[start : start + 90])


def _tags(record: dict) -> dict[str, str]:
    return {
        "stylebench.run_id": record["run_id"],
        "stylebench.suite": record["suite"]["name"],
        "stylebench.suite_version": str(record["suite"]["version"]),
        "stylebench.weights": record["weights"]["source"],
        "stylebench.random_weights": str(record["weights"]["random"]).lower(),
        "stylebench.status": record["status"],
        "mlflow.source.git.commit": record["environment"]["git_commit"],
    }


def _split_means(record: dict, cells: list[dict]) -> list[tuple[str, float, int]]:
    """``split/train/<metric>`` and ``split/heldout/<metric>``: scores on styles the method was
    trained on, and on styles it never saw (only for methods that have both kinds of cells)."""
    values = []
    for split in ("train", "heldout"):
        mine = [c for c in cells if c.get("style_split") == split and c["status"] == "ok"]
        for metric in record["metrics"]:
            mean = _mean([c["scores"].get(metric) for c in mine])
            if mean is not None:
                values.append((f"split/{split}/{metric}", mean, 0))
    return values


def _training_values(training: list[dict]) -> list[tuple[str, float, int]]:
    """Loss curves of each training job (``train/<job>/<term>``, step = training step) and the
    device-seconds spent training."""
    values: list[tuple[str, float, int]] = []
    for job in training:
        every = job.get("curve_every") or 1
        for term, curve in (job.get("curves") or {}).items():
            key = f"train/{job['label']}/{term}"
            values += [(key, v, (i + 1) * every) for i, v in enumerate(curve) if math.isfinite(v)]
    device_seconds = [job["device_seconds"] for job in training if "device_seconds" in job]
    if device_seconds:
        values.append(("training_device_seconds", sum(device_seconds), 0))
    return values


def register_checkpoint(uri: str, entry: dict) -> dict[str, Any]:
    """Register a trained checkpoint in the MLflow model registry, once.

    One registered model per method and style set (``stylebench.<method>.<style set>``); each
    checkpoint is a version whose source is the checkpoint logged by its training run (in the
    ``stylebench/training`` experiment, with its loss curves), tagged with the checkpoint key,
    config hash, suite, weights and git commit. A checkpoint already registered (same key) is
    not registered again.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = f"stylebench.{entry['method']}.{entry['style_set']}"
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(
            name,
            tags={"stylebench.method": entry["method"], "stylebench.style_set": entry["style_set"]},
            description=f"{entry['method']} trained on styles: {', '.join(entry['styles'])}"[:5000],
        )
    found = client.search_model_versions(
        f"name = '{name}' and tags.`stylebench.checkpoint_key` = '{entry['key']}'"
    )
    if found:
        return {"model": name, "version": int(found[0].version), "run_id": found[0].run_id}
    tags = {
        "stylebench.checkpoint_key": entry["key"],
        "stylebench.config_hash": str(entry.get("config_hash")),
        "stylebench.suite": str(entry.get("suite")),
        "stylebench.weights": str(entry.get("weights")),
        "stylebench.sha256": entry["sha256"],
        "mlflow.source.git.commit": str(entry.get("git_commit")),
    }
    experiment_id = _experiment(client, "stylebench/training", uri, "training")
    run = client.create_run(
        experiment_id,
        run_name=f"train {entry['label']}",
        tags={**tags, "stylebench.method": entry["method"]},
    )
    run_id = run.info.run_id
    _log_params(
        client,
        run_id,
        {
            "method": entry["method"],
            "styles": ", ".join(entry["styles"])[:6000],
            "training_images": str(entry["training_images"]),
            **flatten(entry["identity"]["settings"], "method"),
        },
    )
    values = _training_values([entry])
    values += [("training_time", entry["seconds"], 0)]
    _log_metrics(client, run_id, values)
    client.log_artifact(run_id, entry["path"], artifact_path="checkpoint")
    client.set_terminated(run_id, "FINISHED")
    version = client.create_model_version(
        name, source=f"{run.info.artifact_uri}/checkpoint", run_id=run_id, tags=tags
    )
    return {"model": name, "version": int(version.version), "run_id": run_id}


def log_run(record: dict, run_dir: Path, uri: str) -> dict[str, Any]:
    """Log a finished run; returns the MLflow ids (stored in the record)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    suite = record["suite"]["name"]
    experiment_id = _experiment(client, f"stylebench/{suite}", uri, suite)
    previous = client.search_runs(
        [experiment_id], filter_string=f"tags.`stylebench.run_id` = '{record['run_id']}'"
    )
    for run in previous:
        client.delete_run(run.info.run_id)
    tags = _tags(record)
    suite_params = flatten(
        {"suite": record["config"]["suite"], "weights": record["weights"]["source"]}
    )
    parent = client.create_run(experiment_id, run_name=record["run_id"], tags=tags)
    parent_id = parent.info.run_id
    _log_params(client, parent_id, {**suite_params, "config_hash": record["config_hash"]})
    children = {}
    for method, summary in record["methods"].items():
        child = client.create_run(
            experiment_id,
            run_name=f"{method}",
            tags={**tags, "mlflow.parentRunId": parent_id, "stylebench.method": method},
        )
        child_id = child.info.run_id
        children[method] = child_id
        _log_params(
            client,
            child_id,
            {**suite_params, "method": method, **flatten(summary["config"], "method")},
        )
        cells = [c for c in record["cells"] if c["method"] == method]
        values: list[tuple[str, float, int]] = []
        for metric in record["metrics"]:
            mean = _mean([c["scores"].get(metric) for c in cells if c["status"] == "ok"])
            if mean is not None:
                values.append((metric, mean, 0))
        if summary["prepare_time"] is not None:
            values.append(("prepare_time", summary["prepare_time"], 0))
        values += _split_means(record, cells)
        values += _training_values(summary.get("training") or [])
        values += [
            ("cells_ok", summary["cells_ok"], 0),
            ("cells_failed", summary["cells_failed"], 0),
        ]
        for cell in cells:
            for term, curve in (cell.get("curves") or {}).items():
                key = f"curve/{cell['content']}/{cell['style']}/{term}"
                values += [(key, v, step) for step, v in enumerate(curve) if math.isfinite(v)]
        _log_metrics(client, child_id, values)
        registry = [
            f"{t['registry']['model']} v{t['registry']['version']}"
            for t in summary.get("training") or []
            if t.get("registry")
        ]
        if registry:
            client.set_tag(child_id, "stylebench.checkpoints", ", ".join(registry))
        images = run_dir / "images" / method
        if images.is_dir():
            client.log_artifacts(child_id, str(images), artifact_path="outputs")
        client.set_terminated(child_id, "FINISHED" if summary["cells_failed"] == 0 else "FAILED")
    for file in ("report.html", "grid.png", "record.json"):
        if (run_dir / file).is_file():
            client.log_artifact(parent_id, str(run_dir / file))
    if (run_dir / "inputs").is_dir():
        client.log_artifacts(parent_id, str(run_dir / "inputs"), artifact_path="inputs")
    client.set_terminated(parent_id, "FINISHED" if record["status"] == "complete" else "FAILED")
    return {
        "uri": uri,
        "experiment_id": experiment_id,
        "parent_run_id": parent_id,
        "children": children,
    }

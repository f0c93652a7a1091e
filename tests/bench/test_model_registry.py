"""Trained checkpoints in the MLflow model registry: one model per method and style set."""

import torch
from mlflow.tracking import MlflowClient

from stylebench.tracking import register_checkpoint


def entry(tmp_path, key: str) -> dict:
    path = tmp_path / f"{key}.pt"
    torch.save({"w": torch.zeros(2)}, path)
    return {
        "method": "johnson",
        "source": "trained",
        "key": key,
        "label": "johnson/s-starry",
        "styles": ["starry.jpg"],
        "style_set": "abc123",
        "training_images": 4,
        "identity": {"settings": {"steps": 2, "lr": 0.001}},
        "sha256": "f" * 64,
        "seconds": 1.5,
        "device_seconds": 3.0,
        "curve_every": 1,
        "curves": {"total": [3.0, 2.0, 1.0]},
        "path": str(path),
        "config_hash": "cfg",
        "suite": "tiny",
        "weights": "random",
        "git_commit": "deadbeef",
    }


def test_checkpoints_become_versions_once(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first = register_checkpoint(uri, entry(tmp_path, "k1"))
    assert first["model"] == "stylebench.johnson.abc123" and first["version"] == 1
    assert register_checkpoint(uri, entry(tmp_path, "k1")) == first
    assert register_checkpoint(uri, entry(tmp_path, "k2"))["version"] == 2

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version("stylebench.johnson.abc123", "1")
    assert version.tags["stylebench.checkpoint_key"] == "k1"
    assert version.tags["stylebench.config_hash"] == "cfg"
    assert version.tags["stylebench.suite"] == "tiny"
    assert version.tags["mlflow.source.git.commit"] == "deadbeef"
    run = client.get_run(first["run_id"])
    assert run.data.params["method.steps"] == "2"
    history = client.get_metric_history(first["run_id"], "train/johnson/s-starry/total")
    assert [(m.step, m.value) for m in history] == [(1, 3.0), (2, 2.0), (3, 1.0)]
    assert run.data.metrics["training_device_seconds"] == 3.0
    files = [f.path for f in client.list_artifacts(first["run_id"], "checkpoint")]
    assert files == ["checkpoint/k1.pt"]


def test_a_checkpoint_that_learnt_no_style_is_the_no_styles_model(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    wct = {
        **entry(tmp_path, "k1"),
        "method": "wct",
        "label": "wct/no styles",
        "styles": [],
        "style_set": None,
    }
    assert register_checkpoint(uri, wct)["model"] == "stylebench.wct.no_styles"
    model = MlflowClient(tracking_uri=uri, registry_uri=uri).get_registered_model(
        "stylebench.wct.no_styles"
    )
    assert model.tags["stylebench.style_set"] == "no_styles"
    assert model.description == "wct trained on styles: none (no style image is learnt)"

"""A tiny ``bench run`` as an ordinary (non-root) user: every file it writes lands in its --out."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests import unprivileged
from tests.conftest import write_tiny_suite

BENCH = str(Path(sys.executable).with_name("bench"))


@pytest.fixture
def user_home():
    folder = unprivileged.home()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_default_run_as_an_ordinary_user_keeps_every_artifact_under_its_out(user_home):
    suite = write_tiny_suite(user_home)
    os.chown(suite, *unprivileged._uid_gid())
    out = user_home / "bench-out"
    argv = [BENCH, "run", "--suite", str(suite), "--out", str(out), "--workers", "1"]
    result = subprocess.run(
        unprivileged.command(argv, user_home),
        cwd=user_home,
        env=unprivileged.environment(user_home),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning: MLflow" not in result.stderr

    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("stylebench/tiny")
    assert experiment.artifact_location == (out / "mlartifacts" / "tiny").as_uri()
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 2
    for run in runs:
        stored = out / "mlartifacts" / "tiny" / run.info.run_id / "artifacts"
        assert run.info.artifact_uri == stored.as_uri()
        assert any(stored.iterdir())
        assert all(p.stat().st_uid != 0 for p in stored.rglob("*"))

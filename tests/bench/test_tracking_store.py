"""The default MLflow store: its database and artifacts both live in the output folder."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pytest

from stylebench.record_model import CellRecord
from stylebench.tracking import artifact_location, default_tracking_uri, sqlite_file
from tests.conftest import REPO
from tests.reports.records import synthetic_record, typed


@pytest.mark.parametrize(
    "out", ["/data/x/out", "/tmp/bench out", "/home/alice/bench-out", "/a/ünïcode"]
)
def test_artifacts_of_the_default_store_are_a_well_formed_file_uri_inside_out(out):
    uri = default_tracking_uri(Path(out))
    assert sqlite_file(uri) == Path(out) / "mlflow.db"
    location = artifact_location(uri, "stylebench-tiny")
    assert location is not None and location.startswith("file:///")
    assert urlparse(location).netloc == ""  # no host: MLflow read "data" as one

    from mlflow.utils.file_utils import local_file_uri_to_path

    assert Path(local_file_uri_to_path(location)) == Path(out) / "mlartifacts" / "stylebench-tiny"


def test_relative_sqlite_paths_resolve_against_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert sqlite_file("sqlite:///runs/mlflow.db") == tmp_path / "runs" / "mlflow.db"
    location = artifact_location("sqlite:///runs/mlflow.db", "x")
    assert location == (tmp_path / "runs" / "mlartifacts" / "x").as_uri()


def test_remote_and_memory_stores_keep_their_own_artifact_location():
    assert artifact_location("http://127.0.0.1:5000", "x") is None
    assert sqlite_file("http://127.0.0.1:5000") is None
    assert sqlite_file("sqlite://") is None


_CREATE_STORE = """
import sys, time
from stylebench.tracking import get_or_create_experiment, mlflow_client
uri, start = sys.argv[1], float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
client = mlflow_client(uri)
print(get_or_create_experiment(client, "stylebench/tiny", uri, "tiny"))
"""


def test_processes_creating_one_fresh_store_at_once_all_succeed(tmp_path):
    """MLflow migrates a fresh sqlite schema in each process that opens it; two at once failed
    ("Online migration expected to match one row")."""
    uri = f"sqlite:///{tmp_path / 'out' / 'mlflow.db'}"
    start = str(time.time() + 8)  # past every process's imports, so they open the store together
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _CREATE_STORE, uri, start],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in processes]
    assert all(code == 0 for code, _, _ in results), [err[-300:] for _, _, err in results]
    assert len({out.strip() for _, out, _ in results}) == 1  # one experiment, found by all


@pytest.mark.parametrize(("error", "status"), [(KeyboardInterrupt, "KILLED"), (OSError, "FAILED")])
def test_an_invocation_that_stops_early_ends_its_runs_instead_of_leaving_them_running(
    tmp_path, error, status
):
    from mlflow.tracking import MlflowClient

    from stylebench.tracking import Tracker

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri, tmp_path / "run")
    methods = {"gatys": {}, "johnson": {}}
    header = {"suite": "tiny", "run_id": "tiny-1", "tags": {}, "params": {}, "methods": methods}
    assert tracker.start(header)
    cell = CellRecord(id="gatys/c/s", method="gatys", content="c", style="s", seed=0, status="ok")
    assert tracker.log_cell(cell)  # a method's child run starts with its first cell
    with pytest.raises(error), tracker.ending_runs_on_error():
        raise error()
    client = MlflowClient(uri)
    runs = [tracker.ledger["parent"], *tracker.ledger["children"].values()]
    assert len(runs) >= 2
    assert {client.get_run(run_id).info.status for run_id in runs} == {status}


def _cell(method: str, style: str, finished: str, seconds: float) -> dict:
    return {
        "id": f"{method}/c-a/{style}",
        "method": method,
        "content": "c-a",
        "style": style,
        "seed": 0,
        "status": "ok",
        "scores": {"style_loss": 2.0},
        "curves": {"total": [3.0, 2.0]},
        "finished": finished,
        "timings": {"stylize": seconds},
    }


def test_the_ui_opens_on_runs_and_each_method_run_spans_its_own_cells(tmp_path):
    from datetime import datetime

    from mlflow.tracking import MlflowClient

    from stylebench.tracking import Tracker

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri, tmp_path / "run")
    tags = {"stylebench.commit": "abc123"}
    methods = {"gatys": {}, "johnson": {}}
    header = {"suite": "tiny", "run_id": "tiny-1", "tags": tags, "params": {}, "methods": methods}
    assert tracker.start(header)
    cells = [
        _cell("gatys", "s-b", "2026-01-01T10:00:30+00:00", 30.0),  # 10:00:00 to 10:00:30
        _cell("gatys", "s-c", "2026-01-01T10:01:00+00:00", 20.0),
        _cell("johnson", "s-b", "2026-01-01T10:01:05+00:00", 1.0),
    ]
    for cell in cells:
        assert tracker.log_cell(CellRecord.model_validate(cell))
    record = synthetic_record(tmp_path / "pngs", ["a.png"], ["s.png"], {"gatys": 0, "johnson": 0})
    record["metrics"] = {
        "style_loss": {"name": "style_loss", "higher_is_better": False, "per": "image"}
    }
    record["methods"]["gatys"].update(cells_planned=2, cells_ok=2)
    record["cells"] = cells
    assert tracker.finish(typed(record)), tracker.error

    client = MlflowClient(uri)
    experiment = client.get_experiment(tracker.ledger["experiment_id"])
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    gatys = client.get_run(tracker.ledger["children"]["gatys"])

    def ms(text: str) -> int:
        return round(datetime.fromisoformat(text).timestamp() * 1000)

    assert gatys.info.start_time == ms("2026-01-01T10:00:00+00:00")
    assert gatys.info.end_time == ms("2026-01-01T10:01:00+00:00")
    assert gatys.data.tags["stylebench.commit"] == "abc123"
    assert "curves/c-a/s-b/total" in gatys.data.metrics
    parent = tracker.ledger["parent"]
    tables = json.loads(client.get_run(parent).data.tags["mlflow.loggedArtifacts"])
    assert {"path": "leaderboard.json", "type": "table"} in tables  # what the UI lists as a table
    path = client.download_artifacts(parent, "leaderboard.json", str(tmp_path))
    table = pd.read_json(path, orient="split")
    assert sorted(table["method"]) == ["gatys", "johnson"]
    assert list(table["style_loss"]) == [2.0, 2.0] and "cells_ok" in table

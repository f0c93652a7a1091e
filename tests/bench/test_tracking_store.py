"""The default MLflow store: its database and artifacts both live in the output folder."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest

from bench.tracking import artifact_location, default_tracking_uri, sqlite_file


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

"""The StyleID protocol's 60 inputs as a dataset of single pinned files, served from 127.0.0.1
(the real files, which live beside the repository and are never committed)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import socket

import pytest
from rich.console import Console
from typer.testing import CliRunner

from stylebench.cli import app
from stylebench.data import catalog
from stylebench.data.store import DataError, fetch, verify
from stylebench.data.styleid_files import FILES
from tests.conftest import REPO

SHARED = REPO.parent / "shared" / "styleid"


def quiet() -> Console:
    return Console(file=io.StringIO(), width=100)


@pytest.fixture
def styleid(file_server, monkeypatch, tmp_path):
    """The real files at /data/<split>/<name> on 127.0.0.1; data root in tmp_path/data."""
    if not (SHARED / "cnt").is_dir():
        pytest.skip(f"the StyleID inputs are not at {SHARED}")
    for path in FILES:
        file_server.files[f"/data/{path}"] = (SHARED / path).read_bytes()
    spec = dataclasses.replace(catalog.DATASETS["styleid"], url=file_server.url("/data/"))
    monkeypatch.setitem(catalog.DATASETS, "styleid", spec)
    monkeypatch.setenv("STYLEBENCH_DATA", str(tmp_path / "data"))
    return file_server


def test_every_pinned_hash_is_the_published_file_s():
    if not (SHARED / "cnt").is_dir():
        pytest.skip(f"the StyleID inputs are not at {SHARED}")
    assert len(FILES) == 60 and catalog.DATASETS["styleid"].splits == {"cnt": 20, "sty": 40}
    for path, sha256 in FILES.items():
        assert hashlib.sha256((SHARED / path).read_bytes()).hexdigest() == sha256, path


def test_fetch_downloads_every_file_checks_it_and_a_second_fetch_only_verifies(styleid, tmp_path):
    copy = fetch("styleid", console=quiet())
    assert copy.folder == tmp_path / "data" / "styleid"
    assert [len(copy.split_files(s)) for s in ("cnt", "sty")] == [20, 40]
    assert (copy.folder / "sty" / "39.png").read_bytes() == (SHARED / "sty" / "39.png").read_bytes()
    assert copy.manifest["source"]["files"] == 60 and len(styleid.requests) == 60
    again = fetch("styleid", console=quiet())
    assert again.manifest == copy.manifest and len(styleid.requests) == 60


def test_an_interrupted_fetch_resumes_with_the_files_it_has(styleid):
    missing = styleid.files.pop("/data/sty/07.png")
    with pytest.raises(DataError, match="could not be downloaded"):
        fetch("styleid", console=quiet())
    before = len(styleid.requests)
    styleid.files["/data/sty/07.png"] = missing
    copy = fetch("styleid", console=quiet())
    assert len(copy.split_files("sty")) == 40
    assert len(styleid.requests) - before < 60 - 20  # the files already in were kept


def test_a_file_that_is_not_the_published_one_is_refused_and_removed(styleid, tmp_path):
    styleid.files["/data/cnt/03.png"] = b"not the photo"
    with pytest.raises(DataError, match=r"cnt/03\.png sent a file with SHA-256 .* expected"):
        fetch("styleid", console=quiet())
    assert not (tmp_path / "data" / ".styleid.fetching" / "cnt" / "03.png").exists()
    assert not (tmp_path / "data" / "styleid").exists()


def test_verify_refuses_a_copy_whose_file_changed(styleid):
    copy = fetch("styleid", console=quiet())
    (copy.folder / "cnt" / "00.png").write_bytes(b"edited")
    with pytest.raises(DataError, match=r"not the published dataset: cnt/00\.png"):
        verify("styleid")


def test_offline_is_one_line_that_says_what_to_do(monkeypatch, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    spec = dataclasses.replace(catalog.DATASETS["styleid"], url=f"http://127.0.0.1:{port}/")
    monkeypatch.setitem(catalog.DATASETS, "styleid", spec)
    monkeypatch.setenv("STYLEBENCH_DATA", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["data", "fetch", "styleid"])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert "could not be downloaded" in line and "bench data fetch styleid" in line


def test_the_cli_fetches_and_verifies_the_suite_s_dataset(styleid):
    runner = CliRunner()
    fetched = runner.invoke(app, ["data", "fetch", "styleid"])
    assert fetched.exit_code == 0, fetched.output
    verified = runner.invoke(app, ["data", "verify", "styleid"])
    assert verified.exit_code == 0 and "styleid" in verified.stdout

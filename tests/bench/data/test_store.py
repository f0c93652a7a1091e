"""Fetch, verify and use a monet2photo-shaped dataset served from 127.0.0.1."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import shutil
import socket

import pytest
from rich.console import Console

from stylebench.data import catalog
from stylebench.data.store import MANIFEST, DataError, ensure, fetch, verify
from stylebench.hashing import file_sha256
from tests.bench.data.conftest import TINY_SPLITS, monet_zip


def quiet() -> Console:
    return Console(file=io.StringIO(), width=100)


def test_fetch_downloads_checks_extracts_and_records(tiny_monet, tmp_path):
    archive = tiny_monet.files["/monet2photo.zip"]
    console = quiet()
    copy = fetch("monet2photo", console=console)
    assert copy.folder == tmp_path / "data" / "monet2photo"
    for split, count in TINY_SPLITS.items():
        assert len(copy.split_files(split)) == count
    manifest = json.loads((copy.folder / MANIFEST).read_text())
    assert manifest == copy.manifest
    assert manifest["source"]["archive_sha256"] == hashlib.sha256(archive).hexdigest()
    assert manifest["source"]["archive_bytes"] == len(archive)
    assert {s: e["count"] for s, e in manifest["splits"].items()} == TINY_SPLITS
    lines = [
        f"{split}/{path.name}\t{file_sha256(path)}\n"
        for split in TINY_SPLITS
        for path in copy.split_files(split)
    ]
    assert manifest["files_sha256"] == hashlib.sha256("".join(lines).encode()).hexdigest()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [".downloads", "monet2photo"]
    assert list((tmp_path / "data" / ".downloads").iterdir()) == []  # the archive is not kept
    assert "downloading monet2photo" in console.file.getvalue()
    assert "monet2photo.zip" in console.file.getvalue()  # the progress bar

    requests = len(tiny_monet.requests)
    again = fetch("monet2photo", console=quiet())
    assert len(tiny_monet.requests) == requests and again.manifest == manifest
    assert copy.identity()["archive_sha256"] == manifest["source"]["archive_sha256"]


def test_fetch_resumes_a_broken_download(tiny_monet):
    tiny_monet.cuts = [1000]
    copy = fetch("monet2photo", console=quiet())
    assert tiny_monet.requests[1]["Range"] == "bytes=1000-"
    expected = hashlib.sha256(tiny_monet.files["/monet2photo.zip"]).hexdigest()
    assert copy.manifest["source"]["archive_sha256"] == expected


def test_a_pinned_archive_hash_is_enforced(tiny_monet, monkeypatch, tmp_path):
    spec = dataclasses.replace(catalog.DATASETS["monet2photo"], archive_sha256="0" * 64)
    monkeypatch.setitem(catalog.DATASETS, "monet2photo", spec)
    with pytest.raises(DataError, match="expected 0000.*it was removed"):
        fetch("monet2photo", console=quiet())
    assert not (tmp_path / "data" / "monet2photo").exists()
    assert list((tmp_path / "data" / ".downloads").iterdir()) == []


@pytest.mark.parametrize(
    "archive,message",
    [
        (monet_zip()[:-100], "is corrupted"),
        (monet_zip(extra={"monet2photo/../../evil.txt": b"x"}), "climbs out of the target"),
        ({**TINY_SPLITS, "testB": 0}, "testB/ is missing"),
        ({**TINY_SPLITS, "trainA": 2}, "trainA/ holds 2 images, expected 3"),
    ],
)
def test_bad_archives_are_refused_and_removed(tiny_monet, tmp_path, archive, message):
    if isinstance(archive, dict):
        archive = monet_zip({s: n for s, n in archive.items() if n})
    tiny_monet.files["/monet2photo.zip"] = archive
    with pytest.raises(DataError, match=message + ".*the archive was removed"):
        fetch("monet2photo", console=quiet())
    assert [p.name for p in (tmp_path / "data").iterdir()] == [".downloads"]
    assert list((tmp_path / "data" / ".downloads").iterdir()) == []
    assert not (tmp_path / "evil.txt").exists()


def test_offline_without_a_copy_says_what_to_run(tiny_monet, monkeypatch, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spec = dataclasses.replace(
        catalog.DATASETS["monet2photo"], url=f"http://127.0.0.1:{port}/m.zip"
    )
    monkeypatch.setitem(catalog.DATASETS, "monet2photo", spec)
    with pytest.raises(DataError) as caught:
        ensure("monet2photo")
    message = str(caught.value)
    assert "could not be downloaded (cannot reach" in message
    assert "run `bench data fetch monet2photo`" in message and "$STYLEBENCH_DATA" in message


def test_verify_detects_changed_and_missing_files(tiny_monet, tmp_path):
    copy = fetch("monet2photo", console=quiet())
    assert verify("monet2photo").manifest == copy.manifest
    victim = copy.split_files("testA")[0]
    victim.write_bytes(victim.read_bytes() + b"\0")
    with pytest.raises(DataError, match="has changed since it was verified.*differ in testA"):
        verify("monet2photo")
    victim.unlink()
    with pytest.raises(DataError, match="testA/ holds 1 images, expected 2"):
        verify("monet2photo")
    with pytest.raises(DataError, match="testA holds 1 images.*run `bench data verify"):
        ensure("monet2photo")


def test_an_existing_copy_is_verified_and_gets_a_manifest(tiny_monet, tmp_path):
    fetch("monet2photo", data_dir=tmp_path / "first", console=quiet())
    mine = tmp_path / "mine"
    shutil.copytree(tmp_path / "first" / "monet2photo", mine / "monet2photo")
    (mine / "monet2photo" / MANIFEST).unlink()
    requests = len(tiny_monet.requests)
    copy = ensure("monet2photo", data_dir=mine)
    assert len(tiny_monet.requests) == requests  # nothing downloaded
    assert copy.manifest["source"] is None and (mine / "monet2photo" / MANIFEST).is_file()
    assert copy.identity()["archive_sha256"] is None
    with pytest.raises(DataError, match="looks like monet2photo: pass its parent"):
        verify("monet2photo", data_dir=mine / "monet2photo")


def test_a_complete_download_is_reused_after_an_interrupted_extraction(tiny_monet, tmp_path):
    archive = tiny_monet.files.pop("/monet2photo.zip")
    (tmp_path / "data" / ".downloads").mkdir(parents=True)
    (tmp_path / "data" / ".downloads" / "monet2photo.zip").write_bytes(archive)
    (tmp_path / "data" / ".monet2photo.extracting" / "monet2photo").mkdir(parents=True)
    copy = fetch("monet2photo", console=quiet())
    assert tiny_monet.requests == []
    assert copy.manifest["source"]["archive_sha256"] == hashlib.sha256(archive).hexdigest()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [".downloads", "monet2photo"]

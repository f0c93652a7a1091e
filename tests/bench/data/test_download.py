"""Downloads over 127.0.0.1: progress, resume with Range/If-Range, clean restarts, clear errors."""

from __future__ import annotations

import os
import socket

import pytest

from stylebench.data.download import DownloadError, download

PAYLOAD = os.urandom(300_000)


def fetch(server, dest, **options):
    seen: list[tuple[int, int | None]] = []
    options.setdefault("backoff", 0)
    download(server.url("/f.bin"), dest, on_progress=lambda d, t: seen.append((d, t)), **options)
    return seen


def test_download_reports_progress_and_leaves_only_the_file(file_server, tmp_path):
    file_server.files["/f.bin"] = PAYLOAD
    seen = fetch(file_server, tmp_path / "f.bin")
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert seen[0] == (0, len(PAYLOAD)) and seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_a_broken_connection_is_resumed_with_range(file_server, tmp_path):
    file_server.files["/f.bin"] = PAYLOAD
    file_server.cuts = [100_000]
    fetch(file_server, tmp_path / "f.bin")
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
    first, second = file_server.requests
    assert "Range" not in first
    assert second["Range"] == "bytes=100000-" and second["If-Range"].startswith('"')


def test_a_download_that_keeps_breaking_is_resumed_by_the_next_command(file_server, tmp_path):
    file_server.files["/f.bin"] = PAYLOAD
    file_server.cuts = [50_000, 0]
    with pytest.raises(DownloadError, match="50,000 bytes are kept .* run the same command again"):
        fetch(file_server, tmp_path / "f.bin", attempts=2)
    assert not (tmp_path / "f.bin").exists()
    assert (tmp_path / "f.bin.part").stat().st_size == 50_000
    fetch(file_server, tmp_path / "f.bin")
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert file_server.requests[-1]["Range"] == "bytes=50000-"


def test_a_server_that_ignores_range_gets_a_clean_restart(file_server, tmp_path):
    file_server.files["/f.bin"] = PAYLOAD
    file_server.ranges = False
    file_server.cuts = [100_000]
    seen = fetch(file_server, tmp_path / "f.bin")
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD  # not the first 100 kB twice
    assert file_server.requests[1]["Range"] == "bytes=100000-"
    assert (0, len(PAYLOAD)) in seen[1:]  # progress went back to zero


def test_a_file_that_changed_on_the_server_is_not_spliced(file_server, tmp_path):
    file_server.files["/f.bin"] = PAYLOAD
    file_server.cuts = [100_000, 0]
    with pytest.raises(DownloadError):
        fetch(file_server, tmp_path / "f.bin", attempts=2)
    changed = os.urandom(200_000)
    file_server.files["/f.bin"] = changed
    fetch(file_server, tmp_path / "f.bin")
    assert (tmp_path / "f.bin").read_bytes() == changed


def test_a_partial_file_from_another_url_is_discarded(file_server, tmp_path):
    file_server.files["/f.bin"] = PAYLOAD
    (tmp_path / "f.bin.part").write_bytes(b"x" * 10)
    (tmp_path / "f.bin.part.json").write_text('{"url": "http://elsewhere/f.bin"}')
    fetch(file_server, tmp_path / "f.bin")
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert "Range" not in file_server.requests[0]


def test_a_partial_file_longer_than_the_file_restarts(file_server, tmp_path):
    file_server.files["/f.bin"] = b"short"
    (tmp_path / "f.bin.part").write_bytes(b"much longer than the file")
    (tmp_path / "f.bin.part.json").write_text(f'{{"url": "{file_server.url("/f.bin")}"}}')
    fetch(file_server, tmp_path / "f.bin")
    assert (tmp_path / "f.bin").read_bytes() == b"short"


def test_http_errors_and_unreachable_servers_are_clear(file_server, tmp_path):
    with pytest.raises(DownloadError, match="answered HTTP 404"):
        fetch(file_server, tmp_path / "f.bin")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DownloadError, match=f"cannot reach http://127.0.0.1:{port}/"):
        download(f"http://127.0.0.1:{port}/f.bin", tmp_path / "g.bin", backoff=0)

"""A file server on 127.0.0.1 (ranges, ETags, broken connections) and monet2photo-shaped zips."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stylebench.data import catalog

TINY_SPLITS = {"trainA": 3, "trainB": 4, "testA": 2, "testB": 5}


class FileServer:
    """Serves ``files`` (URL path -> bytes). ``cuts`` lists, per request in order, how many body
    bytes to send before dropping the connection (None: all of them). With ``ranges`` off the
    server ignores ``Range``, as some servers do."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cuts: list[int | None] = []
        self.ranges = True
        self.requests: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(dict(self.headers))
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
                start, wanted = 0, self.headers.get("Range")
                if_range = self.headers.get("If-Range")
                if wanted and server.ranges and if_range in (None, etag):
                    start = int(re.fullmatch(r"bytes=(\d+)-", wanted)[1])
                    if start >= len(data):
                        self.send_error(416)
                        return
                body = data[start:]
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.end_headers()
                cut = server.cuts.pop(0) if server.cuts else None
                self.wfile.write(body if cut is None else body[:cut])
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    server = FileServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def tiny_jpeg(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


def monet_zip(splits: dict[str, int] = TINY_SPLITS, extra: dict[str, bytes] | None = None) -> bytes:
    """A zip laid out like monet2photo.zip: monet2photo/<split>/<n>.jpg, plus ``extra`` members."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("monet2photo/", b"")
        seed = 0
        for split, count in splits.items():
            for index in range(count):
                archive.writestr(f"monet2photo/{split}/{index:05d}_{split}.jpg", tiny_jpeg(seed))
                seed += 1
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def tiny_monet(file_server, monkeypatch, tmp_path) -> FileServer:
    """monet2photo served from 127.0.0.1 with tiny split counts; data root in tmp_path/data."""
    file_server.files["/monet2photo.zip"] = monet_zip()
    spec = dataclasses.replace(
        catalog.DATASETS["monet2photo"],
        url=file_server.url("/monet2photo.zip"),
        splits=dict(TINY_SPLITS),
    )
    monkeypatch.setitem(catalog.DATASETS, "monet2photo", spec)
    monkeypatch.setenv("STYLEBENCH_DATA", str(tmp_path / "data"))
    return file_server


def data_root(tmp_path: Path) -> Path:
    return tmp_path / "data"

"""Download one file over HTTP(S), resuming a broken transfer where the server allows it.

Bytes go to ``<dest>.part`` and the file appears under its real name only once complete, so a
reader never sees half an archive. A second file, ``<dest>.part.json``, remembers which URL the
partial bytes came from and the server's validator (ETag or Last-Modified). On the next attempt
the download asks for the rest (``Range``) only if the file has not changed (``If-Range``); a
server that ignores ``Range`` or reports a changed file gets a clean restart from byte 0.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from stylebench.errors import BenchError

Progress = Callable[[int, int | None], None]
CHUNK = 1 << 16
USER_AGENT = "stylebench-data/1"


class DownloadError(BenchError):
    """A download that could not be completed; the message says what happened and what to do."""


class _Broken(Exception):
    """A transfer that stopped early (retry, resuming from what arrived)."""


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return str(reason) or type(reason).__name__


def _start(status: int, headers: http.client.HTTPMessage, offset: int) -> tuple[int, int | None]:
    """Where the response body starts in the file, and the file's total size if known."""
    if status == 206:
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", headers.get("Content-Range", ""))
        if not match or int(match[1]) != offset:
            raise _Broken(f"server answered an unexpected range {headers.get('Content-Range')!r}")
        return offset, None if match[3] == "*" else int(match[3])
    length = headers.get("Content-Length")
    return 0, int(length) if length and length.isdigit() else None


class _PartState:
    """The partial file and what it was downloaded from."""

    def __init__(self, dest: Path, url: str) -> None:
        self.part = dest.with_name(dest.name + ".part")
        self.meta = dest.with_name(dest.name + ".part.json")
        self.url = url
        try:
            saved = json.loads(self.meta.read_text())
        except (OSError, ValueError):
            saved = {}
        self.validator: str | None = saved.get("validator") if saved.get("url") == url else None
        if self.part.exists() and saved.get("url") != url:
            self.discard()

    @property
    def size(self) -> int:
        return self.part.stat().st_size if self.part.exists() else 0

    def discard(self) -> None:
        self.part.unlink(missing_ok=True)
        self.meta.unlink(missing_ok=True)
        self.validator = None

    def remember(self, validator: str | None) -> None:
        self.validator = validator
        self.meta.write_text(json.dumps({"url": self.url, "validator": validator}))


def _attempt(state: _PartState, timeout: float, on_progress: Progress | None) -> None:
    """One request: resume if there are partial bytes, stream the body into the part file."""
    offset = state.size
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if state.validator:
            headers["If-Range"] = state.validator
    with urlopen(Request(state.url, headers=headers), timeout=timeout) as response:
        start, total = _start(response.status, response.headers, offset)
        if start == 0 and offset:
            state.discard()  # the server ignored Range, or the file changed: start over
        state.remember(response.headers.get("ETag") or response.headers.get("Last-Modified"))
        done = start
        with state.part.open("ab" if start else "wb") as handle:
            if on_progress:
                on_progress(done, total)
            while chunk := response.read(CHUNK):
                handle.write(chunk)
                done += len(chunk)
                if on_progress:
                    on_progress(done, total)
    if total is not None and done != total:
        raise _Broken(f"connection closed after {done:,} of {total:,} bytes")


def download(
    url: str,
    dest: Path,
    on_progress: Progress | None = None,
    attempts: int = 5,
    timeout: float = 60.0,
    backoff: float = 1.0,
) -> Path:
    """Download ``url`` to ``dest`` (resuming a previous partial download of the same URL).

    A transfer that breaks off is resumed up to ``attempts`` times. A server that cannot be
    reached at all fails at once: that is being offline, not a flaky transfer.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    state = _PartState(dest, url)
    failures = 0
    received_any = False
    while True:
        before = state.size
        try:
            _attempt(state, timeout, on_progress)
            break
        except HTTPError as exc:
            if exc.code == 416 and before:
                state.discard()  # the partial file is not a prefix of this file: start over
                failures += 1
                if failures < attempts:
                    continue
            raise DownloadError(f"{url} answered HTTP {exc.code} {exc.reason}") from None
        except (URLError, OSError, http.client.HTTPException, _Broken) as exc:
            received_any = received_any or state.size > before
            if isinstance(exc, URLError) and not received_any:
                raise DownloadError(f"cannot reach {url}: {_reason(exc)}") from None
            failures += 1
            if failures >= attempts:
                kept = f"{state.size:,} bytes are kept in {state.part}; " if state.size else ""
                raise DownloadError(
                    f"download of {url} broke off {failures} times ({_reason(exc)}); "
                    f"{kept}run the same command again to resume"
                ) from None
            time.sleep(backoff * failures)
    os.replace(state.part, dest)
    state.meta.unlink(missing_ok=True)
    return dest

"""Result records on disk: the journal (one line per finished cell) and the run record.

The journal is the source of truth while a run is going: a line is appended (and fsynced) only
after the cell's image (and its Inception features) are completely written, so whatever is in
the journal is complete. The run record (``record.json``) is assembled from the plan and the
journal; reports and comparisons read nothing else.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

from stylebench.atomic import atomic_file, naming, write_bytes_atomic
from stylebench.errors import BenchError
from stylebench.record_model import (
    OLDER_SCHEMAS,
    SCHEMA,
    RecordShapeError,
    RunRecord,
    check,
    upgrade,
)

#: The files of a run folder that hold results: a line per finished cell, per method job and
#: per checkpoint used, and the record assembled from them.
CELL_JOURNAL = "journal.jsonl"
METHOD_JOURNAL = "methods.jsonl"
TRAINING_JOURNAL = "training.jsonl"
RECORD = "record.json"
#: Bytes read at a time, from the end, to find a journal's last newline.
TAIL_CHUNK = 65536


class RecordError(BenchError):
    """A record or journal that cannot be read."""


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON atomically (see `atomic_file`)."""
    with atomic_file(path, "w") as handle:
        json.dump(data, handle, indent=1, sort_keys=True, allow_nan=True)


def write_array_atomic(path: Path, array: np.ndarray) -> None:
    """Write a ``.npy`` array (a cell's Inception features) atomically; like the output PNG it
    is written before the journal line that names it."""
    with atomic_file(path, "wb") as handle:
        np.save(handle, array, allow_pickle=False)


def append_journal(path: Path, entry: dict[str, Any]) -> None:
    """Append one cell's entry to the journal, durably, on a line of its own (see
    `_mend_torn_tail`)."""
    with naming(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+b") as handle:
            _mend_torn_tail(path, handle)
            handle.write(json.dumps(entry, sort_keys=True, allow_nan=True).encode() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())


def _mend_torn_tail(path: Path, handle: IO[bytes]) -> None:
    """A kill or a full disk mid-append leaves a last line without its newline. A whole entry
    gets its newline back; a partial one is moved to ``<journal>.torn-<time>`` (named in a
    warning) and cut off, so the next entry is not glued to it and the journal stays readable."""
    end = handle.seek(0, os.SEEK_END)
    start = end
    while start > 0:
        step = min(start, TAIL_CHUNK)
        handle.seek(start - step)
        newline = handle.read(step).rfind(b"\n")
        if newline >= 0:
            start = start - step + newline + 1
            break
        start -= step
    if start == end:
        return
    handle.seek(start)
    tail = handle.read()
    try:
        whole = isinstance(json.loads(tail), dict)
    except (json.JSONDecodeError, UnicodeDecodeError):
        whole = False
    if whole:
        handle.write(b"\n")
        return
    aside = path.with_name(f"{path.name}.torn-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}")
    write_bytes_atomic(aside, tail)
    handle.truncate(start)
    print(
        f"warning: {path} ended in a torn line (an interrupted write); its {len(tail)} bytes "
        f"were moved to {aside} and every complete entry is kept",
        file=sys.stderr,
    )


def read_journal(path: Path) -> dict[str, dict[str, Any]]:
    """Entries by cell id (the last entry of a cell wins); a torn final line is ignored."""
    entries: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return entries
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                break
            raise RecordError(f"journal {path} line {number} is corrupt") from None
        entries[entry["id"]] = entry
    return entries


def read_json(path: Path) -> Any:
    """A JSON file stylebench wrote (record, invocation, ledger); a damaged one is an error that
    names it, not a traceback."""
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(
            f"cannot read {path}: {exc}; it was damaged or not written by stylebench"
        ) from None


def read_record(path: Path) -> RunRecord:
    """Load a run record from a run folder or its ``record.json``: typed, upgraded from an older
    schema, and checked (a damaged file is one error naming it and the field)."""
    file = path / RECORD if path.is_dir() else path
    if not file.is_file():
        runs = sorted(p.parent.name for p in path.glob(f"*/{RECORD}")) if path.is_dir() else []
        hint = (
            f"; it holds the runs {', '.join(runs)}: pass one of them"
            if runs
            else ": pass a run folder made by 'bench run'"
        )
        raise RecordError(f"no run record at {file}{hint}")
    data = read_json(file)
    schema = data.get("schema") if isinstance(data, dict) else SCHEMA
    if schema != SCHEMA and schema not in OLDER_SCHEMAS:
        raise RecordError(
            f"{file} has schema {schema!r}; this stylebench reads {SCHEMA} "
            f"(and upgrades {', '.join(OLDER_SCHEMAS)})"
        )
    try:
        return check(upgrade(data))
    except RecordShapeError as exc:
        raise RecordError(f"{file}: {exc}; the file was hand-edited or damaged") from None


def write_record(path: Path, record: RunRecord) -> None:
    """Write ``record.json`` atomically."""
    write_json_atomic(path, record.to_json())

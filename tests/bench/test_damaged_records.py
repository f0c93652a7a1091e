"""A damaged or hand-edited record.json gets one line naming the file and the field, exit 2,
never a traceback, from every command that reads records (`bench compare`, `bench nightly`)."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stylebench.cli import app
from tests.conftest import write_tiny_suite
from tests.reports.records import synthetic_record

runner = CliRunner()


def _set(*path: str | int, value: object) -> Callable[[dict], None]:
    def edit(record: dict) -> None:
        node = record
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return edit


def _drop(key: str) -> Callable[[dict], None]:
    return lambda record: record.pop(key)


#: (damage, what the message must say after the file name); damage: an edit of the record,
#: or the bytes the file is replaced with.
VARIANTS: dict[str, tuple[Callable[[dict], None] | bytes, str]] = {
    "missing top-level key": (_drop("cells"), "cells is missing"),
    "list where a dict": (_set("methods", value=[]), "methods is [], expected an object"),
    "string where a number": (
        _set("methods", "gatys", "cells_failed", value="2"),
        "methods.gatys.cells_failed is '2', expected an integer",
    ),
    "null cells": (_set("cells", value=None), "cells is null, expected a list"),
    "cells not a list": (_set("cells", value={"a": 1}), "cells is {'a': 1}, expected a list"),
    "a cell not a dict": (_set("cells", 2, value=7), "cells[2] is 7, expected an object"),
    "summary entry not a dict": (
        _set("methods", "gatys", value="fast"),
        "methods.gatys is 'fast', expected an object",
    ),
    "metric value a string": (
        _set("cells", 1, "scores", "content_loss", value="abc"),
        "cells[1].scores.content_loss is 'abc', expected a number",
    ),
    "unknown metric kind": (
        _set("metrics", "latency", "per", value="pixel"),
        "metrics.latency.per is 'pixel', expected 'image', 'set' or 'method'",
    ),
    "weights flag not a bool": (
        _set("weights", "random", value="yes"),
        "weights.random is 'yes', expected true or false",
    ),
    "truncated JSON": (b'{"schema": "stylebench.run/1", "cells": [{"id"', "damaged"),
    "not UTF-8": (b'{"schema": "stylebench.run/1", "run_id": "caf\xe9"}', "damaged"),
    "JSON that is a list": (b"[1, 2, 3]", "the record is [1, 2, 3], expected an object"),
    "JSON that is a number": (b"42", "the record is 42, expected an object"),
}


def _runs(tmp_path: Path, damage: Callable[[dict], None] | bytes) -> tuple[Path, Path]:
    """A good run folder and a damaged copy of it."""
    folders = []
    for name in ("good", "damaged"):
        run = tmp_path / name
        record = synthetic_record(run, ["a.jpg", "b.jpg"], ["s.jpg", "t.jpg"], {"gatys": 1.0})
        (run / "record.json").write_text(json.dumps(record))
        folders.append(run)
    good, damaged = folders
    if isinstance(damage, bytes):
        (damaged / "record.json").write_bytes(damage)
    else:
        record = json.loads((damaged / "record.json").read_text())
        damage(record)
        (damaged / "record.json").write_text(json.dumps(record))
    return good, damaged


def _assert_one_line_naming(result, file: Path, says: str) -> None:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # no traceback
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and str(file) in lines[0], lines[0]
    assert says in lines[0], lines[0]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_compare_names_the_damaged_record_and_field(variant, tmp_path):
    damage, says = VARIANTS[variant]
    good, damaged = _runs(tmp_path, damage)
    for baseline, candidate in ((good, damaged), (damaged, good)):
        result = runner.invoke(app, ["compare", str(baseline), str(candidate)])
        _assert_one_line_naming(result, damaged / "record.json", says)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_nightly_refuses_a_damaged_baseline_before_any_compute(variant, tmp_path):
    damage, says = VARIANTS[variant]
    _, damaged = _runs(tmp_path, damage)
    suite = write_tiny_suite(tmp_path / "suite")
    history = tmp_path / "nightly"
    result = runner.invoke(
        app,
        ["nightly", "--suite", str(suite), "--history", str(history), "--baseline", str(damaged)],
    )
    _assert_one_line_naming(result, damaged / "record.json", says)
    assert not (history / "runs").exists()  # refused before any compute: nothing to lose


def test_a_real_shaped_record_still_compares(tmp_path):
    good, _ = _runs(tmp_path, b"")
    result = runner.invoke(app, ["compare", str(good), str(good), "--format", "json"])
    assert result.exit_code == 0, result.output

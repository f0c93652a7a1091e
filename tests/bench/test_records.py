"""Journal and record files: durable, atomic, torn-line tolerant."""

import json
from pathlib import Path

import pytest

from stylebench.driver import options_for_resume
from stylebench.record_model import SCHEMA
from stylebench.records import (
    RecordError,
    append_journal,
    read_journal,
    read_record,
    write_json_atomic,
    write_record,
)
from tests.reports.records import synthetic_record, typed

FIXTURES = Path(__file__).with_name("fixtures")


def test_journal_last_entry_wins_and_a_torn_tail_is_ignored(tmp_path):
    path = tmp_path / "journal.jsonl"
    append_journal(path, {"id": "a", "status": "failed"})
    append_journal(path, {"id": "b", "status": "ok"})
    append_journal(path, {"id": "a", "status": "ok"})
    with path.open("a") as handle:
        handle.write('{"id": "c", "sta')
    entries = read_journal(path)
    assert entries == {"a": {"id": "a", "status": "ok"}, "b": {"id": "b", "status": "ok"}}


def test_corruption_in_the_middle_is_an_error(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text('{"id": "a"}\nnot json\n{"id": "b"}\n')
    with pytest.raises(RecordError, match="line 2 is corrupt"):
        read_journal(path)


def test_records_are_written_atomically_read_typed_and_closed(tmp_path):
    record = typed(synthetic_record(tmp_path / "pngs", ["a.jpg"], ["s.jpg"], {"gatys": 1.0}))
    run = tmp_path / "run"
    write_record(run / "record.json", record)
    assert list(run.iterdir()) == [run / "record.json"]
    on_disk = json.loads((run / "record.json").read_text())
    assert on_disk["schema"] == SCHEMA and on_disk["cells"][0]["method"] == "gatys"
    again = read_record(run)
    assert again == record and again.cells[0].scores["content_loss"] == 1.0
    write_json_atomic(run / "record.json", {**on_disk, "x": 1})
    with pytest.raises(RecordError, match=r"record\.json: x is 1, expected no such field"):
        read_record(run)
    (run / "record.json").write_text(json.dumps({"schema": "other"}))
    with pytest.raises(RecordError, match="schema 'other'; this stylebench reads stylebench.run/4"):
        read_record(run)
    with pytest.raises(RecordError, match="no run record"):
        read_record(tmp_path / "nowhere")


def test_a_record_written_by_the_untyped_writer_loads_through_the_migration(tmp_path):
    """``fixtures/record-v1.json`` is a real ``stylebench.run/1`` record (gatys and a trained
    johnson at 32 px, written by the last release before the typed record)."""
    record = read_record(FIXTURES / "record-v1.json")
    original = json.loads((FIXTURES / "record-v1.json").read_text())
    assert record.schema_ == SCHEMA and original["schema"] == "stylebench.run/1"
    assert [c.id for c in record.cells] == [c["id"] for c in original["cells"]]
    assert record.methods["johnson"].training[0].source == "trained"
    scores = {c.id: c.scores for c in record.cells}
    assert scores == {c["id"]: c["scores"] for c in original["cells"]}
    assert record.tracking is not None and record.tracking.children.keys() == {"gatys", "johnson"}
    write_record(tmp_path / "record.json", record)
    assert read_record(tmp_path / "record.json") == record


def test_damaged_or_misplaced_records_are_errors_that_say_what_to_pass(tmp_path):
    run = tmp_path / "out" / "smoke-abc"
    write_json_atomic(run / "record.json", {"schema": "stylebench.run/1"})
    with pytest.raises(RecordError, match=r"it holds the runs smoke-abc: pass one of them"):
        read_record(tmp_path / "out")
    (run / "record.json").write_text('{"schema": "stylebench.run/1", "cells": [')
    with pytest.raises(RecordError, match=rf"cannot read {run / 'record.json'}: .*damaged"):
        read_record(run)
    (run / "invocation.json").write_bytes(b"\xff\xfe")
    with pytest.raises(RecordError, match=r"invocation\.json: .*damaged"):
        options_for_resume(run, None)


def test_an_append_after_a_torn_tail_starts_on_its_own_line_and_keeps_every_entry(tmp_path, capsys):
    """A kill or a full disk mid-append leaves a partial last line; it used to be glued to the
    next entry, and the run then died on 'line N is corrupt' after computing every cell."""
    path = tmp_path / "journal.jsonl"
    append_journal(path, {"id": "a", "status": "ok"})
    with path.open("a") as handle:
        handle.write('{"id": "b", "sta')
    append_journal(path, {"id": "c", "status": "ok"})
    append_journal(path, {"id": "d", "status": "ok"})
    assert set(read_journal(path)) == {"a", "c", "d"}
    assert path.read_text().endswith('"ok"}\n')
    (aside,) = tmp_path.glob("journal.jsonl.torn-*")
    assert aside.read_text() == '{"id": "b", "sta'
    warning = capsys.readouterr().err
    assert warning.count("warning:") == 1 and str(aside) in warning


def test_a_whole_entry_that_lost_only_its_newline_is_kept(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text('{"id": "a", "status": "ok"}\n{"id": "b", "status": "ok"}')
    append_journal(path, {"id": "c", "status": "ok"})
    assert set(read_journal(path)) == {"a", "b", "c"}
    assert not list(tmp_path.glob("*.torn-*"))


def test_a_v2_record_gets_each_summary_method_and_direction(tmp_path):
    """/3 added ``method`` and ``direction`` to method summaries: a /2 record gets them from its
    entry names and a domain method's ``direction`` setting."""
    record = synthetic_record(tmp_path, ["a.jpg"], ["s.jpg"], {"gatys": 1.0, "cyclegan": 2.0})
    record["schema"] = "stylebench.run/2"
    record["methods"]["cyclegan"] |= {"needs": {"style": "domain"}, "config": {"direction": "x"}}
    write_json_atomic(tmp_path / "record.json", record)
    with pytest.raises(RecordError, match=r"methods\.cyclegan\.direction is 'x'"):
        read_record(tmp_path)
    record["methods"]["cyclegan"]["config"] = {}  # before /3: the default, photo_to_style
    write_json_atomic(tmp_path / "record.json", record)
    upgraded = read_record(tmp_path)
    assert upgraded.schema_ == SCHEMA
    assert (upgraded.methods["gatys"].method, upgraded.methods["gatys"].direction) == (
        "gatys",
        None,
    )
    cyclegan = upgraded.methods["cyclegan"]
    assert (cyclegan.method, cyclegan.direction) == ("cyclegan", "photo_to_style")


def test_a_run3_record_reads_with_no_blends_and_a_blend_round_trips(tmp_path):
    record = synthetic_record(tmp_path / "pngs", ["a.jpg"], ["s.jpg", "t.jpg"], {"gatys": 1.0})
    write_json_atomic(tmp_path / "old" / "record.json", {**record, "schema": "stylebench.run/3"})
    old = read_record(tmp_path / "old")
    assert old.schema_ == SCHEMA == "stylebench.run/4" and old.suite.blends == []
    parts = [
        {"key": "s-0", "name": "s.jpg", "weight": 0.7},
        {"key": "s-1", "name": "t.jpg", "weight": 0.3},
    ]
    record["suite"]["blends"] = [{"key": "b-st", "name": "s+t", "parts": parts}]
    write_record(tmp_path / "new" / "record.json", typed(record))
    blend = read_record(tmp_path / "new").suite.blend("b-st")
    assert blend is not None and blend.describe() == "0.7 x s.jpg + 0.3 x t.jpg"

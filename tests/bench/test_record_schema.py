"""The published JSON Schema of record.json: current, and what records on disk actually hold
(checked by an independent validator, jsonschema, which Ray already depends on)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from typer.testing import CliRunner

from stylebench.cli import app
from stylebench.records import read_record, write_record

REPO = Path(__file__).resolve().parents[2]
PUBLISHED = REPO / "bench" / "record.schema.json"
FIXTURES = Path(__file__).with_name("fixtures")


def test_bench_schema_prints_the_published_schema():
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads(PUBLISHED.read_text()), (
        "bench/record.schema.json is stale: regenerate it with `bench schema`"
    )


def test_a_record_on_disk_fits_the_published_schema_and_a_damaged_one_does_not(tmp_path):
    schema = json.loads(PUBLISHED.read_text())
    write_record(tmp_path / "record.json", read_record(FIXTURES / "record-v1.json"))
    on_disk = json.loads((tmp_path / "record.json").read_text())
    jsonschema.validate(on_disk, schema)
    on_disk["cells"][0]["status"] = "done"
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(on_disk))
    assert [list(e.absolute_path) for e in errors] == [["cells", 0, "status"]]

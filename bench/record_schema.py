"""The shape of the parts of a run record that reports and comparisons read, checked when a
record is read, so a hand-edited or damaged ``record.json`` is one error naming the field
instead of a KeyError deep inside a comparison.

Strict: a record is checked, not converted (``"2"`` is not a number), and the caller goes on
with the dict it read. Keys the readers do not need are left alone (``extra="allow"``).
"""

from __future__ import annotations

import reprlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: What an error type says was expected (pydantic's own words for the rest).
EXPECTED = {
    "model_type": "an object",
    "model_attributes_type": "an object",
    "dict_type": "an object",
    "list_type": "a list",
    "float_type": "a number",
    "int_type": "an integer",
    "string_type": "a string",
    "bool_type": "true or false",
}


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class _Image(_Part):
    key: str
    name: str
    input: str


class _Suite(_Part):
    name: str
    version: int
    content: list[_Image]
    style: list[_Image]
    file_list_hash: str | None = None


class _Weights(_Part):
    random: bool


class _Environment(_Part):
    git_commit: str
    devices: list[str]


class _Metric(_Part):
    higher_is_better: bool
    per: Literal["image", "set", "method"]


class _SetScore(_Part):
    value: float | None = None
    std: float | None = None
    n: int | None = None
    n_reference: int | None = None
    error: str | None = None


class _Method(_Part):
    paper: str
    cells_planned: int
    cells_ok: int
    cells_failed: int
    needs: dict[str, Any] = Field(default_factory=dict)
    set_scores: dict[str, _SetScore] = Field(default_factory=dict)
    throughput: float | None = None
    prepare_time: float | None = None
    method_error: str | None = None


class _Cell(_Part):
    method: str
    content: str
    style: str
    status: str
    scores: dict[str, float | None]
    output: str | None = None
    error: str | None = None
    curves: dict[str, list[float]] = Field(default_factory=dict)
    style_split: str | None = None


class RunRecord(_Part):
    """What `reports` and `bench.nightly` read from a record."""

    run_id: str
    status: str
    suite: _Suite
    weights: _Weights
    environment: _Environment
    evaluation: dict[str, Any]
    metrics: dict[str, _Metric]
    methods: dict[str, _Method]
    cells: list[_Cell]


def _where(loc: tuple[int | str, ...]) -> str:
    """``("cells", 3, "scores", "lpips")`` -> ``cells[3].scores.lpips``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "the record"


def _problem(error: Any) -> str:
    where = _where(error["loc"])
    if error["type"] == "missing":
        return f"{where} is missing"
    value = error["input"]
    shown = "null" if value is None else reprlib.repr(value)
    expected = EXPECTED.get(error["type"]) or error["msg"].removeprefix("Input should be ")
    return f"{where} is {shown}, expected {expected}"


def record_problem(record: Any) -> str | None:
    """The first thing wrong with a record's shape (and how many more), or None if it fits."""
    try:
        RunRecord.model_validate(record)
    except ValidationError as exc:
        errors = exc.errors()
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return _problem(errors[0]) + more
    return None

"""The run record as typed models: what a run wrote, for everything that reads it.

The record is the contract between the harness and its readers (the report, ``bench compare``,
the nightly gate, MLflow, a lab's own scripts). This module holds its models and nothing else
that needs torch, so `stylebench.reports` and third-party code can import it cheaply. The JSON
Schema that ``bench schema`` prints is generated from these models.

Records are read strictly (``"2"`` is not a number) and closed (an unknown field is an error,
not silently dropped): a hand-edited or damaged ``record.json`` is one error naming the field.
Free-form parts (a method's settings, a metric's details, a worker's notes) are plain dicts.
Records of an older schema are upgraded on reading (`upgrade`).
"""

from __future__ import annotations

import reprlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SCHEMA = "stylebench.run/4"
#: Schemas `upgrade` reads, oldest first.
OLDER_SCHEMAS = ("stylebench.run/1", "stylebench.run/2", "stylebench.run/3")


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class GuideEntry(_Part):
    """A semantic map the suite gives for an image."""

    name: str
    sha256: str
    input: str


class ImageEntry(_Part):
    """One content or style image: its key in cells, file name, hash and preprocessed copy."""

    key: str
    name: str
    sha256: str
    input: str
    guide: GuideEntry | None = None


class BlendPart(_Part):
    """One style image of a blend and its weight."""

    key: str
    name: str
    weight: float


class BlendEntry(_Part):
    """A blend of the suite's style images (``style.blends``): cells name it by ``key`` as their
    style; its parts' weights are positive and sum to 1."""

    key: str
    name: str
    parts: list[BlendPart]

    def describe(self) -> str:
        """``0.7 x a.png + 0.3 x b.png``."""
        return " + ".join(f"{part.weight:.3g} x {part.name}" for part in self.parts)


class SuiteInfo(_Part):
    """Which suite, at which version, on exactly which files."""

    name: str
    version: int
    description: str = ""
    source: str
    image_size: int
    seed: int
    file_list_hash: str | None = None
    datasets: dict[str, Any] = Field(default_factory=dict)
    preprocess: str
    content: list[ImageEntry]
    style: list[ImageEntry]
    #: The style -> photo direction of domain methods (the suite's ``reverse`` set): style-domain
    #: images translated to photos, and the photos their outputs are compared with.
    reverse_content: list[ImageEntry] = Field(default_factory=list)
    reverse_reference: list[ImageEntry] = Field(default_factory=list)
    #: Blends of the style images, each a style of its own in cells (empty before /4).
    blends: list[BlendEntry] = Field(default_factory=list)

    def blend(self, key: str) -> BlendEntry | None:
        """The blend a cell's style key names (None: an image's key)."""
        return next((blend for blend in self.blends if blend.key == key), None)


class EnvironmentInfo(_Part):
    """The code and machine a run measured."""

    git_commit: str
    packages: dict[str, str] = Field(default_factory=dict)
    host: str = ""
    platform: str = ""
    devices: list[str]


class NetworkWeights(_Part):
    """One network's weights: where they came from and their SHA-256."""

    network: str
    random: bool
    sha256: str
    source: str


class WeightsInfo(_Part):
    """The run's weights; ``random`` runs are smoke tests, never quality results."""

    source: str
    random: bool
    networks: list[NetworkWeights] = Field(default_factory=list)


class MetricEntry(_Part):
    """A metric's identity card, as the run used it (`stylebench.metrics.base.MetricInfo`)."""

    name: str
    higher_is_better: bool
    per: Literal["image", "set", "method"]
    unit: str = ""
    description: str = ""
    needs: list[str] = Field(default_factory=list)
    requires: list[str] = Field(default_factory=list)
    #: False for a metric only a suite that names it computes (a reference protocol's variant,
    #: e.g. ``fid_styleid``, or an optional extra, e.g. ``clip_style``): the report shows those
    #: apart from the leaderboard.
    default: bool = True


class SetInterval(_Part):
    """A set metric's seeded bootstrap interval over the images (`stylebench.metrics.
    set_intervals`): the value ± 1.96 sd of its resampled values."""

    low: float
    high: float
    confidence: float
    resamples: int
    #: Mean of the resampled values: above the value, by FID's and KID's bias under resampling.
    bootstrap_mean: float
    seed: int
    method: str

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


class SetScore(_Part):
    """One set metric (FID, KID, ArtFID ...) of one method, with its N and how it was computed."""

    value: float | None = None
    n: int | None = None
    n_reference: int | None = None
    std: float | None = None
    error: str | None = None
    warnings: list[str] = Field(default_factory=list)
    #: Why the value must not be compared with another run's (None: it may be).
    unreliable: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    interval: SetInterval | None = None


class TrainingEntry(_Part):
    """A checkpoint a trained method used: trained now, from the cache, a file, or failed."""

    id: str | None = None
    method: str
    key: str
    label: str
    source: Literal["trained", "cache", "file", "failed"]
    styles: list[str] = Field(default_factory=list)
    style_count: int = 0
    style_set: str | None = None
    training_images: int = 0
    identity: dict[str, Any] = Field(default_factory=dict)
    path: str | None = None
    sha256: str | None = None
    seconds: float | None = None
    error: str | None = None
    traceback: str | None = None
    resumed_from_step: int | None = None
    device: str | None = None
    device_kind: str | None = None
    devices: int | None = None
    device_seconds: float | None = None
    steps: int | None = None
    curve_every: int | None = None
    curves: dict[str, list[float]] = Field(default_factory=dict)
    trained_at: str | None = None
    suite: str | None = None
    suite_version: int | None = None
    config_hash: str | None = None
    git_commit: str | None = None
    weights: str | None = None
    #: The MLflow model registry's name, version and run of this checkpoint.
    registry: dict[str, Any] | None = None


class MethodSummary(_Part):
    """One method's settings, declarations, counts and per-method results."""

    #: The registered method the entry runs: its own name, or for ``cyclegan_reverse``
    #: ``cyclegan`` (null only in records written before /3).
    method: str | None = None
    #: Which way a domain method translates (null for per-pair methods): ``photo_to_style``
    #: (content photos in, the suite's reference set) or ``style_to_photo`` (the reverse set).
    direction: Literal["photo_to_style", "style_to_photo"] | None = None
    config: dict[str, Any]
    summary: str = ""
    paper: str
    needs: dict[str, Any] = Field(default_factory=dict)
    iterative: bool = False
    prepare_time: float | None = None
    training: list[TrainingEntry] = Field(default_factory=list)
    cells_planned: int
    cells_ok: int
    cells_failed: int
    throughput: float | None = None
    throughput_details: dict[str, Any] | None = None
    set_scores: dict[str, SetScore] = Field(default_factory=dict)
    job_timings: dict[str, float] = Field(default_factory=dict)
    method_error: str | None = None

    @property
    def is_domain(self) -> bool:
        """Maps content to a style domain (one output per content image, no style image)."""
        return self.needs.get("style") == "domain"

    def per_method(self, metric: str) -> float | None:
        """The value of a per-method metric (``throughput``, ``prepare_time``)."""
        value = getattr(self, metric, None) if metric in PER_METHOD_FIELDS else None
        return value if isinstance(value, float) else None


#: The per-method metrics a summary holds, by field name.
PER_METHOD_FIELDS = ("throughput", "prepare_time")


class CellRecord(_Part):
    """One (method, content, style) output and its scores, or why there is none."""

    id: str
    method: str
    content: str
    style: str
    style_split: Literal["train", "heldout"] | None = None
    seed: int
    status: Literal["ok", "failed"]
    output: str | None = None
    features: str | None = None
    scores: dict[str, float | None] = Field(default_factory=dict)
    curves: dict[str, list[float]] = Field(default_factory=dict)
    prepare_time: float | None = None
    error: str | None = None
    traceback: str | None = None
    device: str | None = None
    worker: str | None = None
    weights: list[NetworkWeights] = Field(default_factory=list)
    notes: dict[str, Any] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)
    finished: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class ComputeSeconds(_Part):
    """Seconds of work on workers: the method, the metrics and, apart, loading networks."""

    prepare: float = 0.0
    stylize: float = 0.0
    throughput: float = 0.0
    score: float = 0.0
    setup: float = 0.0
    compute: float = 0.0


class TrackingIds(_Part):
    """Where the run lives in MLflow."""

    uri: str
    experiment_id: str | None = None
    parent_run_id: str | None = None
    children: dict[str, str] = Field(default_factory=dict)
    complete: bool = False


class RunRecord(_Part):
    """Everything a run measured and how: ``record.json`` in its run folder."""

    schema_: str = Field(default=SCHEMA, alias="schema")
    run_id: str
    run_key: str
    status: Literal["complete", "partial"]
    started: str
    finished: str
    config: dict[str, Any]
    config_hash: str
    suite: SuiteInfo
    environment: EnvironmentInfo
    weights: WeightsInfo
    #: How each metric family was computed (networks, layers, resizing, reference set).
    evaluation: dict[str, Any]
    metrics: dict[str, MetricEntry]
    methods: dict[str, MethodSummary]
    compute_seconds: ComputeSeconds = Field(default_factory=ComputeSeconds)
    cells: list[CellRecord]
    tracking: TrackingIds | None = None

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-ready data (the form ``record.json`` holds)."""
        return self.model_dump(mode="json", by_alias=True)

    def ok_cells(self, method: str | None = None) -> list[CellRecord]:
        return [c for c in self.cells if c.ok and (method is None or c.method == method)]

    def metrics_per(self, per: str) -> list[str]:
        """Names of the record's metrics measured ``per`` image, set or method, in order."""
        return [name for name, info in self.metrics.items() if info.per == per]


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``record.json`` (``bench schema``; kept beside this module as
    ``record.schema.json`` for readers that do not install stylebench)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA,
        **RunRecord.model_json_schema(by_alias=True, mode="serialization"),
    }


def upgrade(data: Any) -> Any:
    """A record of an older schema in the current one (unchanged if already current).

    ``stylebench.run/1`` (written before the record was typed) holds the same fields as /2;
    early /1 writers left out a suite's ``description`` and ``datasets``, which take their empty
    values. Everything else a /1 record holds reads as it is: fields /1 writers left out of a
    cell or a summary (``features``, ``style_split``, ``curves``, ``compute_seconds`` ...) have
    defaults. /3 adds each summary's ``method`` and ``direction`` (filled in here: before /3 an
    entry was its method, and a domain method translated the way its ``direction`` setting
    says) and the suite's ``reverse`` sets (empty before /3). /4 adds the suite's ``blends``
    (empty before /4).
    """
    if not isinstance(data, dict) or data.get("schema") not in OLDER_SCHEMAS:
        return data
    upgraded = {**data, "schema": SCHEMA}
    if data["schema"] == "stylebench.run/1":
        upgraded["suite"] = {"description": "", "datasets": {}, **data.get("suite", {})}
    methods = data.get("methods")
    if isinstance(methods, dict):
        upgraded["methods"] = {
            name: _upgraded_summary(name, summary) for name, summary in methods.items()
        }
    return upgraded


def _upgraded_summary(name: str, summary: Any) -> Any:
    """A /1 or /2 method summary with /3's ``method`` and ``direction``."""
    if not isinstance(summary, dict):
        return summary
    domain = isinstance(summary.get("needs"), dict) and summary["needs"].get("style") == "domain"
    config = summary.get("config") if isinstance(summary.get("config"), dict) else {}
    direction = config.get("direction", "photo_to_style") if domain else None
    return {"method": name, "direction": direction, **summary}


def check(data: Any) -> RunRecord:
    """``data`` as a record, or `RecordShapeError` naming the first field that does not fit."""
    try:
        return RunRecord.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise RecordShapeError(_problem(errors[0]) + more) from None


class RecordShapeError(ValueError):
    """A record whose shape does not fit the models."""


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
    "extra_forbidden": "no such field in this schema",
}


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

"""What differs between two runs besides their numbers: code, suite, resolved config, weights,
devices and packages, so that a comparison says why its numbers may have moved before it says
how they moved. Read from the records alone."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from stylebench.record_model import RunRecord

#: Suite keys shown on their own line ("suite version", "suite file list"), not as config.
_SUITE_OWN = ("name", "version", "file_list_hash")
#: Characters of a weights SHA-256 shown (enough to tell two apart).
_SHA = 12


@dataclass(frozen=True)
class Difference:
    """One thing that differs: ``what`` is its kind (commit, suite, config, weights, devices,
    package), ``name`` what a reader looks for (``gatys.steps``)."""

    what: str
    name: str
    baseline: Any
    candidate: Any

    def __str__(self) -> str:
        return f"{self.name}: {_text(self.baseline)} -> {_text(self.candidate)}"


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "-"
    return str(value)


def _flatten(config: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in config.items():
        if isinstance(value, Mapping) and value:
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _config_keys(config: Mapping[str, Any]) -> dict[str, Any]:
    """Resolved config as ``key: value`` leaves; a method's settings read ``gatys.steps``."""
    flat = {}
    for key, value in _flatten(config):
        if key.startswith("methods."):
            key = key.removeprefix("methods.")
        elif key.startswith("suite.") and key.removeprefix("suite.") in _SUITE_OWN:
            continue
        flat[key] = value
    return flat


def _differing(what: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Difference]:
    return [
        Difference(what, key, before.get(key), after.get(key))
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    ]


def _weights(record: RunRecord) -> dict[str, str]:
    return {f"{n.network} weights": n.sha256[:_SHA] for n in record.weights.networks}


def what_changed(baseline: RunRecord, candidate: RunRecord) -> list[Difference]:
    """Every difference a reader should see before the verdicts, in reading order."""
    b_env, c_env = baseline.environment, candidate.environment
    b_suite, c_suite = baseline.suite, candidate.suite
    facts = [
        ("commit", "commit", b_env.git_commit, c_env.git_commit),
        ("suite", "suite version", b_suite.version, c_suite.version),
        ("suite", "suite file list", b_suite.file_list_hash, c_suite.file_list_hash),
        ("weights", "weights", baseline.weights.source, candidate.weights.source),
        ("devices", "devices", b_env.devices, c_env.devices),
    ]
    found = [Difference(*fact) for fact in facts if fact[2] != fact[3]]
    found += _differing("config", _config_keys(baseline.config), _config_keys(candidate.config))
    found += _differing("weights", _weights(baseline), _weights(candidate))
    found += _differing("package", b_env.packages, c_env.packages)
    return found

"""Encoders and suites from plugins (``stylebench.encoders``, ``stylebench.suites``): listed with
their origin, used by name wherever a built-in's name is, and a broken one is one line.

The fake distribution is a folder on the path (``plugin_site``): a dist-info declaring the entry
points beside the package ``tiny_plugin``, as an installed wheel leaves them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from stylebench.methods.core.encoders import load_encoder
from stylebench.methods.core.weights import WeightsSource
from stylebench.registry import ENCODERS, METHODS, SUITES, PluginError, UnknownName
from stylebench.suites.load import SuiteError, read_spec
from stylebench.testing import check_encoder, check_method
from tests.bench.test_plugins import bench

SITE = Path(__file__).with_name("plugin_site")
RANDOM = WeightsSource.parse("random", seed=0)
ORIGIN = "fake-plugins==0.1"


@pytest.fixture
def installed(monkeypatch):
    """The fake distribution on this process's path, the registries' caches left as found."""
    monkeypatch.syspath_prepend(str(SITE))
    for registry in (ENCODERS, METHODS, SUITES):
        monkeypatch.setattr(registry, "_loaded", {})


def site_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(SITE)}


def test_a_plugin_encoder_is_borrowed_by_name_like_a_built_in(installed, tmp_path):
    assert ENCODERS.entry("tiny").origin == ORIGIN
    encoder = load_encoder("tiny", RANDOM)
    assert encoder.identity.network == "tiny" and encoder.identity.is_random
    check_encoder(ENCODERS.get("tiny"))
    # The plugin method calls context.encoder("tiny"): the test context loads it by name.
    check_method(METHODS.get("tiny_copy"), tmp_path)


def test_a_broken_encoder_is_one_line_naming_its_entry_point(installed):
    with pytest.raises(PluginError) as broken:
        load_encoder("no_load", RANDOM)
    assert str(broken.value).startswith(
        f"encoder 'no_load' (entry point no_load = tiny_plugin:NoLoad of {ORIGIN}) does not "
        "honour the encoder contract: class attribute 'summary' must be a str"
    )
    assert "static method load(source) is missing" in str(broken.value)
    with pytest.raises(PluginError, match="'absent' .* failed to load: ModuleNotFoundError"):
        load_encoder("absent", RANDOM)
    with pytest.raises(UnknownName, match="did you mean 'tiny'"):
        load_encoder("tinny", RANDOM)


def test_a_plugin_network_that_fails_or_breaks_the_contract_is_one_line(installed, monkeypatch):
    encoder = ENCODERS.get("tiny")
    monkeypatch.setattr(encoder, "load", staticmethod(lambda source: torch.zeros(1)))
    with pytest.raises(PluginError, match="returned a Tensor, not a torch.nn.Module"):
        load_encoder("tiny", RANDOM)
    monkeypatch.setattr(encoder, "load", staticmethod(lambda source: torch.nn.Identity()))
    with pytest.raises(PluginError, match="without an 'identity'"):
        load_encoder("tiny", RANDOM)

    def fail(source: WeightsSource) -> None:
        raise RuntimeError("no\nsuch\nlayer")

    monkeypatch.setattr(encoder, "load", staticmethod(fail))
    with pytest.raises(
        PluginError, match="failed to load its network: RuntimeError: no such layer"
    ):
        load_encoder("tiny", RANDOM)


def test_a_plugin_suite_is_read_by_name_and_a_broken_one_is_one_line(installed):
    read = read_spec("tiny")
    assert read.source == f"{ORIGIN}:tiny" and read.spec.version == 3
    assert read.base == SITE / "tiny_plugin"  # its relative paths are read beside its YAML
    assert read_spec("smoke").source == "builtin:smoke"
    with pytest.raises(
        PluginError, match=rf"'gone' \(entry point .* of {ORIGIN}\).*does not exist"
    ):
        read_spec("gone")
    with pytest.raises(PluginError, match="is not a pathlib.Path"):
        read_spec("not_a_path")
    with pytest.raises(SuiteError, match="versoin"):
        read_spec("invalid")


def test_bench_ls_lists_plugin_encoders_and_suites_with_a_row_for_each_broken_one(tmp_path):
    for what, working, broken in (
        ("encoders", ["tiny", "vgg19"], {"no_load": "does not honour", "absent": "failed"}),
        ("suites", ["tiny", "smoke"], {"gone": "does not", "invalid": "not valid"}),
    ):
        listing = bench("ls", what, env=site_env(), cwd=tmp_path)
        assert listing.returncode == 0 and "Traceback" not in listing.stderr, listing.stderr
        rows = {line.split()[0]: line for line in listing.stdout.splitlines() if line.strip()}
        assert ORIGIN in rows[working[0]] and "built-in" in rows[working[1]]
        for name, problem in broken.items():
            assert ORIGIN in rows[name] and problem in rows[name], listing.stdout
    assert (
        "one convolution, for tests" in bench("ls", "encoders", env=site_env(), cwd=tmp_path).stdout
    )


def test_bench_validate_plans_a_plugin_suite_on_a_plugin_method_and_its_encoder(tmp_path):
    """validate loads every network the plan borrows, so the plugin's encoder is loaded by name
    through the registry, as `bench run` does before any compute."""
    done = bench("validate", "tiny", env=site_env(), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "suite tiny-plugin v3" in done.stdout and "methods tiny_copy" in done.stdout
    assert "OK" in done.stdout

"""Every built-in method honours the Method contract at 32 px (the checks plugins run too)."""

import pytest

from stylebench.methods.base import resolve_config
from stylebench.plan import make_plan
from stylebench.registry import METHODS
from stylebench.suites.load import load_suite
from stylebench.testing import check_method


@pytest.mark.parametrize("name", METHODS.builtin_names())
def test_every_built_in_passes_the_contract_checks_plugins_run(name, tmp_path):
    """`stylebench.testing.check_method`: declarations, a tiny smoke preset, output range and
    shape, batch equals one by one, seeds, checkpoint round trip."""
    check_method(METHODS.get(name), tmp_path)


@pytest.mark.parametrize("name", METHODS.builtin_names())
def test_every_method_runs_in_the_smoke_suite_with_its_smoke_preset(name):
    plan = make_plan(load_suite("smoke"))
    assert plan.methods[name].preset == "smoke"
    assert make_plan(load_suite("smoke"), [name]).methods[name].preset == "smoke"
    for preset in METHODS.get(name).presets:
        resolve_config(METHODS.get(name), {"preset": preset})


@pytest.mark.parametrize("name", METHODS.builtin_names())
def test_unknown_config_keys_are_errors(name):
    with pytest.raises(ValueError, match="stepz|Extra inputs"):
        resolve_config(METHODS.get(name), {"stepz": 3})


@pytest.mark.parametrize("name", METHODS.builtin_names())
def test_resolved_configs_survive_the_trip_to_the_worker(name):
    """Workers rebuild configs from their JSON dump: every preset must come back unchanged."""
    cls = METHODS.get(name)
    for preset in cls.presets:
        config = resolve_config(cls, {"preset": preset})
        assert resolve_config(cls, config.model_dump(mode="json")) == config

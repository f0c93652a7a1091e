"""Every registered method honours the Method contract at 32 px."""

import pytest
import torch

from stylebench.methods.base import MethodConfig, PrepareData, TensorImages, resolve_config
from stylebench.plan import make_plan
from stylebench.registry import METHODS
from stylebench.suites.load import load_suite


@pytest.mark.parametrize("name", METHODS.builtin_names())
def test_method_returns_images_in_unit_range_of_the_input_shape(name, context):
    cls = METHODS.get(name)
    config = resolve_config(cls, {"preset": "smoke"})
    assert isinstance(config, MethodConfig)
    assert cls.needs.style in ("pair", "domain")
    assert isinstance(getattr(cls, "iterative", None), bool), f"{name}: declare `iterative`"
    method = cls(config, context)
    styles = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    training = TensorImages(torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(3)))
    per_style = cls.needs.training and cls.needs.train_styles == "each"
    domain = cls.needs.style == "domain"  # learns the style set, read like training content
    method.prepare(
        PrepareData(
            styles=styles[:0] if domain else styles[:1] if per_style else styles,
            training=training if cls.needs.training else None,
            style_domain=TensorImages(styles) if domain else None,
        )
    )
    content = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    result = method.stylize(content, None if domain else styles[:1], seeds=[7])
    assert result.images.shape == content.shape
    assert result.images.dtype == torch.float32
    assert result.images.min() >= 0.0 and result.images.max() <= 1.0
    assert torch.isfinite(result.images).all()


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

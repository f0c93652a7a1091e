"""Speed settings of the optimisation methods (channels-last, bfloat16, torch.compile) run as
they say and leave the quality metrics within the stated tolerance.

What this proves, and what not: it runs on the CPU at 32 px, where bfloat16 autocast uses the
CPU's kernels. It shows the settings reach the convolutions (NHWC input, bf16 output), that the
features come back as float32, and that after 10 L-BFGS steps the evaluation content and style
loss of each output stay within `TOLERANCE` of float32. A GPU rounds bf16 in its own kernels:
`benchmarks/gpu.py` prints the same comparison at 512 px there. Float32 with nothing but another
summation order (channels-last) already moves these losses by up to about 6% at this size, since
L-BFGS amplifies any rounding difference in its first steps; the tolerance is set above that.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylebench.methods.base import resolve_config
from stylebench.methods.gatys import Gatys
from stylebench.methods.semantic import Semantic
from stylebench.metrics.feature_losses import ContentLoss, StyleLoss
from stylebench.suites import procedural

#: Largest relative change of an output's content or style loss that a speed setting may cause.
TOLERANCE = 0.10
STEPS = 10


def _images(draw, count: int) -> torch.Tensor:
    arrays = [np.asarray(draw(i, size=32), dtype=np.uint8) for i in range(count)]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div(255).contiguous()


@pytest.fixture(scope="module")
def pair():
    return _images(procedural.scene, 2), _images(procedural.painting, 2)


class FirstConv:
    """Records the memory format of what the first convolution gets and the dtype it returns."""

    def __init__(self, method) -> None:
        self.seen: list[tuple[bool, torch.dtype]] = []
        conv = next(m for m in method.loss.encoder.layers if isinstance(m, torch.nn.Conv2d))
        conv.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output) -> None:
        nhwc = inputs[0].is_contiguous(memory_format=torch.channels_last)
        self.seen.append((nhwc and inputs[0].shape[1] > 1, output.dtype))


def _stylize(context, pair, cls=Gatys, **settings):
    method = cls(resolve_config(cls, {"steps": STEPS, **settings}), context)
    probe = FirstConv(method)
    result = method.stylize(*pair, seeds=[1, 2])
    return result, probe.seen


@pytest.fixture(scope="module")
def reference(context, pair):
    result, seen = _stylize(context, pair)
    assert {s for s in seen} == {(False, torch.float32)}
    return result


def _quality(metric_context, images, pair) -> dict[str, torch.Tensor]:
    content, style = pair
    return {
        "content_loss": ContentLoss(metric_context)(images, content, style),
        "style_loss": StyleLoss(metric_context)(images, content, style),
    }


@pytest.mark.parametrize("settings", [{"precision": "bfloat16"}, {"channels_last": True}])
def test_speed_settings_keep_quality_within_tolerance(
    context, metric_context, pair, reference, settings
):
    result, seen = _stylize(context, pair, **settings)
    bfloat16 = settings.get("precision") == "bfloat16"
    expected = (bool(settings.get("channels_last")), torch.bfloat16 if bfloat16 else torch.float32)
    assert set(seen) == {expected}  # the setting reached the convolutions
    assert result.images.dtype == torch.float32
    ours = _quality(metric_context, result.images, pair)
    base = _quality(metric_context, reference.images, pair)
    for name in ours:
        change = ((ours[name] - base[name]).abs() / base[name]).max().item()
        assert change <= TOLERANCE, f"{name} moved by {change:.1%} with {settings}"
    # Something did change: the setting is not a no-op on the arithmetic.
    assert not torch.equal(result.images, reference.images)


def test_features_come_back_float32_and_nchw_indexed(context, pair):
    method = Gatys(resolve_config(Gatys, {"precision": "bfloat16", "channels_last": True}), context)
    plain = Gatys(resolve_config(Gatys, {}), context)
    content = pair[0]
    fast = method.loss.encoder(content, ["relu1_1", "relu3_1"])
    slow = plain.loss.encoder(content, ["relu1_1", "relu3_1"])
    for name in fast:
        assert fast[name].dtype == torch.float32 and fast[name].shape == slow[name].shape
        assert torch.allclose(fast[name], slow[name], rtol=0.05, atol=0.05 * slow[name].std())


def test_channels_last_leaves_the_shared_encoder_alone(context):
    shared = context.encoder("vgg19")
    Gatys(resolve_config(Gatys, {"channels_last": True}), context)
    conv = next(m for m in shared.layers if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous()  # NCHW still: the metrics' encoder is unchanged
    assert shared.execution.channels_last is False


def test_the_semantic_method_takes_the_same_settings(context, pair):
    content, style = (images[:1] for images in pair)
    method = Semantic(
        resolve_config(Semantic, {"steps": 2, "phases": 1, "channels_last": True}), context
    )
    result = method.stylize(content, style, seeds=[1])
    assert result.images.shape == content.shape and torch.isfinite(result.images).all()
    assert method.loss.encoder.execution.channels_last


def test_compile_traces_the_trunk_and_computes_the_same(context, pair, monkeypatch):
    """Traced by TorchDynamo with the eager backend: graph capture is what can break here;
    inductor's code generation takes minutes on a CPU and is left to benchmarks/gatys.py."""
    compiled = []
    original = torch.compile

    def eager_compile(fn, **kwargs):
        compiled.append(fn)
        return original(fn, backend="eager")

    monkeypatch.setattr(torch, "compile", eager_compile)
    content, style = (images[:1] for images in pair)
    method = Gatys(resolve_config(Gatys, {"steps": 3, "compile": True}), context)
    plain = Gatys(resolve_config(Gatys, {"steps": 3}), context)
    assert len(compiled) == 1
    ours = method.stylize(content, style, seeds=[1])
    expected = plain.stylize(content, style, seeds=[1])
    assert torch.allclose(ours.images, expected.images, atol=1e-5)

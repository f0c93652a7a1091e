"""Johnson et al.: pytorch/examples' TransformerNet, its checkpoints, the losses, training."""

import re

import pytest
import torch

from stylebench.methods.base import PrepareData, TensorImages
from stylebench.methods.core.checkpoints import CheckpointMismatch
from stylebench.methods.core.transformer import TransformerNet
from stylebench.methods.core.weights import WeightsUnavailable, read_state_dict
from stylebench.methods.johnson import Johnson, JohnsonConfig
from tests.methods.stubs import IdentityEncoder, context_with


def public_layout() -> dict[str, tuple[int, ...]]:
    """Key -> shape of a pytorch/examples fast_neural_style checkpoint, written out by hand from
    transformer_net.py (not derived from our network)."""
    shapes: dict[str, tuple[int, ...]] = {}

    def conv(name: str, cin: int, cout: int, k: int) -> None:
        shapes[f"{name}.conv2d.weight"] = (cout, cin, k, k)
        shapes[f"{name}.conv2d.bias"] = (cout,)

    def norm(name: str, c: int) -> None:
        shapes[f"{name}.weight"] = (c,)
        shapes[f"{name}.bias"] = (c,)

    conv("conv1", 3, 32, 9), norm("in1", 32)
    conv("conv2", 32, 64, 3), norm("in2", 64)
    conv("conv3", 64, 128, 3), norm("in3", 128)
    for r in range(1, 6):
        conv(f"res{r}.conv1", 128, 128, 3), norm(f"res{r}.in1", 128)
        conv(f"res{r}.conv2", 128, 128, 3), norm(f"res{r}.in2", 128)
    conv("deconv1", 128, 64, 3), norm("in4", 64)
    conv("deconv2", 64, 32, 3), norm("in5", 32)
    conv("deconv3", 32, 3, 9)
    return shapes


def public_checkpoint(seed: int = 0, legacy: bool = True) -> dict[str, torch.Tensor]:
    """Random tensors in the public layout; ``legacy`` adds the old running-stat keys."""
    generator = torch.Generator().manual_seed(seed)
    state = {k: 0.05 * torch.randn(s, generator=generator) for k, s in public_layout().items()}
    if legacy:
        for name, c in [("in1", 32), ("in2", 64), ("res3.in1", 128), ("in5", 32)]:
            state[f"{name}.running_mean"] = torch.zeros(c)
            state[f"{name}.running_var"] = torch.ones(c)
    return state


def test_transformer_net_has_the_example_layout_and_parameter_count():
    net = TransformerNet()
    assert sum(p.numel() for p in net.parameters()) == 1_679_235
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == public_layout()
    for size in (32, 48):
        assert net(torch.rand(2, 3, size, size) * 255).shape == (2, 3, size, size)
    assert isinstance(net.res1.in1, torch.nn.InstanceNorm2d) and net.res1.in1.affine
    assert isinstance(net.conv1.reflection_pad, torch.nn.ReflectionPad2d)


def test_public_checkpoint_with_legacy_keys_loads_strictly_and_stylizes(tmp_path, context):
    state = public_checkpoint()
    path = tmp_path / "mosaic.pth"
    torch.save(state, path)
    method = Johnson(JohnsonConfig(checkpoint=str(path)), context)
    assert method.prepare(PrepareData(styles=torch.rand(1, 3, 32, 32))) == {}
    content = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(1))
    out = method.stylize(content, torch.rand(1, 3, 32, 32)).images
    # The example's own arithmetic: 0-255 in, 0-255 out, then our [0, 1] contract.
    reference = TransformerNet()
    reference.load_state_dict({k: v for k, v in state.items() if "running" not in k})
    with torch.no_grad():
        expected = (reference(content * 255) / 255).clamp(0, 1)
    assert out.shape == (1, 3, 40, 40)
    assert torch.allclose(out, expected, atol=1e-6)
    assert out.min() >= 0 and out.max() <= 1


def test_wrong_keys_and_shapes_are_listed(tmp_path, context):
    state = public_checkpoint(legacy=False)
    del state["res2.conv1.conv2d.weight"]
    state["res9.conv1.conv2d.weight"] = torch.zeros(1)
    state["deconv3.conv2d.weight"] = torch.zeros(3, 32, 3, 3)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    method = Johnson(JohnsonConfig(checkpoint=str(path)), context)
    with pytest.raises(CheckpointMismatch) as error:
        method.prepare(PrepareData(styles=torch.rand(1, 3, 32, 32)))
    message = str(error.value)
    assert str(path) in message
    assert "missing keys: res2.conv1.conv2d.weight" in message
    assert "unexpected keys: res9.conv1.conv2d.weight" in message
    assert re.search(
        r"deconv3\.conv2d\.weight \(file \(3, 32, 3, 3\), network \(3, 32, 9, 9\)\)", message
    )


class _Payload:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


def test_loading_never_runs_code_from_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"conv1.conv2d.weight": torch.zeros(1), "evil": _Payload()}, tmp_path / "evil.pth")
    with pytest.raises(WeightsUnavailable, match="cannot read weights file"):
        read_state_dict(tmp_path / "evil.pth")
    assert not (tmp_path / "PWNED").exists()


def test_own_checkpoint_round_trip(tmp_path, context):
    data = TensorImages(torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    trained = Johnson(JohnsonConfig(steps=2, batch_size=2, image_size=32), context)
    trained.prepare(PrepareData(styles=torch.rand(1, 3, 32, 32), training=data))
    torch.save(trained.state_dict(), tmp_path / "ours.pth")
    loaded = Johnson(JohnsonConfig(checkpoint=str(tmp_path / "ours.pth")), context)
    loaded.prepare(PrepareData(styles=torch.rand(1, 3, 32, 32)))
    content = torch.rand(2, 3, 32, 32)
    assert torch.equal(
        loaded.stylize(content, content).images, trained.stylize(content, content).images
    )
    fresh = Johnson(JohnsonConfig(), context)
    assert not torch.equal(
        fresh.stylize(content, content).images, trained.stylize(content, content).images
    )


def test_loss_terms_follow_the_example_definitions():
    context = context_with({"vgg16": IdentityEncoder()})
    method = Johnson(JohnsonConfig(tv_weight=2.0), context)
    content = torch.zeros(1, 3, 2, 2)
    output = torch.ones(1, 3, 2, 2)
    style = torch.full((1, 3, 2, 2), 2.0)
    targets = method.loss.targets(content, style)
    terms = method.loss(output, targets)
    # Content: 1e5 * mean((1 - 0)^2) at relu2_2 (identity features here).
    assert terms["content"].item() == pytest.approx(1e5)
    # Gram / (C*H*W) of a constant map c is c^2 / C in every entry: (1/3 - 4/3)^2 = 1 per layer.
    assert terms["style"].item() == pytest.approx(1e10 * 4 * 1.0)
    assert terms["tv"].item() == 0.0
    assert terms["total"].item() == pytest.approx(1e5 + 4e10)


def test_training_reduces_the_loss(context):
    data = TensorImages(torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    method = Johnson(JohnsonConfig(steps=16, batch_size=2, image_size=32), context)
    style = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    curves = method.prepare(PrepareData(styles=style, training=data))
    total = curves["total"]
    assert len(total) == 16 and set(curves) == {"content", "style", "tv", "total"}
    assert sum(total[-4:]) / 4 < 0.8 * sum(total[:4]) / 4


def test_training_needs_one_style_and_training_images(context):
    method = Johnson(JohnsonConfig(steps=1), context)
    with pytest.raises(ValueError, match="one network per style"):
        method.prepare(
            PrepareData(
                styles=torch.rand(2, 3, 32, 32), training=TensorImages(torch.rand(2, 3, 32, 32))
            )
        )
    with pytest.raises(ValueError, match="training content"):
        method.prepare(PrepareData(styles=torch.rand(1, 3, 32, 32)))

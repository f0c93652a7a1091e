"""Conditional instance normalisation: one network, N styles, interpolation, magenta's losses."""

import pytest
import torch
import torch.nn.functional as F

from stylebench.methods.base import PrepareData, StyleBlend, TensorImages
from stylebench.methods.cin import CIN, CINConfig
from stylebench.methods.core.checkpoints import CheckpointMismatch
from stylebench.methods.core.pastiche import PasticheNet, style_norm
from tests.methods.stubs import IdentityEncoder, context_with

# Smooth random "paintings" (noise upsampled), so resizing one barely changes it.
STYLES = F.interpolate(
    torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(1)), size=32, mode="bilinear"
)
CONTENT = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))


@pytest.fixture(scope="module")
def trained(context):
    method = CIN(CINConfig(steps=12, batch_size=2, image_size=32), context)
    data = TensorImages(torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    curves = method.prepare(PrepareData(styles=STYLES, training=data))
    return method, curves


def test_magenta_layout_cin_after_every_conv_and_sigmoid_output():
    net = PasticheNet("conditional")
    assert net.norm_depths == [32, 64, 128, *[128] * 10, 64, 32, 3]
    assert all(conv.conv.bias is None for conv in net.contract)
    params = [(torch.ones(1, c), torch.zeros(1, c)) for c in net.norm_depths]
    out = net(torch.rand(2, 3, 36, 36), params)
    assert out.shape == (2, 3, 36, 36) and out.min() >= 0 and out.max() <= 1


def test_style_norm_is_instance_norm_with_given_scale_and_shift():
    x = torch.randn(2, 4, 5, 5)
    gamma, beta = torch.rand(2, 4), torch.rand(2, 4)
    expected = F.instance_norm(x, eps=1e-5) * gamma[:, :, None, None] + beta[:, :, None, None]
    assert torch.allclose(style_norm(x, gamma, beta), expected, atol=1e-5)


def test_one_network_holds_a_gamma_beta_pair_per_style_per_layer(trained):
    method, curves = trained
    bank = method.model.bank
    assert bank.styles == 3 and len(bank.gamma) == 16
    assert [tuple(g.shape) for g in bank.gamma] == [(3, c) for c in method.model.net.norm_depths]
    assert sum(curves["total"][-3:]) < sum(curves["total"][:3])


def test_each_style_image_selects_its_own_row(trained):
    method, _ = trained
    for k in range(3):
        out = method.stylize(CONTENT, STYLES[k : k + 1].expand(2, -1, -1, -1)).images
        weights = F.one_hot(torch.tensor([k, k]), 3).float()
        with torch.no_grad():
            assert torch.allclose(out, method.model(CONTENT, weights), atol=1e-6)
    # Identified from the image, whatever its size.
    resized = F.interpolate(STYLES[1:2], size=48, mode="bilinear", antialias=True)
    assert method.style_weights(resized).argmax().item() == 1
    with pytest.raises(ValueError, match="none of them"):
        method.stylize(CONTENT[:1], torch.zeros(1, 3, 32, 32))


def test_styles_interpolate_by_weights(trained, context):
    method, _ = trained
    first = method.stylize_mix(CONTENT, [1.0, 0.0, 0.0])
    assert torch.allclose(first, method.stylize(CONTENT, STYLES[:1].expand(2, -1, -1, -1)).images)
    half = method.stylize_mix(CONTENT, [0.5, 0.5, 0.0])
    with torch.no_grad():
        expected = method.model(CONTENT, torch.tensor([[0.5, 0.5, 0.0]] * 2))
    assert torch.allclose(half, expected)
    assert not torch.allclose(half, first)
    with pytest.raises(ValueError, match="3 styles"):
        method.stylize_mix(CONTENT, [1.0, 0.0])
    mixed = CIN(CINConfig(mix=[0.5, 0.5, 0.0]), context)
    mixed.load_state_dict(method.state_dict())
    assert torch.allclose(mixed.stylize(CONTENT, STYLES[2:3]).images, half)


def test_checkpoint_round_trip_takes_the_style_count_from_the_file(trained, context, tmp_path):
    method, _ = trained
    torch.save(method.state_dict(), tmp_path / "cin.pth")
    loaded = CIN(CINConfig(checkpoint=str(tmp_path / "cin.pth")), context)
    loaded.prepare(PrepareData(styles=STYLES))
    style = STYLES[2:3].expand(2, -1, -1, -1)
    assert torch.equal(loaded.stylize(CONTENT, style).images, method.stylize(CONTENT, style).images)
    state = method.state_dict()
    state["bank.gamma.0"] = torch.ones(3, 16)
    with pytest.raises(
        CheckpointMismatch, match=r"bank\.gamma\.0 \(file \(3, 16\), network \(3, 32\)\)"
    ):
        loaded.load_state_dict(state)


def test_loss_terms_follow_magenta_definitions():
    method = CIN(CINConfig(), context_with({"vgg16": IdentityEncoder()}))
    content = torch.zeros(1, 3, 2, 2)
    output = torch.ones(1, 3, 2, 2)
    style = torch.full((1, 3, 2, 2), 2.0)
    terms = method.loss(output, method.loss.targets(content, style))
    # Content: 1.0 * mean((1 - 0)^2) at relu3_3.
    assert terms["content"].item() == pytest.approx(1.0)
    # Gram / (H*W) of a constant map c is c^2 in every entry: mean((1 - 4)^2) = 9 per layer.
    assert terms["style"].item() == pytest.approx(1e-4 * 4 * 9.0)


def test_a_blend_mixes_the_learned_rows_of_its_parts_by_its_weights(trained):
    method, _ = trained
    parts = tuple(STYLES[k : k + 1].expand(2, -1, -1, -1) for k in (2, 0))
    out = method.stylize_blend(CONTENT, StyleBlend(parts, (0.7, 0.3))).images
    assert torch.allclose(out, method.stylize_mix(CONTENT, [0.3, 0.0, 0.7]), atol=1e-6)
    unseen = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    with pytest.raises(ValueError, match="none of them"):
        method.stylize_blend(CONTENT, StyleBlend((parts[0], unseen), (0.5, 0.5)))

"""Packed-weight convolutions compute PyTorch's convolution and its input gradient (up to float32
rounding), on the maps they are meant for, and step aside everywhere else."""

import pytest
import torch
from torch import nn

from stylebench.methods.core import packed_conv
from stylebench.methods.core.encoders import Execution
from stylebench.methods.core.packed_conv import MAX_POSITIONS, PackedConv2d, packed_convolutions

pytestmark = pytest.mark.skipif(
    not packed_conv.packing_available(), reason="this PyTorch build has no oneDNN packing"
)


def frozen_conv(cin: int, cout: int, kernel: int = 3, seed: int = 0) -> nn.Conv2d:
    torch.manual_seed(seed)
    conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2)
    nn.init.normal_(conv.bias)
    return conv.requires_grad_(False)


def output_and_input_grad(run, x: torch.Tensor, weights: torch.Tensor):
    probe = x.detach().requires_grad_(True)
    y = run(probe)
    (grad,) = torch.autograd.grad((y * weights).sum(), probe)
    return y.detach(), grad


def spy_on_packed_convolutions(monkeypatch) -> list[int]:
    """A list that grows by one for every convolution run with packed weights."""
    calls: list[int] = []
    convolve = packed_conv._convolve
    monkeypatch.setattr(packed_conv, "_convolve", lambda *a: calls.append(1) or convolve(*a))
    return calls


def close(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest difference relative to the largest value (float32 sums of ~10^4 terms: 1e-6)."""
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize(
    "cin,cout,kernel,side,batch", [(3, 64, 3, 8, 1), (256, 512, 3, 8, 1), (64, 32, 1, 16, 2),
                                   (512, 512, 3, 4, 3), (128, 64, 5, 2, 1)],
)  # fmt: skip
def test_forward_and_input_gradient_are_pytorchs(cin, cout, kernel, side, batch, monkeypatch):
    conv = frozen_conv(cin, cout, kernel)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(batch, cin, side, side, generator=generator)
    weights = torch.randn(batch, cout, side, side, generator=generator)
    calls = spy_on_packed_convolutions(monkeypatch)
    ours = output_and_input_grad(PackedConv2d(conv), x, weights)
    assert len(calls) == 2  # forward and input gradient both took the packed path
    reference = output_and_input_grad(conv, x, weights)
    assert close(ours[0], reference[0]) < 1e-5 and close(ours[1], reference[1]) < 1e-5


def test_it_steps_aside_where_packing_does_not_pay_or_cannot_apply():
    conv = frozen_conv(16, 16)
    packed = PackedConv2d(conv)
    side = int(MAX_POSITIONS**0.5) * 2  # a map past the limit
    large = torch.randn(1, 16, side, side)
    assert torch.equal(packed(large), conv(large))
    small = torch.randn(1, 16, 4, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(packed(small), conv(small))
    double = frozen_conv(16, 16).double()
    assert torch.equal(PackedConv2d(double)(small.double()), double(small.double()))
    conv.requires_grad_(True)  # weights being trained: PyTorch's path
    assert torch.equal(packed(small), conv(small))
    strided = nn.Conv2d(16, 16, 3, stride=2, padding=1)
    assert packed_convolutions(nn.Sequential(conv, nn.ReLU(), strided)).keys() == {0}


def test_new_weights_are_packed_again():
    conv = frozen_conv(32, 32)
    packed = PackedConv2d(conv)
    x = torch.randn(1, 32, 8, 8)
    before = packed(x)
    conv.load_state_dict(frozen_conv(32, 32, seed=7).state_dict())  # copied in place
    after = packed(x)
    assert close(after, conv(x)) < 1e-5 and close(after, before) > 0.1
    conv.weight.data = frozen_conv(32, 32, seed=8).weight.data  # new storage, same version
    again = packed(x)
    assert close(again, conv(x)) < 1e-5 and close(again, after) > 0.1


def test_the_encoder_packs_its_small_maps_and_keeps_its_features(vgg19, monkeypatch):
    calls = spy_on_packed_convolutions(monkeypatch)
    unpacked = vgg19.running(Execution(packed_weights=False))
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    layers = ["relu1_1", "relu3_1", "relu4_2", "relu5_1"]
    ours = vgg19(image, layers)
    assert len(calls) == 9  # conv3_1 .. conv5_1: maps of 16x16 and below at 64 px
    reference = unpacked(image, layers)
    assert len(calls) == 9
    assert torch.equal(ours["relu1_1"], reference["relu1_1"])  # 64x64: PyTorch's path in both
    for name in layers[1:]:
        assert close(ours[name], reference[name]) < 1e-5


def test_a_build_whose_packed_convolution_fails_its_check_never_packs(monkeypatch):
    def broken(*args):
        raise RuntimeError("mkldnn::_convolution_pointwise is not implemented on this platform")

    monkeypatch.setattr(packed_conv, "_convolve", broken)
    packed_conv.packing_available.cache_clear()
    try:
        assert not packed_conv.packing_available()
        assert packed_convolutions(nn.Sequential(frozen_conv(8, 8))) == {}
    finally:
        packed_conv.packing_available.cache_clear()

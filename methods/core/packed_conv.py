"""Convolutions of a frozen network with their weights packed once for oneDNN (CPU, float32).

PyTorch's CPU convolution takes weights in PyTorch's own layout and reorders them into oneDNN's
blocked layout on every call, forward and backward. Where a map has few positions that reorder
is most of the work: VGG-19's 512-channel layers at 8x8 (a 64 px image) run 2-3x faster with
weights packed beforehand (`benchmarks/gatys.py` prints what a whole step gains). A loss network
or an evaluation network never changes its weights, so they are packed once per network and
reused for every call: the forward pass convolves with the packed weights; the input gradient
of a stride-1, "same"-padded convolution is the convolution of the output gradient with the
flipped, transposed weights, packed once as well. Both are float32 convolutions of the same
terms, summed in oneDNN's blocked order (differences from PyTorch's path are rounding, about
1e-6 of the largest output).

Only maps of at most `MAX_POSITIONS` positions take this path; on larger maps the per-call
reorder is a small share and PyTorch's own path is as fast or faster (measured for every VGG
layer at 64-256 px: packed 0.2-0.85x of the time at 16x16 and below, 0.9-1.2x at 32x32, up to
3x slower above). The rule depends only on the map's size, so a batch and each of its images
take the same path.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.weak import WeakIdKeyDictionary

#: Largest map (height x width) convolved with packed weights.
MAX_POSITIONS = 256

#: The map size weights are packed for (measured: weights packed for 8x8 run as fast on 4x4 or
#: 16x16 maps as weights packed for those).
_PACKING_HINT = 8


@functools.cache
def packing_available() -> bool:
    """Whether this PyTorch build packs convolution weights for oneDNN, and its packed
    convolution gives PyTorch's result (checked once per process on a small convolution: the
    operators are internal to PyTorch and not built for every platform)."""
    if not torch.backends.mkldnn.is_available():
        return False
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1, 8, 4, 4, generator=generator)
    weight = torch.randn(16, 8, 3, 3, generator=generator)
    try:
        packed = _convolve(x, _pack(weight, [1, 1]), None, [1, 1])
    except (AttributeError, RuntimeError, NotImplementedError):
        return False
    return torch.allclose(packed, F.conv2d(x, weight, padding=1), rtol=1e-4, atol=1e-5)


def _packable(conv: nn.Conv2d) -> bool:
    """Stride 1, no dilation, one group, zero "same" padding of an odd kernel: the input
    gradient is then a convolution with the flipped, transposed kernel and the same padding."""
    kernel = conv.kernel_size
    return (
        conv.stride == (1, 1)
        and conv.dilation == (1, 1)
        and conv.groups == 1
        and conv.padding_mode == "zeros"
        and all(k % 2 == 1 for k in kernel)
        and tuple(conv.padding) == tuple(k // 2 for k in kernel)
    )


def _pack(weight: torch.Tensor, padding: list[int]) -> torch.Tensor:
    hint = [1, weight.shape[1], _PACKING_HINT, _PACKING_HINT]
    return torch.ops.mkldnn._reorder_convolution_weight(
        weight.contiguous(), padding, [1, 1], [1, 1], 1, hint
    )


def _convolve(
    x: torch.Tensor, packed: torch.Tensor, bias: torch.Tensor | None, padding: list[int]
) -> torch.Tensor:
    return torch.ops.mkldnn._convolution_pointwise(
        x, packed, bias, padding, [1, 1], [1, 1], 1, "none", [], ""
    )


class _PackedConvolution(torch.autograd.Function):
    """Forward with the packed weights; input gradient with the packed flipped transpose."""

    @staticmethod
    def forward(ctx, x, packed, flipped, bias, padding):  # type: ignore[override]
        ctx.flipped, ctx.padding = flipped, padding
        return _convolve(x, packed, bias, padding)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        return _convolve(grad, ctx.flipped, None, ctx.padding), None, None, None, None


#: Packed weights by the weight they were packed from, with its storage and version: shared by
#: every encoder that holds the same convolution (the metrics' encoder and a method's
#: average-pooling copy share their layers), and dropped with the weight.
#: (Tensors compare element by element, so the dictionary is keyed by identity.)
_PACKED = WeakIdKeyDictionary()


class PackedConv2d(nn.Module):
    """``conv`` with its weights packed on first use (and again whenever they change).

    Falls back to ``conv`` itself off the CPU, outside float32 (bfloat16 autocast included), on
    maps larger than `MAX_POSITIONS`, and while its weights take gradients.
    """

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._takes(x):
            return self.conv(x)
        packed, flipped = self._weights()
        padding = list(self.conv.padding)
        return _PackedConvolution.apply(x, packed, flipped, self.conv.bias, padding)

    def _takes(self, x: torch.Tensor) -> bool:
        bias = self.conv.bias
        return (
            x.device.type == "cpu"
            and x.dtype == torch.float32
            and x.dim() == 4
            and x.shape[-2] * x.shape[-1] <= MAX_POSITIONS
            and not torch.is_autocast_enabled("cpu")
            and not self.conv.weight.requires_grad
            and (bias is None or not bias.requires_grad)
        )

    def _weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        weight = self.conv.weight
        source = (weight.data_ptr(), weight._version)  # new storage or an in-place change
        cached = _PACKED.get(weight)
        if cached is None or cached[0] != source:
            padding = list(self.conv.padding)
            with torch.no_grad():
                flipped = weight.transpose(0, 1).flip(2, 3)
                cached = (source, _pack(weight, padding), _pack(flipped, padding))
            _PACKED[weight] = cached
        return cached[1], cached[2]


def packed_convolutions(layers: nn.Sequential) -> dict[int, PackedConv2d]:
    """A packed wrapper for each convolution in ``layers`` that can be packed, by index (empty
    where this PyTorch build cannot pack)."""
    if not packing_available():
        return {}
    return {
        index: PackedConv2d(module)
        for index, module in enumerate(layers)
        if isinstance(module, nn.Conv2d) and _packable(module)
    }

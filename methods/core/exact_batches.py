"""Run a layer on a batch only where that gives every image the bits it gets alone.

A convolution library may pick its kernel by batch size, and two kernels sum in different
orders: on CPU, oneDNN convolves a 3-channel input (VGG's first layer) in a batch-dependent order
(about 1e-7 relative). An image optimisation amplifies any such rounding over hundreds of steps
(0.27 max pixel difference after 50 L-BFGS steps at 64 px), so a batch of pairs would not give
the images those pairs get one by one, and a result would depend on which cells shared a batch.

`ExactBatches` checks each layer once per input shape: forward and input gradient on the batch
against each image alone, compared bit for bit. Layers that pass run batched; the others run
image by image, which is exactly what each image gets alone. Only layers with weights are
checked: activations and pooling act on each image separately.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

#: (layer index, shape, dtype, device type, channels-last) of an input.
ProbeKey = tuple[int, tuple[int, ...], torch.dtype, str, bool]


def _key(index: int, x: torch.Tensor) -> ProbeKey:
    channels_last = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
    return index, tuple(x.shape), x.dtype, x.device.type, channels_last and x.shape[1] > 1


def _one_by_one(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return torch.cat([module(image) for image in x.split(1)])


def _output_and_input_grad(
    forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, weights: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``forward(x)`` and the gradient of ``(forward(x) * weights).sum()`` with respect to x."""
    probe = x.detach().requires_grad_(True)
    with torch.enable_grad():
        y = forward(probe)
        if weights is None:
            generator = torch.Generator().manual_seed(0)
            weights = torch.rand(y.shape, generator=generator).to(y.device, y.dtype)
        (grad,) = torch.autograd.grad((y * weights).sum(), probe)
    return y.detach(), grad, weights


def batches_exactly(module: nn.Module, x: torch.Tensor) -> bool:
    """Whether ``module`` gives each image of ``x`` the output and input gradient it gives alone."""
    batched, grad, weights = _output_and_input_grad(module, x, None)
    alone, grad_alone, _ = _output_and_input_grad(lambda v: _one_by_one(module, v), x, weights)
    return torch.equal(batched, alone) and torch.equal(grad, grad_alone)


class ExactBatches:
    """Per-layer memory of which layers may run on a whole batch (see the module docstring)."""

    def __init__(self) -> None:
        self._batched: dict[ProbeKey, bool] = {}

    def __call__(self, index: int, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] == 1 or not any(True for _ in module.parameters()):
            return module(x)
        key = _key(index, x)
        if key not in self._batched:
            self._batched[key] = batches_exactly(module, x)
        return module(x) if self._batched[key] else _one_by_one(module, x)

    def one_by_one(self) -> list[ProbeKey]:
        """The (layer, input) combinations found to round differently in a batch."""
        return [key for key, batched in self._batched.items() if not batched]

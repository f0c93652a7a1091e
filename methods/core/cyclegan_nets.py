"""CycleGAN's networks, laid out as junyanz/pytorch-CycleGAN-and-pix2pix's ``networks.py`` so
that its published generators load key for key.

Both networks are one ``nn.Sequential`` named ``model``, so state-dict keys are the reference's:
the ResNet generator's weighted layers are ``model.1`` (7x7 conv), ``model.4`` and ``model.7``
(stride-2 convs), ``model.10 .. model.{9+n}`` (residual blocks, ``conv_block.1`` and
``conv_block.5``, or ``.6`` with dropout), two transposed convs and a final 7x7 conv
(``model.26`` with 9 blocks), then tanh. Normalisation is the reference default,
``InstanceNorm2d(affine=False, track_running_stats=False)``, which has no parameters; since that
makes the norm bias-free, every conv has a bias. The 70x70 PatchGAN discriminator is
C64-C128-C256-C512 (4x4 convs, LeakyReLU 0.2, no norm on the first) and a 1-channel 4x4 conv.
With default widths: generator 11,378,179 parameters (9 blocks), discriminator 2,764,737.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import nn

#: Keys that old reference checkpoints carry from InstanceNorm's since-removed running statistics
#: (the reference's ``__patch_instance_norm_state_dict`` deletes them too).
LEGACY_NORM_KEY = re.compile(r"\.(running_mean|running_var|num_batches_tracked)$")


def _norm(channels: int) -> nn.InstanceNorm2d:
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    """Reflection pad, 3x3 conv, norm, ReLU, [dropout 0.5], reflection pad, 3x3 conv, norm; plus
    the input. Its layers are ``conv_block`` (keys ``conv_block.1`` and ``.5``/``.6``)."""

    def __init__(self, channels: int, dropout: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            _norm(channels),
            nn.ReLU(True),
        ]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), _norm(channels)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """Image in [-1, 1] -> image in [-1, 1] of the same size (a multiple of 4)."""

    def __init__(self, ngf: int = 64, n_blocks: int = 9, dropout: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(3, ngf, 7),
            _norm(ngf),
            nn.ReLU(True),
        ]
        for i in range(2):
            cin = ngf * 2**i
            layers += [
                nn.Conv2d(cin, cin * 2, 3, stride=2, padding=1),
                _norm(cin * 2),
                nn.ReLU(True),
            ]
        layers += [ResnetBlock(ngf * 4, dropout) for _ in range(n_blocks)]
        for i in range(2):
            cin = ngf * 2 ** (2 - i)
            layers += [
                nn.ConvTranspose2d(cin, cin // 2, 3, stride=2, padding=1, output_padding=1),
                _norm(cin // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PatchDiscriminator(nn.Module):
    """The reference's ``NLayerDiscriminator``: image in [-1, 1] -> a map of real/fake scores,
    each seeing a 70x70 patch (with 3 layers)."""

    def __init__(self, ndf: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(3, ndf, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, True),
        ]
        width = ndf
        for n in range(1, n_layers + 1):
            wider = ndf * min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(width, wider, 4, stride=stride, padding=1),
                _norm(wider),
                nn.LeakyReLU(0.2, True),
            ]
            width = wider
        layers.append(nn.Conv2d(width, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def discriminator_output_size(size: int, n_layers: int) -> int:
    """Side of the score map the discriminator gives for a ``size`` x ``size`` image (< 1: the
    image is too small for it)."""
    for _ in range(n_layers):
        size = (size + 2 - 4) // 2 + 1
    for _ in range(2):
        size = size + 2 - 4 + 1
    return size


def init_normal(module: nn.Module, gain: float = 0.02) -> nn.Module:
    """The reference's ``init_weights(init_type='normal')``: conv weights N(0, gain), biases 0."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(layer.weight, 0.0, gain)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return module


def without_legacy_norm_keys(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop instance norm ``running_mean/var`` and ``num_batches_tracked`` keys of old reference
    checkpoints (our norms, like the reference's today, keep no statistics and have no keys, so
    any such key can only come from one); everything else must then match exactly."""
    return {key: value for key, value in state.items() if not LEGACY_NORM_KEY.search(key)}

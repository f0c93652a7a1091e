"""Johnson et al.'s image transformation network, laid out exactly as pytorch/examples'
``fast_neural_style/transformer_net.py``, so its published checkpoints load key for key.

Module names (and so state-dict keys): ``conv1 in1 conv2 in2 conv3 in3 res1..res5 deconv1 in4
deconv2 in5 deconv3``; each conv is ``<name>.conv2d`` behind a reflection pad, every norm is
``InstanceNorm2d(affine=True)``, up-sampling is nearest x2 followed by a conv, and there is no
output activation: the network maps 0-255 RGB to (roughly) 0-255 RGB. 1,679,235 parameters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

#: Keys that old checkpoints carry from InstanceNorm's since-removed running statistics.
LEGACY_NORM_KEY = re.compile(r"in\d+\.running_(mean|var)$")


class ConvLayer(nn.Module):
    """Reflection padding of ``kernel // 2`` then a convolution (``conv2d``)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1) -> None:
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel // 2)
        self.conv2d = nn.Conv2d(cin, cout, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(self.reflection_pad(x))


class UpsampleConvLayer(ConvLayer):
    """Nearest-neighbour x2 up-sampling, then a `ConvLayer` (avoids deconvolution checkerboards)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResidualBlock(nn.Module):
    """conv-IN-ReLU-conv-IN plus the input; no ReLU after the sum."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, 3)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.in2(self.conv2(F.relu(self.in1(self.conv1(x)))))


class TransformerNet(nn.Module):
    """Down-sampling convs, five residual blocks, up-sampling convs; 0-255 in, 0-255 out."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = ConvLayer(3, 32, 9)
        self.in1 = nn.InstanceNorm2d(32, affine=True)
        self.conv2 = ConvLayer(32, 64, 3, stride=2)
        self.in2 = nn.InstanceNorm2d(64, affine=True)
        self.conv3 = ConvLayer(64, 128, 3, stride=2)
        self.in3 = nn.InstanceNorm2d(128, affine=True)
        self.res1 = ResidualBlock(128)
        self.res2 = ResidualBlock(128)
        self.res3 = ResidualBlock(128)
        self.res4 = ResidualBlock(128)
        self.res5 = ResidualBlock(128)
        self.deconv1 = UpsampleConvLayer(128, 64, 3)
        self.in4 = nn.InstanceNorm2d(64, affine=True)
        self.deconv2 = UpsampleConvLayer(64, 32, 3)
        self.in5 = nn.InstanceNorm2d(32, affine=True)
        self.deconv3 = ConvLayer(32, 3, 9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.in1(self.conv1(x)))
        y = F.relu(self.in2(self.conv2(y)))
        y = F.relu(self.in3(self.conv3(y)))
        for block in (self.res1, self.res2, self.res3, self.res4, self.res5):
            y = block(y)
        y = F.relu(self.in4(self.deconv1(y)))
        y = F.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


def without_legacy_norm_keys(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop ``in<N>.running_mean/var`` (and nested ``res<k>.in<N>.…``) from old checkpoints, as
    pytorch/examples' ``stylize`` does; everything else must then match exactly."""
    return {key: value for key, value in state.items() if not LEGACY_NORM_KEY.search(key)}

"""SANet's style-attentional networks (Park & Lee, CVPR 2019), laid out as the published
``transformer`` file of github:GlebSBrykin/SANET is: `Transform` with ``sanet4_1`` and
``sanet5_1`` (each ``f``, ``g``, ``h`` and ``out_conv``, 1x1 convolutions C -> C) and
``merge_conv`` (3x3), so that file loads strictly into it.

One attention module, for content features Fc and style features Fs of one layer:
S = softmax over style positions of f(norm(Fc))^T g(norm(Fs)) (one row per content position),
output = Fc + out_conv(h(Fs) S^T): every content position takes a mix of the style's features,
weighted by how alike the normalised features are, so local style patterns land where the
content resembles them. ``norm`` is the per-channel mean-variance normalisation
(`methods.core.moments.mean_variance_norm`); ``h`` reads the style features as they are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as functional
from torch import nn

from stylebench.methods.core.moments import mean_variance_norm

#: Channels of relu4_1 and relu5_1 in the normalised VGG-19: the width of every convolution here.
CHANNELS = 512


class StyleAttention(nn.Module):
    """One style-attentional module (the reference code's ``SANet``)."""

    def __init__(self, channels: int, unbiased: bool) -> None:
        super().__init__()
        self.f = nn.Conv2d(channels, channels, 1)
        self.g = nn.Conv2d(channels, channels, 1)
        self.h = nn.Conv2d(channels, channels, 1)
        self.out_conv = nn.Conv2d(channels, channels, 1)
        self.unbiased = unbiased

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """Content features [B, C, H, W] with attended style features [B, C, h, w] added."""
        query = self.f(mean_variance_norm(content, self.unbiased)).flatten(2)
        key = self.g(mean_variance_norm(style, self.unbiased)).flatten(2)
        value = self.h(style).flatten(2)
        attention = torch.softmax(query.transpose(1, 2) @ key, dim=-1)  # [B, Hc*Wc, Hs*Ws]
        attended = (value @ attention.transpose(1, 2)).view_as(content)
        return content + self.out_conv(attended)


class Transform(nn.Module):
    """Attention at relu4_1 and relu5_1, the relu5_1 result up-sampled (nearest x2) and added,
    then a reflection-padded 3x3 ``merge_conv``: the features the decoder turns into the image.

    Where relu4_1 has an odd side (images that are not a multiple of 16 px), the up-sampled
    relu5_1 branch is one row or column longer and is cropped to relu4_1's size; the reference
    code handles only multiples of 16 (elsewhere its addition fails)."""

    def __init__(self, unbiased: bool, channels: int = CHANNELS) -> None:
        super().__init__()
        self.sanet4_1 = StyleAttention(channels, unbiased)
        self.sanet5_1 = StyleAttention(channels, unbiased)
        self.merge_conv = nn.Conv2d(channels, channels, 3)

    def forward(
        self,
        content4_1: torch.Tensor,
        style4_1: torch.Tensor,
        content5_1: torch.Tensor,
        style5_1: torch.Tensor,
    ) -> torch.Tensor:
        height, width = content4_1.shape[-2:]
        deep = functional.interpolate(self.sanet5_1(content5_1, style5_1), scale_factor=2.0)
        merged = self.sanet4_1(content4_1, style4_1) + deep[..., :height, :width]
        return self.merge_conv(functional.pad(merged, (1, 1, 1, 1), mode="reflect"))

"""AdaAttN's networks (Liu et al., ICCV 2021), laid out as github:Huage001/AdaAttN's
``models/networks.py`` lays them out, so that its published ``latest_net_adaattn_3.pth``,
``latest_net_transformer.pth`` and ``latest_net_decoder.pth`` load strictly: `AdaAttN` (``f``,
``g``, ``h``: 1x1 convolutions), `Transformer` (``attn_adain_4_1``, ``attn_adain_5_1``,
``merge_conv``) and `SkipDecoder` (``decoder_layer_1``, ``decoder_layer_2``).

Adaptive attention normalisation at one layer, for content features Fc, style features Fs and
their keys Kc, Ks (mean-variance normalised features of the layer, with the shallower layers'
features resized to it and concatenated first: the paper's F^{1:x}): the attention
A = softmax over style positions of f(Kc)^T g(Ks); each content position gets the
attention-weighted mean M = A h(Fs) and standard deviation S = sqrt(A h(Fs)^2 - M^2) of the
style's features, and the output is S * norm(Fc) + M: AdaIN with statistics that vary from
position to position, taken from where the style looks like the content. Without ``f``, ``g``
and ``h`` the same computation is the target of the local feature loss (the paper's AdaAttN*).

The reference code attends to at most ``max_sample`` style positions, a random subset drawn
with ``torch.manual_seed(seed)``; here a seeded generator of its own draws the same subset
(`style_positions`) and leaves the global random state alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as functional
from torch import nn

from stylebench.methods.core.inference import memory_order_of
from stylebench.methods.core.moments import mean_variance_norm
from stylebench.methods.core.normalised_vgg import mirrored_decoder

#: Channels of relu1_1 .. relu5_1 in the normalised VGG-19 (the key widths add them up).
WIDTHS = {"relu1_1": 64, "relu2_1": 128, "relu3_1": 256, "relu4_1": 512, "relu5_1": 512}
#: The reference code's caps on attended style positions: relu3_1 (and the local loss), deeper.
SHALLOW_SAMPLE = 64 * 64
DEEP_SAMPLE = 256 * 256


def key_width(layer: str, shallow: bool) -> int:
    """Channels of a layer's attention key: its own, plus every shallower layer's if ``shallow``."""
    names = list(WIDTHS)
    shallower = sum(WIDTHS[name] for name in names[: names.index(layer)]) if shallow else 0
    return shallower + WIDTHS[layer]


def attention_key(
    features: Mapping[str, torch.Tensor], layer: str, shallow: bool, unbiased: bool
) -> torch.Tensor:
    """The key of ``layer`` (the reference's ``get_key``): each layer normalised on its own, the
    shallower ones first resized (nearest) to ``layer``'s size, concatenated along channels."""
    names = list(WIDTHS)
    size = features[layer].shape[-2:]
    parts = [functional.interpolate(features[n], size) for n in names[: names.index(layer)]]
    kept = [*parts, features[layer]] if shallow else [features[layer]]
    return torch.cat([mean_variance_norm(part, unbiased) for part in kept], dim=1)


def style_positions(count: int, cap: int | None, seed: int) -> torch.Tensor | None:
    """Which of ``count`` style positions to attend to: all (None) up to ``cap``, else ``cap`` of
    them at random, the subset ``torch.manual_seed(seed); torch.randperm(count)`` draws."""
    if cap is None or count <= cap:
        return None
    return torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:cap]


def attentive_norm(
    content: torch.Tensor,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    unbiased: bool,
    keep: torch.Tensor | None = None,
) -> torch.Tensor:
    """S * norm(content) + M, with M and S the attention-weighted mean and standard deviation of
    ``value`` [B, C, h, w] per content position; attention: softmax over style positions of
    ``query`` [B, K, H, W] against ``key`` [B, K, h, w] (``keep``: those positions only)."""
    # float32 whatever the autocast: the variance is a difference of two means, which
    # cancels badly in bfloat16.
    with torch.autocast(content.device.type, enabled=False):
        return _attentive_norm(
            content.float(), query.float(), key.float(), value.float(), unbiased, keep
        )


def _attentive_norm(
    content: torch.Tensor,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    unbiased: bool,
    keep: torch.Tensor | None,
) -> torch.Tensor:
    batch, channels, height, width = content.shape
    keys, values = key.flatten(2), value.flatten(2)
    if keep is not None:
        keep = keep.to(keys.device)
        keys, values = keys[..., keep], values[..., keep]
    weights = torch.softmax(query.flatten(2).transpose(1, 2) @ keys, dim=-1)  # [B, HW, hw]
    values = values.transpose(1, 2)
    mean = weights @ values  # [B, HW, C]
    std = torch.relu(weights @ values.square() - mean.square()).sqrt()

    def as_map(x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2).reshape(batch, channels, height, width)

    out = as_map(std) * mean_variance_norm(content, unbiased) + as_map(mean)
    return memory_order_of(out, content)  # the maps above are NHWC views


class AdaAttN(nn.Module):
    """One adaptive attention normalisation module (the reference code's ``AdaAttN``)."""

    def __init__(
        self, channels: int, key_channels: int, max_sample: int | None, unbiased: bool
    ) -> None:
        super().__init__()
        self.f = nn.Conv2d(key_channels, key_channels, 1)
        self.g = nn.Conv2d(key_channels, key_channels, 1)
        self.h = nn.Conv2d(channels, channels, 1)
        self.max_sample = max_sample
        self.unbiased = unbiased

    def forward(
        self,
        content: torch.Tensor,
        style: torch.Tensor,
        content_key: torch.Tensor,
        style_key: torch.Tensor,
        seed: int,
    ) -> torch.Tensor:
        """Content features [B, C, H, W] with the attended style statistics."""
        keep = style_positions(style.shape[-2] * style.shape[-1], self.max_sample, seed)
        query, key, value = self.f(content_key), self.g(style_key), self.h(style)
        return attentive_norm(content, query, key, value, self.unbiased, keep)


def _cropped_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``x`` up-sampled x2 (nearest) is one row or column too long where ``like`` has an odd side
    (images that are not a multiple of the layers' stride): cut it to ``like``'s size."""
    return x[..., : like.shape[-2], : like.shape[-1]]


class Transformer(nn.Module):
    """AdaAttN at relu4_1 and relu5_1, the relu5_1 result up-sampled (nearest x2) and added, then
    a reflection-padded 3x3 ``merge_conv``: what the decoder starts from (the reference's
    ``Transformer``; where relu4_1 has an odd side the reference code's addition fails, here
    the up-sampled branch is cropped)."""

    def __init__(
        self, shallow: bool, unbiased: bool, sample: bool, channels: int = WIDTHS["relu4_1"]
    ) -> None:
        super().__init__()
        cap = DEEP_SAMPLE if sample else None
        self.attn_adain_4_1 = AdaAttN(channels, key_width("relu4_1", shallow), cap, unbiased)
        self.attn_adain_5_1 = AdaAttN(channels, key_width("relu5_1", shallow), cap, unbiased)
        self.merge_conv = nn.Conv2d(channels, channels, 3)

    def forward(
        self,
        content: Mapping[str, torch.Tensor],
        style: Mapping[str, torch.Tensor],
        keys: Mapping[str, Sequence[torch.Tensor]],
        seed: int,
    ) -> torch.Tensor:
        """``content``, ``style``: features by layer; ``keys``: (content key, style key) by layer."""
        near = self.attn_adain_4_1(content["relu4_1"], style["relu4_1"], *keys["relu4_1"], seed)
        deep = self.attn_adain_5_1(content["relu5_1"], style["relu5_1"], *keys["relu5_1"], seed)
        merged = near + _cropped_to(functional.interpolate(deep, scale_factor=2.0), near)
        return self.merge_conv(functional.pad(merged, (1, 1, 1, 1), mode="reflect"))


class SkipDecoder(nn.Module):
    """AdaIN's mirrored decoder split after its first up-sampling, where the relu3_1 AdaAttN
    output joins (concatenated: the first convolution of the second part takes 256 + 256
    channels): the reference code's ``Decoder(skip_connection_3=True)``, key for key."""

    def __init__(self) -> None:
        super().__init__()
        mirrored = list(mirrored_decoder())
        second = mirrored[4:]
        skip = WIDTHS["relu3_1"]
        second[1] = nn.Conv2d(second[1].in_channels + skip, second[1].out_channels, 3)
        self.decoder_layer_1 = nn.Sequential(*mirrored[:4])
        self.decoder_layer_2 = nn.Sequential(*second)

    def forward(self, features: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """The image from the merged relu4_1 features and the relu3_1 AdaAttN output."""
        up = _cropped_to(self.decoder_layer_1(features), skip)
        return self.decoder_layer_2(torch.cat((up, skip), dim=1))

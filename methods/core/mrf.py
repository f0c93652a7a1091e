"""Patch-based (MRF) style loss with semantic channels, as in Champandard's semantic style transfer.

Every k x k patch of the optimised image's features is matched to its nearest style patch by
normalised cross-correlation (a convolution with the normalised style patches as filters), and
the loss pulls each patch towards its match (Li & Wand's CNNMRF). Semantic maps, average-pooled
to the layer's resolution, take part in the matching only:

- ``concat`` (the paper): maps times the semantic weight are appended to the features as extra
  channels, and whole augmented patches are compared by normalised cross-correlation.
- ``split`` (alexjc/neural-doodle's code): feature part and map part are normalised separately,
  so the score is cos(features) + semantic_weight * cos(maps), independent of feature scale.

The loss itself, as in neural-doodle, is the mean squared difference over the image features of
each patch and its match (the map channels of the image never change, so they add nothing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

Matching = Literal["concat", "split"]

#: Score-matrix elements computed at once while matching (bounds memory for large images).
MATCH_CHUNK = 1 << 24
_EPS = 1e-12


def layer_stride(layer: str) -> int:
    """How many pixels one position of a VGG layer (``relu3_1``: block 3) spans: 2^(block-1)."""
    found = re.fullmatch(r"(?:conv|relu)(\d)_\d", layer)
    if not found:
        raise ValueError(f"patch layers must be VGG conv/relu layers like relu3_1, not {layer!r}")
    return 2 ** (int(found.group(1)) - 1)


def map_at_layer(maps: torch.Tensor, layer: str) -> torch.Tensor:
    """Semantic maps average-pooled to ``layer``'s resolution (neural-doodle's ``map{j+1}``)."""
    stride = layer_stride(layer)
    return F.avg_pool2d(maps, stride) if stride > 1 else maps


def _unit(patches: torch.Tensor) -> torch.Tensor:
    """Rows of [N, D] divided by their L2 norm."""
    return patches / patches.norm(dim=1, keepdim=True).clamp_min(_EPS)


def _patches(x: torch.Tensor, size: int) -> torch.Tensor:
    """All size x size patches (stride 1) of one [C, h, w] map as rows of [N, C*size*size]."""
    return F.unfold(x[None], size).squeeze(0).transpose(0, 1)


@dataclass
class StylePatches:
    """One style image's patches at one layer: raw features for the loss, filters for matching."""

    features: torch.Tensor
    filters: torch.Tensor
    map_filters: torch.Tensor | None
    size: int


def style_patches(
    features: torch.Tensor,
    maps: torch.Tensor | None,
    semantic_weight: float,
    matching: Matching,
    size: int = 3,
) -> StylePatches:
    """Patches of one style image's [C, h, w] features (and [K, h, w] maps, or None)."""
    if min(features.shape[-2:]) < size:
        raise ValueError(
            f"a {tuple(features.shape[-2:])} feature map has no {size}x{size} patches; "
            "use larger images or fewer phases"
        )
    raw = _patches(features, size)
    channels = features.shape[0]
    use_maps = maps is not None and semantic_weight > 0
    if use_maps and matching == "concat":
        augmented = torch.cat([features, semantic_weight * maps])
        filters = _unit(_patches(augmented, size)).view(-1, augmented.shape[0], size, size)
        return StylePatches(raw, filters, None, size)
    filters = _unit(raw).view(-1, channels, size, size)
    map_filters = None
    if use_maps:
        map_filters = _unit(_patches(maps, size)).view(-1, maps.shape[0], size, size)
    return StylePatches(raw, filters, map_filters, size)


def _patch_norms(x: torch.Tensor, size: int) -> torch.Tensor:
    """L2 norm of every size x size patch of [C, h, w], as [h-size+1, w-size+1]."""
    ones = x.new_ones(1, x.shape[0], size, size)
    return F.conv2d(x[None].pow(2), ones)[0, 0].sqrt().clamp_min(_EPS)


def nearest_patches(
    features: torch.Tensor,
    maps: torch.Tensor | None,
    style: StylePatches,
    semantic_weight: float,
    matching: Matching,
) -> torch.Tensor:
    """Index of the best style patch for every patch of [C, h, w] ``features``, as [P]."""
    with torch.no_grad():
        size = style.size
        use_maps = maps is not None and semantic_weight > 0
        if use_maps and matching == "concat":
            query = torch.cat([features, semantic_weight * maps])[None]
        else:
            query = features[None]
        feature_norms = _patch_norms(features, size) if matching == "split" else None
        map_query = maps[None] if use_maps and style.map_filters is not None else None
        map_norms = _patch_norms(maps, size) if map_query is not None else None
        positions = (features.shape[-2] - size + 1) * (features.shape[-1] - size + 1)
        chunk = max(1, MATCH_CHUNK // positions)
        best_score = best = None
        for start in range(0, style.filters.shape[0], chunk):
            score = F.conv2d(query, style.filters[start : start + chunk])[0]
            if feature_norms is not None:
                score = score / feature_norms
            if map_query is not None:
                map_score = F.conv2d(map_query, style.map_filters[start : start + chunk])[0]
                score = score + semantic_weight * map_score / map_norms
            score, index = score.flatten(1).max(dim=0)
            index = index + start
            if best is None:
                best_score, best = score, index
            else:
                better = score > best_score
                best_score = torch.where(better, score, best_score)
                best = torch.where(better, index, best)
        return best


def mrf_loss(
    features: torch.Tensor,
    maps: torch.Tensor | None,
    style: list[StylePatches],
    semantic_weight: float,
    matching: Matching,
) -> torch.Tensor:
    """Per-image mean squared difference between each patch and its nearest style patch, [B]."""
    losses = []
    for b, patches in enumerate(style):
        image_maps = maps[b] if maps is not None else None
        best = nearest_patches(features[b], image_maps, patches, semantic_weight, matching)
        mine = _patches(features[b], patches.size)
        losses.append((mine - patches.features[best]).pow(2).mean())
    return torch.stack(losses)

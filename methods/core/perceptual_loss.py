"""One perceptual loss (content + style + smoothness) for optimisation, training and scoring.

The same object drives the image optimisation methods, the loss networks of the feed-forward
methods, and the evaluation metrics (with a fixed spec of their own), so every number that says
"style loss" in stylebench is computed by the same code. Style is matched by Gram matrices
(Gatys; same-layer or cross-layer, optionally shifted) and/or by nearest-neighbour patches with
optional semantic maps (`methods.core.mrf`, Champandard); both add to the ``style`` term.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import torch
from torch import nn

from stylebench.methods.core.encoders import FeatureEncoder
from stylebench.methods.core.losses import (
    GramNorm,
    cross_gram,
    gram_matrix,
    half_sum_squared_error,
    mean_squared_error,
    smoothness,
    total_variation,
)
from stylebench.methods.core.mrf import (
    Matching,
    StylePatches,
    map_at_layer,
    mrf_loss,
    style_patches,
)

ContentReduction = Literal["mse", "half_sum"]

if TYPE_CHECKING:
    from stylebench.methods.base import StyleBlend


@dataclass(frozen=True)
class PerceptualSpec:
    """Which layers, with which weights and normalisations, make up the loss.

    Style term i compares the Gram matrix of ``style_layers[i]``, or, where ``style_partners``
    names a second layer, the cross-layer Gram of the two (`cross_gram`).
    """

    content_layers: Sequence[str]
    content_weights: Sequence[float]
    style_layers: Sequence[str]
    style_weights: Sequence[float]
    content_reduction: ContentReduction = "mse"
    gram_norm: GramNorm = "chw"
    gram_shift: float = 0.0
    tv_weight: float = 0.0
    style_partners: Sequence[str | None] | None = None
    patch_layers: Sequence[str] = ()
    patch_weights: Sequence[float] = ()
    patch_size: int = 3
    semantic_weight: float = 0.0
    matching: Matching = "split"
    #: neural-doodle's smoothness prior, mean((dx^2 + dy^2)^1.25) on 0-255 pixel values.
    smoothness_weight: float = 0.0

    def __post_init__(self) -> None:
        if len(self.content_layers) != len(self.content_weights):
            raise ValueError("content_layers and content_weights must have the same length")
        if len(self.style_layers) != len(self.style_weights):
            raise ValueError("style_layers and style_weights must have the same length")
        if self.style_partners is not None and len(self.style_partners) != len(self.style_layers):
            raise ValueError("style_partners needs one entry (a layer or None) per style layer")
        if len(self.patch_layers) != len(self.patch_weights):
            raise ValueError("patch_layers and patch_weights must have the same length")

    @property
    def style_terms(self) -> list[tuple[str, str, str | None]]:
        """``(key, layer, partner)`` per style term; the key names its target Gram."""
        partners = self.style_partners or [None] * len(self.style_layers)
        return [
            (layer if partner is None else f"{layer}*{partner}", layer, partner)
            for layer, partner in zip(self.style_layers, partners, strict=True)
        ]

    @property
    def style_feature_layers(self) -> list[str]:
        return list(
            dict.fromkeys(
                name for _, layer, partner in self.style_terms for name in (layer, partner) if name
            )
        )

    @property
    def layers(self) -> list[str]:
        return list(
            dict.fromkeys([*self.content_layers, *self.style_feature_layers, *self.patch_layers])
        )


@dataclass
class Targets:
    """What to match, computed once per batch: content features, style Gram matrices, and per
    patch layer the style patches of each image and the content's semantic maps at that layer."""

    content: dict[str, torch.Tensor]
    style: dict[str, torch.Tensor]
    patches: dict[str, list[StylePatches]] = field(default_factory=dict)
    maps: dict[str, torch.Tensor] = field(default_factory=dict)


class PerceptualLoss(nn.Module):
    """Per-image content, style and TV terms against precomputed `Targets`."""

    def __init__(self, encoder: FeatureEncoder, spec: PerceptualSpec) -> None:
        super().__init__()
        self.encoder = encoder
        self.spec = spec

    def content_targets(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return self.encoder(content, self.spec.content_layers)

    def style_targets(self, style: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return self.grams(self.encoder(style, self.spec.style_feature_layers))

    def grams(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The Gram matrix of every style term, by its key."""
        spec = self.spec
        return {
            key: gram_matrix(features[layer], spec.gram_norm, spec.gram_shift)
            if partner is None
            else cross_gram(features[layer], features[partner], spec.gram_norm, spec.gram_shift)
            for key, layer, partner in spec.style_terms
        }

    def targets(
        self,
        content: torch.Tensor | None,
        style: torch.Tensor | None,
        content_maps: torch.Tensor | None = None,
        style_maps: torch.Tensor | None = None,
    ) -> Targets:
        """Targets for content and style images; maps ([B, K, H, W]) are for patch matching."""
        spec = self.spec
        if (content_maps is None) != (style_maps is None):
            raise ValueError("give semantic maps for both the content and the style images")
        grams: dict[str, torch.Tensor] = {}
        patches: dict[str, list[StylePatches]] = {}
        if style is not None:
            with torch.no_grad():
                layers = list(dict.fromkeys([*spec.style_feature_layers, *spec.patch_layers]))
                features = self.encoder(style, layers) if layers else {}
            grams = self.grams(features) if spec.style_terms else {}
            for layer in spec.patch_layers:
                maps = map_at_layer(style_maps, layer) if style_maps is not None else None
                patches[layer] = [
                    style_patches(
                        features[layer][b],
                        maps[b] if maps is not None else None,
                        spec.semantic_weight,
                        spec.matching,
                        spec.patch_size,
                    )
                    for b in range(style.shape[0])
                ]
        return Targets(
            content=self.content_targets(content)
            if content is not None and spec.content_layers
            else {},
            style=grams,
            patches=patches,
            maps={layer: map_at_layer(content_maps, layer) for layer in spec.patch_layers}
            if content_maps is not None
            else {},
        )

    def forward(self, images: torch.Tensor, targets: Targets) -> dict[str, torch.Tensor]:
        """Weighted per-image terms ``content``, ``style``, ``tv`` and their sum ``total``."""
        spec = self.spec
        layers = [
            *(spec.content_layers if targets.content else ()),
            *(spec.style_feature_layers if targets.style else ()),
            *(spec.patch_layers if targets.patches else ()),
        ]
        features = self.encoder(images, layers) if layers else {}
        reduce = (
            half_sum_squared_error if spec.content_reduction == "half_sum" else mean_squared_error
        )
        terms = {name: images.new_zeros(images.shape[0]) for name in ("content", "style", "tv")}
        if targets.content:
            for name, weight in zip(spec.content_layers, spec.content_weights, strict=True):
                terms["content"] = terms["content"] + weight * reduce(
                    features[name], targets.content[name]
                )
        if targets.style:
            grams = self.grams(features)
            for (key, _, _), weight in zip(spec.style_terms, spec.style_weights, strict=True):
                terms["style"] = terms["style"] + weight * mean_squared_error(
                    grams[key], targets.style[key]
                )
        if targets.patches:
            for name, weight in zip(spec.patch_layers, spec.patch_weights, strict=True):
                terms["style"] = terms["style"] + weight * mrf_loss(
                    features[name],
                    targets.maps.get(name),
                    targets.patches[name],
                    spec.semantic_weight,
                    spec.matching,
                )
        if spec.tv_weight:
            terms["tv"] = spec.tv_weight * total_variation(images)
        if spec.smoothness_weight:
            terms["tv"] = terms["tv"] + spec.smoothness_weight * smoothness(images * 255)
        terms["total"] = terms["content"] + terms["style"] + terms["tv"]
        return terms


def blend_targets(loss: PerceptualLoss, blend: StyleBlend) -> dict[str, torch.Tensor]:
    """The Gram targets of a blend: per style term, the weighted sum of its parts' Grams (what
    blending methods that match Grams optimise towards, and what style_loss scores against)."""
    grams = [loss.style_targets(image) for image in blend.images]
    return {key: blend.mix([gram[key] for gram in grams]) for key in grams[0]}

"""One perceptual loss (content + Gram style + total variation) for optimisation, training and scoring.

The same object drives Gatys' image optimisation, the loss networks of the feed-forward methods,
and the evaluation metrics (with a fixed spec of their own), so every number that says "style
loss" in stylebench is computed by the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from methods.core.encoders import FeatureEncoder
from methods.core.losses import (
    GramNorm,
    cross_gram,
    gram_matrix,
    half_sum_squared_error,
    mean_squared_error,
    total_variation,
)

ContentReduction = Literal["mse", "half_sum"]


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

    def __post_init__(self) -> None:
        if len(self.content_layers) != len(self.content_weights):
            raise ValueError("content_layers and content_weights must have the same length")
        if len(self.style_layers) != len(self.style_weights):
            raise ValueError("style_layers and style_weights must have the same length")
        if self.style_partners is not None and len(self.style_partners) != len(self.style_layers):
            raise ValueError("style_partners needs one entry (a layer or None) per style layer")

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
        return list(dict.fromkeys([*self.content_layers, *self.style_feature_layers]))


@dataclass
class Targets:
    """Content features and style Gram matrices to match, computed once per batch."""

    content: dict[str, torch.Tensor]
    style: dict[str, torch.Tensor]


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

    def targets(self, content: torch.Tensor | None, style: torch.Tensor | None) -> Targets:
        return Targets(
            content=self.content_targets(content) if content is not None else {},
            style=self.style_targets(style) if style is not None else {},
        )

    def forward(self, images: torch.Tensor, targets: Targets) -> dict[str, torch.Tensor]:
        """Weighted per-image terms ``content``, ``style``, ``tv`` and their sum ``total``."""
        spec = self.spec
        layers = [
            *(spec.content_layers if targets.content else ()),
            *(spec.style_feature_layers if targets.style else ()),
        ]
        features = self.encoder(images, layers)
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
        if spec.tv_weight:
            terms["tv"] = spec.tv_weight * total_variation(images)
        terms["total"] = terms["content"] + terms["style"] + terms["tv"]
        return terms

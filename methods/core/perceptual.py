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
    gram_matrix,
    half_sum_squared_error,
    mean_squared_error,
    total_variation,
)

ContentReduction = Literal["mse", "half_sum"]


@dataclass(frozen=True)
class PerceptualSpec:
    """Which layers, with which weights and normalisations, make up the loss."""

    content_layers: Sequence[str]
    content_weights: Sequence[float]
    style_layers: Sequence[str]
    style_weights: Sequence[float]
    content_reduction: ContentReduction = "mse"
    gram_norm: GramNorm = "chw"
    gram_shift: float = 0.0
    tv_weight: float = 0.0

    def __post_init__(self) -> None:
        if len(self.content_layers) != len(self.content_weights):
            raise ValueError("content_layers and content_weights must have the same length")
        if len(self.style_layers) != len(self.style_weights):
            raise ValueError("style_layers and style_weights must have the same length")

    @property
    def layers(self) -> list[str]:
        return list(dict.fromkeys([*self.content_layers, *self.style_layers]))


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
            features = self.encoder(style, self.spec.style_layers)
            return {
                name: gram_matrix(f, self.spec.gram_norm, self.spec.gram_shift)
                for name, f in features.items()
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
            *(spec.style_layers if targets.style else ()),
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
            for name, weight in zip(spec.style_layers, spec.style_weights, strict=True):
                gram = gram_matrix(features[name], spec.gram_norm, spec.gram_shift)
                terms["style"] = terms["style"] + weight * mean_squared_error(
                    gram, targets.style[name]
                )
        if spec.tv_weight:
            terms["tv"] = spec.tv_weight * total_variation(images)
        terms["total"] = terms["content"] + terms["style"] + terms["tv"]
        return terms

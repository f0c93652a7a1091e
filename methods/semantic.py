"""Champandard (2016), "Semantic Style Transfer and Turning Two-Bit Doodles into Fine Artworks"
(arXiv 1603.01768; code: alexjc/neural-doodle ``doodle.py``).

The image is optimised against a patch-based (CNNMRF) style loss in which semantic maps steer the
matching: each 3x3 patch of the image's VGG-19 features at relu3_1 and relu4_1 (post-ReLU,
average pooling) is matched to its nearest style patch by normalised cross-correlation, with the
semantic maps, average-pooled to each layer and weighted by ``semantic_weight``, as extra
channels. Plus a content loss (MSE at relu4_2), a smoothness prior, and coarse-to-fine phases
(scales 1/4, 1/2, 1 by default; each starts from the previous result).

Semantic maps come from the suite (`Guides`); where one or both are missing, they are made
automatically (`methods.core.segment`) and the result's notes say so for every image.

Presets:
- ``paper``: the paper's matching, features and maps concatenated and compared as one vector
  (``matching: concat``). The paper gives no numbers for weights or schedule, so these are the
  authors' code defaults: content 10, style 25 per layer, semantic 10, smoothness 1, 3 phases of
  100 evaluations, noise start in [16, 240], L-BFGS keeping 5 pairs.
- ``reference``: alexjc/neural-doodle as of May 2016: feature and map parts of each patch are
  normalised separately (``matching: split``), so the score is cos(features) + 10 cos(maps).
Differences that remain: torchvision's VGG-19 ([0, 1] RGB with ImageNet mean/std) instead of the
Caffe model, so loss magnitudes differ (the smoothness term is taken on 0-255 values as in the
code); L-BFGS without pixel bounds (the result is clamped to [0, 1]) instead of scipy's L-BFGS-B;
no ``--variety`` term.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from pydantic import Field, model_validator

from stylebench.methods.base import (
    MAX_OPTIMIZATION_STEPS,
    Guides,
    MethodContext,
    MethodNeeds,
    PrepareData,
    Stylized,
    Weight,
)
from stylebench.methods.core.encoders import Pooling
from stylebench.methods.core.mrf import Matching, layer_stride
from stylebench.methods.core.optimize import Init, OptimizationConfig
from stylebench.methods.core.perceptual_loss import PerceptualLoss, PerceptualSpec
from stylebench.methods.core.pyramid import Size, optimize_coarse_to_fine, resize
from stylebench.methods.core.segment import complete_maps
from stylebench.methods.gatys import scaled_like


class SemanticConfig(OptimizationConfig):
    """Settings of semantic style transfer (defaults: the ``paper`` preset)."""

    content_layers: list[str] = Field(default_factory=lambda: ["relu4_2"])
    content_weight: Weight = 10.0
    style_layers: list[str] = Field(default_factory=lambda: ["relu3_1", "relu4_1"])
    style_weight: Weight = Field(25.0, description="weight of each style layer's patch loss")
    semantic_weight: float = Field(10.0, ge=0)
    matching: Matching = "concat"
    patch_size: int = Field(3, ge=1)
    smoothness: float = Field(1.0, ge=0)
    pooling: Pooling = "avg"
    auto_classes: int = Field(4, ge=2, le=32, description="k-means classes of automatic maps")
    init: Init = "doodle_noise"
    steps: int = Field(
        100, gt=0, le=MAX_OPTIMIZATION_STEPS, description="loss evaluations per phase"
    )
    lbfgs_history: int = 5
    phases: int = Field(3, ge=1, le=6)

    @model_validator(mode="after")
    def _layers_are_vgg(self) -> SemanticConfig:
        for layer in [*self.style_layers, *self.content_layers]:
            layer_stride(layer)
        return self

    def min_size(self) -> int:
        """The smallest phase that still has patches at the deepest style layer."""
        return max(layer_stride(layer) for layer in self.style_layers) * self.patch_size


class Semantic:
    """Semantic style transfer: patch matching steered by semantic maps."""

    name: ClassVar[str] = "semantic"
    summary: ClassVar[str] = "image optimisation, semantic-map-guided patch (MRF) style loss"
    paper: ClassVar[str] = "Champandard, arXiv 1603.01768 (2016)"
    Config: ClassVar[type[SemanticConfig]] = SemanticConfig
    presets: ClassVar[dict[str, dict]] = {
        "paper": {},
        "smoke": {"steps": 15, "phases": 1},
        "reference": {"matching": "split"},
    }
    needs: ClassVar[MethodNeeds] = MethodNeeds(style="pair", guides=True)
    iterative: ClassVar[bool] = True
    encoders: ClassVar[tuple[str, ...]] = ("vgg19",)

    def __init__(self, config: SemanticConfig, context: MethodContext) -> None:
        self.config = config
        self.context = context
        encoder = context.encoder("vgg19").with_pooling(config.pooling).running(config.execution())
        spec = PerceptualSpec(
            content_layers=config.content_layers,
            content_weights=[config.content_weight] * len(config.content_layers),
            content_reduction="mse",
            style_layers=[],
            style_weights=[],
            patch_layers=config.style_layers,
            patch_weights=[config.style_weight] * len(config.style_layers),
            patch_size=config.patch_size,
            semantic_weight=config.semantic_weight,
            matching=config.matching,
            smoothness_weight=config.smoothness,
        )
        self.loss = PerceptualLoss(encoder, spec)

    def prepare(self, data: PrepareData) -> dict[str, list[float]]:
        """Nothing to prepare: every image is optimised from scratch."""
        return {}

    def stylize(
        self,
        content: torch.Tensor,
        style: torch.Tensor,
        guides: Guides | None = None,
        seeds: Sequence[int] | None = None,
    ) -> Stylized:
        seeds = list(seeds) if seeds is not None else [self.context.seed] * content.shape[0]
        guides = guides or Guides()
        completed = [
            complete_maps(
                content[b],
                style[b],
                guides.content[b] if guides.content is not None else None,
                guides.style[b] if guides.style is not None else None,
                self.config.auto_classes,
                seeds[b],
            )
            for b in range(content.shape[0])
        ]
        if len({c.shape[0] for c, _, _ in completed}) > 1:
            raise ValueError(
                "this batch mixes provided and automatic semantic maps (different channels); "
                "stylize those pairs in separate calls"
            )
        content_maps = torch.stack([c for c, _, _ in completed])
        style_maps = torch.stack([s for _, s, _ in completed])

        def loss_at(size: Size):
            targets = self.loss.targets(
                resize(content, size),
                scaled_like(style, content, size),
                resize(content_maps, size),
                scaled_like(style_maps, content, size),
            )
            return lambda images: self.loss(images, targets)

        result = optimize_coarse_to_fine(self.config, content, seeds, loss_at)
        return Stylized(
            images=result.images,
            curves=result.curves,
            notes={"guides": [note for _, _, note in completed]},
        )

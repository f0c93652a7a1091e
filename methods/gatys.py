"""Gatys, Ecker & Bethge (CVPR 2016), "Image Style Transfer Using Convolutional Neural Networks".

The image itself is optimised so that its VGG-19 features match the content image at ``relu4_2``
and its Gram matrices match the style image at ``relu1_1 .. relu5_1``.

Presets:
- ``paper``: the paper's formulation. Content loss 1/2 sum (F - P)^2; per-layer style loss
  E_l = sum (G - A)^2 / (4 N^2 M^2) (a Gram normalised by H*W, mean over N^2, times 1/4), each
  of the five layers weighted 1/5, alpha/beta = 1e-3, average pooling (the paper's suggestion for
  synthesis), white-noise initialisation, L-BFGS.
- ``reference``: jcjohnson/neural-style defaults. content_weight 5 at relu4_2 (MSE),
  style_weight 100 on each layer (MSE of Grams normalised by C*H*W), tv_weight 1e-3, max
  pooling, initialised at the mean colour with tiny noise (its ``-init random``), L-BFGS for
  1,000 evaluations. Differences that remain: torchvision's VGG-19 (RGB, ImageNet mean/std, [0, 1])
  instead of the Caffe model (BGR, 0-255), so loss magnitudes are not comparable to the Lua code.
- ``pytorch_tutorial``: the official PyTorch tutorial (pytorch/tutorials,
  ``advanced_source/neural_style_tutorial.py``), as its source does it. It names every
  convolution of ``vgg19.features`` in order (``conv_1`` .. ``conv_16``) and inserts its loss
  modules right after the convolution, before the ReLU, so its style layers ``conv_1`` ..
  ``conv_5`` are the pre-activation taps conv1_1, conv1_2, conv2_1, conv2_2, conv3_1 and its
  content layer ``conv_4`` is conv2_2 (not relu1_1..relu5_1 / relu4_2, nor the conv1_1..conv5_1 /
  conv4_2 a by-block reading of its names suggests). Content: MSE of the features, weight 1;
  style: on each of the five layers (summed, not averaged) the MSE of Grams divided by C*H*W
  (its ``G.div(a*b*c*d)`` with a batch of one), times 1e6; no TV term; max pooling; torchvision's
  ImageNet VGG-19 and mean/std; starts from the content image; ``torch.optim.LBFGS`` with its
  defaults (lr 1, history 100, no line search); its closure clamps the image to [0, 1] before
  every evaluation (``clamp_each_eval``). Its ``num_steps=300`` loop (``while run[0] <= 300``,
  ``run[0]`` counting closure evaluations, ``optimizer.step`` evaluating 20 times with the
  default ``max_iter=20``) evaluates the loss 320 times, so ``steps`` is 320: the same 320
  points. Two differences remain: the tutorial returns the image after one more, unevaluated
  update (the 20th iteration of its last ``step`` moves without evaluating), where stylebench
  returns the last evaluated image; and ``torch.optim.LBFGS`` would stop a ``step`` early on its
  tolerances (loss change or step below 1e-9, gradient below 1e-7), stylebench never does. The
  image size (512 px on a GPU, 128 on CPU) is the suite's ``image_size``, not a method setting.

All presets optimise at full size only (``phases: 1``); ``phases: n`` runs the shared
coarse-to-fine schedule (`methods.core.pyramid`), ``steps`` evaluations per phase.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import ClassVar

import torch
from pydantic import Field, model_validator

from stylebench.methods.base import (
    Guides,
    MethodContext,
    MethodNeeds,
    PrepareData,
    StyleBlend,
    Stylized,
    Weight,
)
from stylebench.methods.core.encoders import Pooling
from stylebench.methods.core.losses import GramNorm
from stylebench.methods.core.optimize import OptimizationConfig
from stylebench.methods.core.perceptual_loss import (
    ContentReduction,
    PerceptualLoss,
    PerceptualSpec,
    Targets,
    blend_targets,
)
from stylebench.methods.core.pyramid import Size, optimize_coarse_to_fine, resize

STYLE_LAYERS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
#: The PyTorch tutorial's ``conv_1`` .. ``conv_5``: the first five convolutions, pre-activation.
TUTORIAL_STYLE_LAYERS = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1"]


class GatysConfig(OptimizationConfig):
    """Settings of the Gatys method (defaults: the ``paper`` preset)."""

    content_layers: list[str] = Field(default_factory=lambda: ["relu4_2"])
    content_weight: Weight = 1.0
    content_reduction: ContentReduction = "half_sum"
    style_layers: list[str] = Field(default_factory=lambda: list(STYLE_LAYERS))
    style_layer_weights: list[Weight] | None = None
    style_weight: Weight = 1e3
    style_loss_scale: Weight = 0.25
    gram_norm: GramNorm = "hw"
    tv_weight: Weight = 0.0
    pooling: Pooling = "avg"

    @model_validator(mode="after")
    def _layer_weights_match(self) -> GatysConfig:
        if self.style_layer_weights is not None and len(self.style_layer_weights) != len(
            self.style_layers
        ):
            raise ValueError("style_layer_weights needs one weight per style layer")
        return self

    def layer_weights(self) -> list[float]:
        """Per-style-layer weights; equal weights summing to one when not given."""
        if self.style_layer_weights is not None:
            return list(self.style_layer_weights)
        return [1.0 / len(self.style_layers)] * len(self.style_layers)

    def min_size(self) -> int:
        """16 px: the deepest layers sit behind four 2x poolings; smaller phases leave them empty."""
        return 16


def scaled_like(images: torch.Tensor, reference: torch.Tensor, size: Size) -> torch.Tensor:
    """``images`` resized by the factor that takes ``reference`` to ``size`` (style per phase)."""
    factor = size[0] / reference.shape[-2]
    height, width = images.shape[-2:]
    return resize(images, (max(1, round(height * factor)), max(1, round(width * factor))))


class Gatys:
    """Neural style transfer by optimising the image's pixels."""

    name: ClassVar[str] = "gatys"
    summary: ClassVar[str] = "image optimisation, VGG-19 content + Gram style loss"
    paper: ClassVar[str] = "Gatys, Ecker & Bethge, CVPR 2016"
    Config: ClassVar[type[GatysConfig]] = GatysConfig
    presets: ClassVar[dict[str, dict]] = {
        "paper": {},
        "smoke": {"steps": 40},
        "reference": {
            "content_weight": 5.0,
            "content_reduction": "mse",
            "style_weight": 100.0,
            "style_layer_weights": [1.0] * 5,
            "style_loss_scale": 1.0,
            "gram_norm": "chw",
            "tv_weight": 1e-3,
            "pooling": "max",
            "init": "mean",
            "steps": 1000,
        },
        "pytorch_tutorial": {
            "content_layers": ["conv2_2"],
            "content_reduction": "mse",
            "style_layers": TUTORIAL_STYLE_LAYERS,
            "style_layer_weights": [1.0] * 5,
            "style_weight": 1e6,
            "style_loss_scale": 1.0,
            "gram_norm": "chw",
            "pooling": "max",
            "init": "content",
            "clamp_each_eval": True,
            "steps": 320,
        },
    }
    needs: ClassVar[MethodNeeds] = MethodNeeds(style="pair", blends=True)
    encoders: ClassVar[tuple[str, ...]] = ("vgg19",)
    iterative: ClassVar[bool] = True

    def __init__(self, config: GatysConfig, context: MethodContext) -> None:
        self.config = config
        self.context = context
        encoder = context.encoder("vgg19").with_pooling(config.pooling).running(config.execution())
        self.loss = PerceptualLoss(encoder, self.perceptual_spec(config))

    @staticmethod
    def perceptual_spec(config: GatysConfig) -> PerceptualSpec:
        """The loss this config asks for, in the shared `PerceptualSpec` terms."""
        return PerceptualSpec(
            content_layers=config.content_layers,
            content_weights=[config.content_weight] * len(config.content_layers),
            content_reduction=config.content_reduction,
            style_layers=config.style_layers,
            style_weights=[
                config.style_weight * config.style_loss_scale * w for w in config.layer_weights()
            ],
            gram_norm=config.gram_norm,
            tv_weight=config.tv_weight,
        )

    def prepare(self, data: PrepareData) -> dict[str, list[float]]:
        """Nothing to prepare: Gatys optimises each image from scratch."""
        return {}

    def stylize(
        self,
        content: torch.Tensor,
        style: torch.Tensor,
        guides: Guides | None = None,
        seeds: Sequence[int] | None = None,
    ) -> Stylized:
        return self._optimise(
            content,
            seeds,
            lambda size: self.loss.targets(
                resize(content, size), scaled_like(style, content, size)
            ),
        )

    def stylize_blend(
        self, content: torch.Tensor, blend: StyleBlend, seeds: Sequence[int] | None = None
    ) -> Stylized:
        """Optimise towards the blend's weighted Gram targets (`blend_targets`)."""

        def targets_at(size: Size) -> Targets:
            images = tuple(scaled_like(image, content, size) for image in blend.images)
            style = blend_targets(self.loss, StyleBlend(images, blend.weights))
            return replace(self.loss.targets(resize(content, size), None), style=style)

        return self._optimise(content, seeds, targets_at)

    def _optimise(
        self,
        content: torch.Tensor,
        seeds: Sequence[int] | None,
        targets_at: Callable[[Size], Targets],
    ) -> Stylized:
        seeds = list(seeds) if seeds is not None else [self.context.seed] * content.shape[0]

        def loss_at(size: Size):
            targets = targets_at(size)
            return lambda images: self.loss(images, targets)

        result = optimize_coarse_to_fine(self.config, content, seeds, loss_at)
        return Stylized(images=result.images, curves=result.curves)

"""Ghiasi, Lee, Kudlur, Dumoulin & Shlens (BMVC 2017), "Exploring the structure of a real-time,
arbitrary neural artistic stylization network": a style-prediction network turns any style
image into the normalisation parameters of the transformer, so one network handles styles it
never saw in training.

Style prediction (magenta ``arbitrary_image_stylization_build_model.py``): Inception-v3 up to
``Mixed_6e`` (torchvision's modules and weights, trained along with the rest as magenta does),
spatial mean to 768-d, a 1x1 conv to a 100-d bottleneck (no activation), then per normalised
layer two 1x1 convs to ``beta`` and ``gamma`` (no activation; ``gamma`` is used as it is). The
transformer is magenta's ``nza_model``: `PasticheNet` with batch norm in the contract and the
predicted style norm on its other 13 layers (2 x 2758 numbers per style).

Defaults follow magenta's ``arbitrary_image_stylization_train.py``: content ``relu3_3`` weight 1,
style ``relu1_2 .. relu4_3`` weight 0.5e-3 each (Gram / (H*W), mean over entries), total
variation 1e4 in magenta's definition (half the mean squared neighbour difference, so 5e3 in
ours), VGG-16 with average pooling, Adam lr 1e-5, batch 8, 256 px content, style images resized
to 256 px for the predictor, 8,000,000 steps. Not reproduced: magenta's style augmentation and
random style sizes (off here, as in its README's small demo), slim's ReLU6 and weight decay in
Inception (torchvision's Inception uses ReLU), and magenta's 0-255 VGG input (ours is
torchvision's [0, 1] ImageNet-normalised input, so loss magnitudes differ).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from stylebench.methods.base import (
    MAX_BATCH_SIZE,
    MAX_TRAINING_STEPS,
    Guides,
    MethodContext,
    MethodNeeds,
    PrepareData,
    StyleBlend,
    Stylized,
    Weight,
)
from stylebench.methods.core.checkpoints import load_checkpoint_setting, load_strict
from stylebench.methods.core.encoders import TRAINING, Pooling
from stylebench.methods.core.inception_trunk import DEPTH, MIN_SIZE, InceptionTrunk
from stylebench.methods.core.pastiche import PasticheNet
from stylebench.methods.core.perceptual_loss import PerceptualLoss, PerceptualSpec, Targets
from stylebench.methods.core.training_loop import TrainingConfig, seeded, train_networks

STYLE_LAYERS = ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]


class GhiasiConfig(TrainingConfig):
    """Settings of arbitrary style transfer (magenta's defaults)."""

    content_layers: list[str] = Field(default_factory=lambda: ["relu3_3"])
    content_weight: Weight = 1.0
    style_layers: list[str] = Field(default_factory=lambda: list(STYLE_LAYERS))
    style_weight: Weight = 0.5e-3
    tv_weight: Weight = 5e3
    pooling: Pooling = "avg"
    bottleneck: int = Field(100, gt=0)
    style_size: int = Field(256, ge=MIN_SIZE, description="side of the predictor's style input")
    steps: int = Field(8_000_000, gt=0, le=MAX_TRAINING_STEPS)
    batch_size: int = Field(8, gt=0, le=MAX_BATCH_SIZE)
    lr: float = Field(1e-5, gt=0)


def _conv1x1(cin: int, cout: int) -> nn.Conv2d:
    """A 1x1 conv with slim's defaults: Xavier-uniform weights, zero bias."""
    conv = nn.Conv2d(cin, cout, 1)
    nn.init.xavier_uniform_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


class StylePredictor(nn.Module):
    """Style image [B, 3, S, S] in [0, 1] -> ``(gamma, beta)`` [B, C] per normalised layer."""

    def __init__(self, trunk: InceptionTrunk, depths: Sequence[int], bottleneck: int) -> None:
        super().__init__()
        self.trunk = trunk
        self.bottleneck = _conv1x1(DEPTH, bottleneck)
        self.gamma = nn.ModuleList(_conv1x1(bottleneck, c) for c in depths)
        self.beta = nn.ModuleList(_conv1x1(bottleneck, c) for c in depths)

    def embedding(self, style: torch.Tensor) -> torch.Tensor:
        """The 100-d style embedding [B, bottleneck, 1, 1]."""
        return self.bottleneck(self.trunk(style).mean(dim=(2, 3), keepdim=True))

    def forward(self, style: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        z = self.embedding(style)
        return [
            (g(z).flatten(1), b(z).flatten(1)) for g, b in zip(self.gamma, self.beta, strict=True)
        ]


class GhiasiModel(nn.Module):
    """Predictor and transformer: everything a checkpoint holds."""

    def __init__(self, trunk: InceptionTrunk, bottleneck: int) -> None:
        super().__init__()
        self.net = PasticheNet("batch")
        self.predictor = StylePredictor(trunk, self.net.norm_depths, bottleneck)

    def forward(
        self, content: torch.Tensor, style: torch.Tensor, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``content`` [B, 3, H, W] styled by ``style`` [B, 3, S, S] (pairs), or with ``weights``
        [B, K] by the weighted sum of the codes predicted from the K images of ``style``."""
        params = self.predictor(style)
        if weights is not None:
            mix = weights.to(params[0][0].dtype)
            params = [(mix @ gamma, mix @ beta) for gamma, beta in params]
        return self.net(content, params)


class Ghiasi:
    """Arbitrary style transfer: style prediction network + conditionally normalised transformer."""

    name: ClassVar[str] = "ghiasi"
    summary: ClassVar[str] = "arbitrary styles: Inception-v3 style prediction drives a transformer"
    paper: ClassVar[str] = "Ghiasi, Lee, Kudlur, Dumoulin & Shlens, BMVC 2017"
    Config: ClassVar[type[GhiasiConfig]] = GhiasiConfig
    presets: ClassVar[dict[str, dict]] = {
        "paper": {},
        "smoke": {"steps": 8, "batch_size": 2, "image_size": 32, "style_size": 80, "lr": 1e-3},
    }
    needs: ClassVar[MethodNeeds] = MethodNeeds(
        style="pair", training=True, train_styles="training", blends=True
    )
    iterative: ClassVar[bool] = False
    encoders: ClassVar[tuple[str, ...]] = ("vgg16", "inception_v3")

    def __init__(self, config: GhiasiConfig, context: MethodContext) -> None:
        self.config = config
        self.context = context
        trunk = copy.deepcopy(context.encoder("inception_v3")).requires_grad_(True)
        self.model = seeded(lambda: GhiasiModel(trunk, config.bottleneck), context.seed).to(
            context.device
        )
        spec = PerceptualSpec(
            content_layers=config.content_layers,
            content_weights=[config.content_weight] * len(config.content_layers),
            style_layers=config.style_layers,
            style_weights=[config.style_weight] * len(config.style_layers),
            content_reduction="mse",
            gram_norm="hw",
            tv_weight=config.tv_weight,
        )
        self.loss = PerceptualLoss(
            context.encoder("vgg16").with_pooling(config.pooling).running(TRAINING), spec
        )

    def _style_input(self, style: torch.Tensor) -> torch.Tensor:
        size = self.config.style_size
        if style.shape[-1] == size and style.shape[-2] == size:
            return style
        return F.interpolate(style, size=(size, size), mode="bilinear", antialias=True)

    def prepare(self, data: PrepareData) -> dict[str, list[float]]:
        """Load ``config.checkpoint`` if set, else train on ``data.training`` x ``data.styles``."""
        if load_checkpoint_setting(self):
            return {}
        device = self.context.device
        styles = data.styles.to(device)
        grams = self.loss.style_targets(styles)
        predictor_input = self._style_input(styles)

        def losses(content: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
            labels = torch.randint(styles.shape[0], (content.shape[0],), generator=generator)
            picked = labels.to(device)
            targets = Targets(
                content=self.loss.content_targets(content),
                style={name: gram[picked] for name, gram in grams.items()},
            )
            return self.loss(self.model(content, predictor_input[picked]), targets)

        return train_networks(self, data, self.model, self.model.parameters(), losses)

    @torch.no_grad()
    def stylize(
        self,
        content: torch.Tensor,
        style: torch.Tensor,
        guides: Guides | None = None,
        seeds: Sequence[int] | None = None,
    ) -> Stylized:
        """``content`` in the style predicted from ``style`` (any style image)."""
        self.model.eval()
        run = self.config.inference()
        return Stylized(images=run(self.model, content, self._style_input(style)).clamp(0, 1))

    @torch.no_grad()
    def stylize_blend(
        self, content: torch.Tensor, blend: StyleBlend, seeds: Sequence[int] | None = None
    ) -> Stylized:
        """``content`` in the weighted sum of the style codes (each layer's ``gamma`` and
        ``beta``) predicted from the blend's images; the codes are linear in the 100-d
        embedding, so this is also the weighted embedding magenta interpolates."""
        self.model.eval()
        run = self.config.inference()
        images = tuple(self._style_input(image) for image in blend.images)
        out = StyleBlend(images, blend.weights).per_image(content, lambda *x: run(self.model, *x))
        return Stylized(images=out.clamp(0, 1))

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu() for k, v in self.model.state_dict().items()}

    def load_state_dict(
        self, state: Mapping[str, torch.Tensor], source: str = "state dict"
    ) -> None:
        load_strict(self.model, state, source)
        self.model.eval()

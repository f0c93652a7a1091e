"""Dumoulin, Shlens & Kudlur (ICLR 2017), "A Learned Representation for Artistic Style":
conditional instance normalisation, one network for N styles.

Every normalisation layer of the transformer (`PasticheNet`, magenta's layout: CIN after every
conv, sigmoid output) has a ``(gamma, beta)`` pair per style; a style is a row of those tables.
Mixing rows by weights interpolates between styles at inference (``mix``, or `CIN.stylize_mix`);
a suite's blend of learned styles mixes their rows by the blend's weights (`CIN.stylize_blend`).

Defaults follow magenta's ``image_stylization_train.py``: content ``relu3_3`` (its
``vgg_16/conv3``) weight 1 as the mean squared difference, style ``relu1_2 .. relu4_3`` weight
1e-4 each as the mean over the C x C entries of the squared Gram difference with Gram = F^T F /
(H*W), VGG-16 with average pooling, Adam lr 1e-3, batch 16, 256 px, 40,000 steps; each content
image of a batch is paired with a style drawn at random. One difference remains: magenta's VGG-16
takes 0-255 mean-subtracted input, ours torchvision's [0, 1] ImageNet-normalised input, so loss
magnitudes (and the balance the weights strike) are not the same as magenta's.

Which style a `stylize` call asks for is recognised from the style image itself: the network
keeps a 16x16 thumbnail of every style it learned and picks the closest; a style image that is
none of them is an error, never a silent substitute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from stylebench.methods.base import (
    MAX_BATCH_SIZE,
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
from stylebench.methods.core.pastiche import PasticheNet
from stylebench.methods.core.perceptual_loss import PerceptualLoss, PerceptualSpec, Targets
from stylebench.methods.core.training_loop import TrainingConfig, seeded, train_networks

STYLE_LAYERS = ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]
THUMBNAIL = 16
#: Largest mean squared difference (pixels in [0, 1]) at which a thumbnail still names a style.
MATCH_TOLERANCE = 1e-3


class CINConfig(TrainingConfig):
    """Settings of conditional instance normalisation (magenta's defaults)."""

    content_layers: list[str] = Field(default_factory=lambda: ["relu3_3"])
    content_weight: Weight = 1.0
    style_layers: list[str] = Field(default_factory=lambda: list(STYLE_LAYERS))
    style_weight: Weight = 1e-4
    tv_weight: Weight = 0.0
    pooling: Pooling = "avg"
    batch_size: int = Field(16, gt=0, le=MAX_BATCH_SIZE)
    mix: list[float] | None = Field(
        None, description="style weights: every output mixes the learned styles by these"
    )

    inference_only = TrainingConfig.inference_only | {"mix"}


def thumbnails(images: torch.Tensor) -> torch.Tensor:
    """16x16 area-averaged copies: what identifies a style image whatever its size."""
    return F.adaptive_avg_pool2d(images, THUMBNAIL)


class StyleBank(nn.Module):
    """Per-style ``gamma`` (init 1) and ``beta`` (init 0) for every normalised layer."""

    def __init__(self, depths: Sequence[int], styles: int) -> None:
        super().__init__()
        self.gamma = nn.ParameterList(nn.Parameter(torch.ones(styles, c)) for c in depths)
        self.beta = nn.ParameterList(nn.Parameter(torch.zeros(styles, c)) for c in depths)
        self.register_buffer("thumbnails", torch.zeros(styles, 3, THUMBNAIL, THUMBNAIL))

    @property
    def styles(self) -> int:
        return self.thumbnails.shape[0]

    def params(self, weights: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``(gamma, beta)`` per layer for style weights [B, N] (one-hot picks, others mix)."""
        return [(weights @ g, weights @ b) for g, b in zip(self.gamma, self.beta, strict=True)]


class CINModel(nn.Module):
    """The transformer and its style bank: everything a checkpoint holds."""

    def __init__(self, net: PasticheNet, styles: int) -> None:
        super().__init__()
        self.net = net
        self.bank = StyleBank(net.norm_depths, styles)

    def forward(self, content: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return self.net(content, self.bank.params(weights))


class CIN:
    """One transformer for N styles, conditioned by per-style normalisation parameters."""

    name: ClassVar[str] = "cin"
    summary: ClassVar[str] = "one network for N styles, conditional instance norm, style mixing"
    paper: ClassVar[str] = "Dumoulin, Shlens & Kudlur, ICLR 2017"
    Config: ClassVar[type[CINConfig]] = CINConfig
    presets: ClassVar[dict[str, dict]] = {
        "paper": {},
        "smoke": {"steps": 12, "batch_size": 2, "image_size": 32},
    }
    needs: ClassVar[MethodNeeds] = MethodNeeds(
        style="pair", training=True, train_styles="all", blends=True
    )
    iterative: ClassVar[bool] = False
    encoders: ClassVar[tuple[str, ...]] = ("vgg16",)

    def __init__(self, config: CINConfig, context: MethodContext) -> None:
        self.config = config
        self.context = context
        self.model: CINModel | None = None
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

    def _build(self, styles: int) -> CINModel:
        self.model = seeded(lambda: CINModel(PasticheNet("conditional"), styles), self.context.seed)
        return self.model.to(self.context.device)

    def prepare(self, data: PrepareData) -> dict[str, list[float]]:
        """Load ``config.checkpoint`` if set, else learn every style of ``data.styles`` at once."""
        if load_checkpoint_setting(self):
            return {}
        device = self.context.device
        styles = data.styles.to(device)
        model = self._build(styles.shape[0])
        model.bank.thumbnails.copy_(thumbnails(styles))
        grams = self.loss.style_targets(styles)

        def losses(content: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
            labels = torch.randint(styles.shape[0], (content.shape[0],), generator=generator)
            weights = F.one_hot(labels, styles.shape[0]).float().to(device)
            targets = Targets(
                content=self.loss.content_targets(content),
                style={name: gram[labels.to(device)] for name, gram in grams.items()},
            )
            return self.loss(model(content, weights), targets)

        return train_networks(self, data, model, model.parameters(), losses)

    def _trained(self) -> CINModel:
        if self.model is None:
            raise RuntimeError("cin is not prepared: call prepare() or load_state_dict() first")
        return self.model

    def style_weights(self, style: torch.Tensor) -> torch.Tensor:
        """One-hot weights [B, N] naming, for each style image, the learned style it is."""
        bank = self._trained().bank
        distance = (
            (thumbnails(style)[:, None] - bank.thumbnails[None]).pow(2).flatten(2).mean(dim=2)
        )
        best, index = distance.min(dim=1)
        if (best > MATCH_TOLERANCE).any():
            raise ValueError(
                f"cin learned {bank.styles} styles and this style image is none of them "
                f"(closest thumbnail differs by {best.max().item():.3g} MSE); train it on "
                "this suite's styles"
            )
        return F.one_hot(index, bank.styles).float()

    @torch.no_grad()
    def stylize_mix(self, content: torch.Tensor, weights: Sequence[float]) -> torch.Tensor:
        """``content`` in a mix of the learned styles, one weight per style (used as given)."""
        model = self._trained()
        if len(weights) != model.bank.styles:
            raise ValueError(
                f"mix has {len(weights)} weights but cin learned {model.bank.styles} styles"
            )
        mix = torch.tensor([list(weights)], dtype=content.dtype, device=content.device)
        run = self.config.inference()
        return run(model, content, mix.expand(content.shape[0], -1)).clamp(0, 1)

    @torch.no_grad()
    def stylize(
        self,
        content: torch.Tensor,
        style: torch.Tensor,
        guides: Guides | None = None,
        seeds: Sequence[int] | None = None,
    ) -> Stylized:
        """``content`` in the learned style that ``style`` is, or in ``config.mix`` if set."""
        if self.config.mix is not None:
            return Stylized(images=self.stylize_mix(content, self.config.mix))
        model = self._trained()
        model.eval()
        weights = self.style_weights(style).to(content.device)
        return Stylized(images=self.config.inference()(model, content, weights).clamp(0, 1))

    @torch.no_grad()
    def stylize_blend(
        self, content: torch.Tensor, blend: StyleBlend, seeds: Sequence[int] | None = None
    ) -> Stylized:
        """``content`` in the blend of learned styles: the weighted sum of the parts' one-hot
        style weights, i.e. of their ``(gamma, beta)`` rows (or in ``config.mix`` if set, as
        `stylize`). Every part must be a style cin learned."""
        if self.config.mix is not None:
            return Stylized(images=self.stylize_mix(content, self.config.mix))
        model = self._trained()
        model.eval()
        weights = blend.mix([self.style_weights(image) for image in blend.images])
        return Stylized(images=self.config.inference()(model, content, weights).clamp(0, 1))

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu() for k, v in self._trained().state_dict().items()}

    def load_state_dict(
        self, state: Mapping[str, torch.Tensor], source: str = "state dict"
    ) -> None:
        """Load a cin checkpoint strictly; the number of styles comes from the file."""
        thumbs = state.get("bank.thumbnails")
        model = self._build(thumbs.shape[0] if thumbs is not None and thumbs.dim() == 4 else 1)
        load_strict(model, state, source)
        model.eval()

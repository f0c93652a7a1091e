"""Huang & Belongie (ICCV 2017), "Arbitrary Style Transfer in Real-time with Adaptive Instance
Normalization": the content's ``relu4_1`` features take each channel's mean and standard
deviation from the style's, and a decoder trained for that turns them into the image.

Networks (`methods.core.normalised_vgg`): the fixed "normalised VGG-19" to ``relu4_1`` and the
decoder that mirrors it, both laid out as github:naoto0804/pytorch-AdaIN's ``net.py``, so its
published ``decoder.pth`` loads as ``checkpoint`` and its ``vgg_normalised.pth`` as the
``vgg_normalised`` weights. Only the decoder is trained: a checkpoint is the decoder alone.
Output = decoder(alpha * AdaIN(f(c), f(s)) + (1 - alpha) * f(c)), clamped to [0, 1]; sizes that
are not a multiple of 8 come out of the decoder rounded up (the trunk pools with ``ceil_mode``)
and are cropped back.

Training: content loss = mean squared difference at ``relu4_1`` between the output's features
and the AdaIN target t; style loss = sum over ``relu1_1 .. relu4_1`` of the mean squared
difference of the channel means plus that of the standard deviations (`methods.core.moments`);
total = ``content_weight`` x content + ``style_weight`` x style. Each content image of a batch
gets a training style drawn at random.

Presets:
- ``paper``: the paper's settings: lambda = ``style_weight`` 10, Adam lr 1e-4, batch 8
  content-style pairs, 256 px crops, standard deviations as the paper defines them (variance
  over H*W). The paper states no iteration count and no schedule: both come from the authors'
  Torch code (``train.lua``), 160,000 steps with lr / (1 + 5e-5 x step).
- ``reference``: naoto0804/pytorch-AdaIN ``train.py`` / ``test.py``: the same settings, and its
  ``calc_mean_std``, which divides the variance by H*W - 1 (``unbiased_std``). With this preset
  the forward pass, style interpolation and a training step's losses are the reference code's to
  float rounding (``tests/methods/test_adain.py``).

Not reproduced: the paper's and both codes' data pipeline (the smaller side resized to 512, or
naoto0804's squash to 512 x 512, then a random 256 px crop of content and style): here content is
read at ``image_size`` (shorter side resized, centre crop) and the style set is the suite's
images at its size, one style per content image per step; the Torch code's style loss sums over
channels (weight 1e-2) where both presets take the PyTorch port's mean (weight 10); spatial
control (AdaIN on masked regions) is not offered.

Inference-only settings (not in the checkpoint's cache key): ``alpha``, the content-style
trade-off (1 in training, as in both codes), and ``preserve_colour``, the paper's colour control
(`methods.core.colour.match_colour`: the style image takes the content's colour mean and
covariance first; naoto0804's ``coral`` normalises each channel first and sums instead of
averaging, so its result depends on the image sizes). Style interpolation mixes several styles
by weights: `AdaIN.stylize_mix` in Python, and a suite's blends (`AdaIN.stylize_blend`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch
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
from stylebench.methods.core.colour import match_colour
from stylebench.methods.core.losses import mean_squared_error
from stylebench.methods.core.moments import adaptive_instance_norm, mean_std, moment_distance
from stylebench.methods.core.normalised_vgg import (
    DEEPEST,
    NETWORK,
    STYLE_LAYERS,
    NormalisedVGG,
    mirrored_decoder,
)
from stylebench.methods.core.training_loop import (
    TrainingConfig,
    inverse_time_lr,
    seeded,
    train_networks,
)

#: Style images encoded at once when `prepare` measures the training styles.
STYLE_CHUNK = 16
#: The decoder's output side is a multiple of this (three x2 up-samplings).
STRIDE = 8

Moments = dict[str, tuple[torch.Tensor, torch.Tensor]]


class AdaINConfig(TrainingConfig):
    """Settings of AdaIN (the paper's; the authors' code where the paper is silent)."""

    content_weight: Weight = 1.0
    style_weight: Weight = 10.0
    unbiased_std: bool = Field(
        False, description="divide variances by H*W - 1 as naoto0804's calc_mean_std does"
    )
    steps: int = Field(160_000, gt=0, le=MAX_TRAINING_STEPS)
    batch_size: int = Field(8, gt=0, le=MAX_BATCH_SIZE)
    lr: float = Field(1e-4, gt=0)
    lr_decay: float = Field(5e-5, ge=0, description="learning rate at step i: lr / (1 + decay i)")
    alpha: float = Field(1.0, ge=0, le=1, description="content-style trade-off (1: all style)")
    preserve_colour: bool = Field(
        False, description="give the style image the content's colours before stylizing"
    )

    inference_only = TrainingConfig.inference_only | {"alpha", "preserve_colour"}


class AdaINModel(nn.Module):
    """Encoder (frozen) and decoder: content and style images in, stylized image out."""

    def __init__(self, encoder: NormalisedVGG, unbiased: bool, alpha: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = mirrored_decoder()
        self.unbiased = unbiased
        self.alpha = alpha

    def moments(self, images: torch.Tensor, layers: Sequence[str]) -> Moments:
        """Channel mean and standard deviation of ``images`` at ``layers`` (float32)."""
        features = self.encoder(images, layers)
        return {name: mean_std(features[name].float(), self.unbiased) for name in layers}

    def target(
        self, content: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, alpha: float = 1.0
    ) -> torch.Tensor:
        """What the decoder gets: the AdaIN output blended with the content features by
        ``alpha`` (training always uses 1: ``alpha`` is not part of what a checkpoint learned)."""
        features = self.encoder(content, [DEEPEST])[DEEPEST].float()
        moved = adaptive_instance_norm(features, mean, std, self.unbiased)
        return moved * alpha + features * (1 - alpha)

    def forward(
        self, content: torch.Tensor, style: torch.Tensor, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``content`` [B, 3, H, W] in the style of ``style`` [B, 3, h, w] (pairs), or with
        ``weights`` [B, K] in the mix of the K images of ``style`` those weights give."""
        mean, std = self.moments(style, [DEEPEST])[DEEPEST]
        if weights is not None:
            mix = weights.to(mean.dtype)[:, :, None, None, None]
            mean, std = (mix * mean[None]).sum(1), (mix * std[None]).sum(1)
        return self.decoder(self.target(content, mean, std, self.alpha))


class AdaIN:
    """Arbitrary style transfer: adaptive instance normalisation of normalised-VGG features."""

    name: ClassVar[str] = "adain"
    summary: ClassVar[str] = "arbitrary styles: AdaIN matches relu4_1 means and stds, a decoder"
    paper: ClassVar[str] = "Huang & Belongie, ICCV 2017"
    Config: ClassVar[type[AdaINConfig]] = AdaINConfig
    presets: ClassVar[dict[str, dict]] = {
        "paper": {},
        "reference": {"unbiased_std": True},
        "smoke": {"steps": 10, "batch_size": 2, "image_size": 32, "lr": 1e-3},
    }
    needs: ClassVar[MethodNeeds] = MethodNeeds(
        style="pair", training=True, train_styles="training", blends=True
    )
    iterative: ClassVar[bool] = False
    encoders: ClassVar[tuple[str, ...]] = ("vgg_normalised",)

    def __init__(self, config: AdaINConfig, context: MethodContext) -> None:
        self.config = config
        self.context = context
        # A copy: channels_last converts the network's weights in place, and the worker's
        # encoder is shared with every other method that borrows it.
        encoder = copy.deepcopy(context.encoder(NETWORK))
        self.model = seeded(
            lambda: AdaINModel(encoder, config.unbiased_std, config.alpha), context.seed
        ).to(context.device)

    def _style_moments(self, styles: torch.Tensor) -> Moments:
        """Every training style's moments at the style layers, measured once."""
        with torch.no_grad():
            chunks = [
                self.model.moments(styles[i : i + STYLE_CHUNK], STYLE_LAYERS)
                for i in range(0, styles.shape[0], STYLE_CHUNK)
            ]
        return {
            name: (
                torch.cat([chunk[name][0] for chunk in chunks]),
                torch.cat([chunk[name][1] for chunk in chunks]),
            )
            for name in STYLE_LAYERS
        }

    def prepare(self, data: PrepareData) -> dict[str, list[float]]:
        """Load ``config.checkpoint`` (a decoder) if set, else train the decoder on
        ``data.training`` x ``data.styles``."""
        if load_checkpoint_setting(self):
            return {}
        config, model = self.config, self.model
        styles = self._style_moments(data.styles.to(self.context.device))

        def losses(content: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
            labels = torch.randint(data.styles.shape[0], (content.shape[0],), generator=generator)
            picked = {name: (m[labels], s[labels]) for name, (m, s) in styles.items()}
            with torch.no_grad():
                target = model.target(content, *picked[DEEPEST])
            features = model.encoder(model.decoder(target), STYLE_LAYERS)
            content_loss = mean_squared_error(features[DEEPEST], target)
            style_loss = sum(
                moment_distance(features[name], *picked[name], config.unbiased_std)
                for name in STYLE_LAYERS
            )
            total = config.content_weight * content_loss + config.style_weight * style_loss
            return {"content": content_loss, "style": style_loss, "total": total}

        return train_networks(
            self,
            data,
            model,
            model.decoder.parameters(),
            losses,
            lambda optimizer, index: inverse_time_lr(optimizer, config.lr, config.lr_decay, index),
        )

    def _run(self, content: torch.Tensor, *inputs: torch.Tensor) -> torch.Tensor:
        """The network as the speed settings say, cropped to the content's size, in [0, 1]."""
        self.model.eval()
        out = self.config.inference()(self.model, content, *inputs)
        return out[..., : content.shape[-2], : content.shape[-1]].clamp(0, 1)

    @torch.no_grad()
    def stylize(
        self,
        content: torch.Tensor,
        style: torch.Tensor,
        guides: Guides | None = None,
        seeds: Sequence[int] | None = None,
    ) -> Stylized:
        """``content`` in the style of ``style`` (any style image), ``alpha`` of the way."""
        if self.config.preserve_colour:
            style = match_colour(style, content)
        return Stylized(images=self._run(content, style))

    @torch.no_grad()
    def stylize_mix(
        self, content: torch.Tensor, styles: torch.Tensor, weights: Sequence[float]
    ) -> torch.Tensor:
        """Every image of ``content`` [B, 3, H, W] in the mix of ``styles`` [K, 3, h, w] with
        ``weights`` (K numbers, divided by their sum as the reference code does): AdaIN with the
        weighted means and standard deviations, which equals the weighted sum of the K AdaIN
        outputs that the paper decodes."""
        if len(weights) != styles.shape[0] or sum(weights) <= 0 or min(weights) < 0:
            raise ValueError(
                f"style interpolation needs one weight >= 0 per style ({styles.shape[0]}) with a "
                f"positive sum, got {list(weights)}"
            )
        if self.config.preserve_colour:
            raise ValueError("preserve_colour recolours one style per content image; not a mix")
        mix = torch.tensor(weights, dtype=torch.float64) / sum(weights)
        mix = mix.to(content.device, torch.float32).expand(content.shape[0], -1)
        return self._run(content, styles, mix)

    @torch.no_grad()
    def stylize_blend(
        self, content: torch.Tensor, blend: StyleBlend, seeds: Sequence[int] | None = None
    ) -> Stylized:
        """The paper's style interpolation (`stylize_mix`) with the blend's images and weights."""
        return Stylized(
            images=blend.per_image(content, lambda c, s, _: self.stylize_mix(c, s, blend.weights))
        )

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The decoder alone, in the reference code's layout (``1.weight`` .. ``28.bias``)."""
        return {k: v.detach().cpu() for k, v in self.model.decoder.state_dict().items()}

    def load_state_dict(
        self, state: Mapping[str, torch.Tensor], source: str = "state dict"
    ) -> None:
        load_strict(self.model.decoder, state, source)
        self.model.eval()

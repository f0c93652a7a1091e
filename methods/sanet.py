"""Park & Lee (CVPR 2019), "Arbitrary Style Transfer with Style-Attentional Networks": at
``relu4_1`` and ``relu5_1`` every content position attends to the style's positions and takes
a mix of their features; a decoder trained for that, with identity losses that ask the network
to give back an image when it is its own style, turns the merged features into the image.

Networks: the fixed "normalised VGG-19" (`methods.core.normalised_vgg`, the same encoder and
weights file as AdaIN's, read to ``relu5_1``), the two attention modules and their merge
(`methods.core.style_attention`) and the decoder that mirrors the encoder to ``relu4_1`` (the
same layout as AdaIN's), all as github:GlebSBrykin/SANET lays them out (``Eval.py`` and
``Train.ipynb``), so its published ``decoder`` and ``transformer`` files load (`read_published`)
and its ``vgg_normalised`` file is the ``vgg_normalised`` weights. The attention modules and the
decoder are trained; a checkpoint holds both, keys prefixed ``transformer.`` and ``decoder.``.
Output = decoder(T(c, s)), clamped to [0, 1] and cropped to the content's size; with ``alpha``
< 1, decoder(alpha T(c, s) + (1 - alpha) T(c, c)), the paper's content-style trade-off at test
time (T(c, c): the content image as its own style).

Training, for content c, style s and output o = decoder(T(c, s)), with phi_i the encoder's
``relu1_1 .. relu5_1`` and norm the per-channel mean-variance normalisation:
content = MSE(norm phi_4(o), norm phi_4(c)) + the same at ``relu5_1``; style = sum over the five
layers of the MSE of channel means plus that of standard deviations (`methods.core.moments`);
identity1 = MSE(I_cc, c) + MSE(I_ss, s) with I_xx = decoder(T(x, x)); identity2 = sum over the
five layers of MSE(phi_i(I_cc), phi_i(c)) + MSE(phi_i(I_ss), phi_i(s)); total =
``content_weight`` x content + ``style_weight`` x style + ``identity1_weight`` x identity1 +
``identity2_weight`` x identity2. Each content image of a batch gets a training style drawn at
random.

Presets:
- ``paper``: lambda_c 1, lambda_s 3, lambda_identity1 50 (the pixel term), lambda_identity2 1
  (the feature term), Adam lr 1e-4, batch 5 content-style pairs, 256 px, and standard
  deviations with the variance over H*W: the paper writes mu and sigma without defining them,
  and takes its style loss from AdaIN, whose paper defines them so. The paper states no
  iteration count and no schedule: both come from the reference code (``Train.ipynb``: 160,000
  steps, lr / (1 + 5e-5 x step)).
- ``reference``: GlebSBrykin/SANET's ``Train.ipynb`` / ``Eval.py``: the same settings, and its
  ``calc_mean_std``, which divides the variance by H*W - 1 (``unbiased_std``), in the attention,
  the content loss and the style loss alike. With this preset the forward pass and a training
  step's losses are the reference code's to float rounding (``tests/methods/test_sanet.py``).

Not reproduced: the data pipeline (the paper's smaller side resized to 512, the code's squash to
512 x 512, then random 256 px crops of content and style from MS-COCO and WikiArt): here content
is read at ``image_size`` (shorter side resized, centre crop) and the style set is the suite's
images at its size, one style per content image per step; the published files were saved at
iteration 500,000 (their names in ``Eval.py``), more than the notebook's default 160,000; the
code's repeated stylization (``Eval.py``'s ``steps``); the paper's style interpolation and
spatial control.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import torch
from pydantic import Field
from torch import nn

from stylebench.methods.base import (
    MAX_BATCH_SIZE,
    MAX_IMAGE_SIZE,
    MAX_TRAINING_STEPS,
    Guides,
    MethodContext,
    MethodNeeds,
    PrepareData,
    StyleBlend,
    Stylized,
    Weight,
)
from stylebench.methods.core.checkpoints import (
    CheckpointMismatch,
    combine_published,
    load_checkpoint_setting,
    load_strict,
)
from stylebench.methods.core.identity_losses import LAYERS, identity_losses
from stylebench.methods.core.normalised_vgg import (
    NETWORK,
    SMALLEST,
    NormalisedVGG,
    check_relu5_1_size,
    mirrored_decoder,
)
from stylebench.methods.core.style_attention import Transform
from stylebench.methods.core.training_loop import (
    TrainingConfig,
    inverse_time_lr,
    seeded,
    train_networks,
)

#: The layers the attention reads.
ATTENDED = ("relu4_1", "relu5_1")

Features = dict[str, torch.Tensor]


class SANetConfig(TrainingConfig):
    """Settings of SANet (the paper's; the reference code's where the paper is silent)."""

    content_weight: Weight = 1.0
    style_weight: Weight = 3.0
    identity1_weight: Weight = Field(50.0, description="lambda_identity1: images I_cc, I_ss")
    identity2_weight: Weight = Field(1.0, description="lambda_identity2: their features")
    unbiased_std: bool = Field(
        False, description="divide variances by H*W - 1 as the reference code's calc_mean_std"
    )
    steps: int = Field(160_000, gt=0, le=MAX_TRAINING_STEPS)
    batch_size: int = Field(5, gt=0, le=MAX_BATCH_SIZE)
    image_size: int = Field(
        256, ge=SMALLEST, le=MAX_IMAGE_SIZE, description="training crop of the content images"
    )
    lr: float = Field(1e-4, gt=0)
    lr_decay: float = Field(5e-5, ge=0, description="learning rate at step i: lr / (1 + decay i)")
    alpha: float = Field(1.0, ge=0, le=1, description="content-style trade-off (1: all style)")

    inference_only = TrainingConfig.inference_only | {"alpha"}

    def check_image_size(self, size: int) -> None:
        check_relu5_1_size("sanet", size)


def _check_size(images: torch.Tensor) -> None:
    check_relu5_1_size("sanet", max(images.shape[-2:]))


class SANetModel(nn.Module):
    """Encoder (frozen), attention modules and decoder: content and style in, image out."""

    def __init__(self, encoder: NormalisedVGG, unbiased: bool, alpha: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.transformer = Transform(unbiased)
        self.decoder = mirrored_decoder()
        self.alpha = alpha

    def encode(self, images: torch.Tensor, layers: Sequence[str] = ATTENDED) -> Features:
        return self.encoder(images, layers)

    def transform(self, content: Features, style: Features) -> torch.Tensor:
        """T(c, s): the merged attention features of encoded content and style."""
        return self.transformer(
            content["relu4_1"], style["relu4_1"], content["relu5_1"], style["relu5_1"]
        )

    def decode(self, features: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """The decoder's image cropped to the size of ``like`` (it comes out a multiple of 8)."""
        return self.decoder(features)[..., : like.shape[-2], : like.shape[-1]]

    def forward(
        self, content: torch.Tensor, style: torch.Tensor, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``content`` [B, 3, H, W] in the style of ``style`` [B, 3, h, w] (pairs), or with
        ``weights`` [B, K] in the blend of the K images of ``style``: the weighted sum of the
        K attention outputs T(c, s_k), decoded (as AdaIN interpolates its targets)."""
        own = self.encode(content)
        if weights is None:
            features = self.transform(own, self.encode(style))
        else:
            encoded = self.encode(style)
            each = [
                {name: f[k : k + 1].expand(len(content), -1, -1, -1) for name, f in encoded.items()}
                for k in range(style.shape[0])
            ]
            transformed = [self.transform(own, styled) for styled in each]
            mix = weights.to(transformed[0].dtype)
            features = sum(mix[:, k, None, None, None] * t for k, t in enumerate(transformed))
        if self.alpha < 1:
            features = self.alpha * features + (1 - self.alpha) * self.transform(own, own)
        return self.decode(features, content)


class SANet:
    """Arbitrary style transfer: style attention at relu4_1 and relu5_1, a decoder."""

    name: ClassVar[str] = "sanet"
    summary: ClassVar[str] = "arbitrary styles: style attention at relu4_1 and relu5_1, a decoder"
    paper: ClassVar[str] = "Park & Lee, CVPR 2019"
    Config: ClassVar[type[SANetConfig]] = SANetConfig
    presets: ClassVar[dict[str, dict]] = {
        "paper": {},
        "reference": {"unbiased_std": True},
        "smoke": {"steps": 5, "batch_size": 2, "image_size": 32, "lr": 1e-3},
    }
    needs: ClassVar[MethodNeeds] = MethodNeeds(
        style="pair", training=True, train_styles="training", blends=True
    )
    iterative: ClassVar[bool] = False
    encoders: ClassVar[tuple[str, ...]] = ("vgg_normalised",)

    def __init__(self, config: SANetConfig, context: MethodContext) -> None:
        self.config = config
        self.context = context
        # A copy: channels_last converts the network's weights in place, and the worker's
        # encoder is shared with every other method that borrows it.
        encoder = copy.deepcopy(context.encoder(NETWORK))
        self.model = seeded(
            lambda: SANetModel(encoder, config.unbiased_std, config.alpha), context.seed
        ).to(context.device)

    def prepare(self, data: PrepareData) -> dict[str, list[float]]:
        """Load ``config.checkpoint`` (attention modules and decoder) if set, else train them on
        ``data.training`` x ``data.styles``."""
        if load_checkpoint_setting(self):
            return {}
        _check_size(data.styles)
        config, model = self.config, self.model
        styles = data.styles.to(self.context.device)

        def losses(content: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
            labels = torch.randint(styles.shape[0], (content.shape[0],), generator=generator)
            return self.losses(content, styles[labels.to(styles.device)])

        return train_networks(
            self,
            data,
            model,
            [*model.transformer.parameters(), *model.decoder.parameters()],
            losses,
            lambda optimizer, index: inverse_time_lr(optimizer, config.lr, config.lr_decay, index),
        )

    def losses(self, content: torch.Tensor, style: torch.Tensor) -> dict[str, torch.Tensor]:
        """A training step's loss terms per image, [B] each, before the update
        (`methods.core.identity_losses`)."""
        model = self.model
        return identity_losses(
            lambda images: model.encode(images, LAYERS),
            lambda a, b: model.decode(model.transform(a[1], b[1]), a[0]),
            content,
            style,
            self.config,
        )

    @torch.no_grad()
    def stylize(
        self,
        content: torch.Tensor,
        style: torch.Tensor,
        guides: Guides | None = None,
        seeds: Sequence[int] | None = None,
    ) -> Stylized:
        """``content`` in the style of ``style`` (any style image), ``alpha`` of the way."""
        _check_size(content)
        _check_size(style)
        self.model.eval()
        out = self.config.inference()(self.model, content, style)
        return Stylized(images=out.clamp(0, 1))

    @torch.no_grad()
    def stylize_blend(
        self, content: torch.Tensor, blend: StyleBlend, seeds: Sequence[int] | None = None
    ) -> Stylized:
        """``content`` in the blend: the weighted sum of T(c, s_k) over its images, decoded."""
        _check_size(content)
        for image in blend.images:
            _check_size(image)
        self.model.eval()
        run = self.config.inference()
        return Stylized(images=blend.per_image(content, lambda *x: run(self.model, *x)).clamp(0, 1))

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The attention modules and the decoder, each in the reference code's layout under a
        prefix (``transformer.sanet4_1.f.weight``, ..., ``decoder.28.bias``)."""
        return {
            f"{part}.{key}": value.detach().cpu()
            for part in ("transformer", "decoder")
            for key, value in getattr(self.model, part).state_dict().items()
        }

    def load_state_dict(
        self, state: Mapping[str, torch.Tensor], source: str = "state dict"
    ) -> None:
        """Strictly; a mismatch (say, one of the reference code's two files as it is) says how
        the published files become one checkpoint."""
        model = self.model
        trained = nn.ModuleDict({"transformer": model.transformer, "decoder": model.decoder})
        try:
            load_strict(trained, state, source)
        except CheckpointMismatch as exc:
            raise CheckpointMismatch(
                f"{exc} (a sanet checkpoint holds transformer.* and decoder.* keys: "
                "stylebench.methods.sanet.read_published makes one of the reference code's "
                "decoder and transformer files)"
            ) from None
        model.eval()


def read_published(decoder: Path, transformer: Path) -> dict[str, torch.Tensor]:
    """GlebSBrykin/SANET's two published files (``decoder_iter_500000.pth``,
    ``transformer_iter_500000.pth``) as one sanet checkpoint: each is read weights-only and
    checked strictly against its own network first, so an error names the file that does not
    fit. Save the result with ``torch.save`` and pass it as ``--checkpoint sanet=PATH``."""
    with torch.device("meta"):  # key names and shapes only
        networks = {"decoder": mirrored_decoder(), "transformer": Transform(unbiased=True)}
    return combine_published(networks, (decoder, transformer))

"""Deng et al. (CVPR 2022), "StyTr^2: Image Style Transfer with Transformers": content and style
images cut into 8x8 patch tokens, each sequence through its own transformer encoder (the
content's with the content-aware positional encoding, CAPE), a transformer decoder in which the
content tokens attend to the style's, and a CNN decoder that turns the tokens back into the
image. No VGG features enter the network: the encoder is only the loss network, so the content
keeps its details instead of being rebuilt from deep features.

Networks: the fixed "normalised VGG-19" (`methods.core.normalised_vgg`, the same encoder and
weights file as AdaIN's, SANet's and AdaAttN's, read to ``relu5_1``) for the losses, and the
trained patch embedding, transformer and CNN decoder (`methods.core.style_transformer`; the CNN
decoder is AdaIN's mirrored decoder, the reference's ``decoder`` module for module), all as
github:diyiiyiii/StyTR-2 lays them out (``models/StyTR.py``, ``models/transformer.py``, run with
the defaults ``train.py`` and ``test.py`` build them with), so its published
``embedding_iter_160000.pth``, ``transformer_iter_160000.pth`` and ``decoder_iter_160000.pth``
load (`read_published`) and its ``vgg_normalised`` file is the ``vgg_normalised`` weights. A
checkpoint holds the three trained networks, keys prefixed ``embedding.``, ``transformer.`` and
``decoder.``. Output = decoder(T(embed(c), embed(s))), clamped to [0, 1]. Image sides must be
multiples of 8 (the patch size: the output is built from whole patches) and at least 24 px (the
losses read ``relu5_1``). The reference has no content-style trade-off (``test.py``'s ``--a``
is never used), so there is none here.

Training: SANet's losses as they are (`methods.core.identity_losses`: content at ``relu4_1``
and ``relu5_1`` on mean-variance normalised features, style as channel means and deviations at
``relu1_1 .. relu5_1``, identity1 on the pixels of I_cc = G(c, c) and I_ss = G(s, s), identity2
on their features); total = ``content_weight`` x content + ``style_weight`` x style +
``identity1_weight`` x identity1 + ``identity2_weight`` x identity2. Each content image of a
batch gets a training style drawn at random.

Presets:
- ``paper``: lambda_c 7, lambda_s 10, lambda_id1 70, lambda_id2 1, Adam lr 5e-4 with the
  warm-up (lr / 10 rising by 3e-4 of it a step for 10,000 steps, to 2e-4) and then
  2e-4 / (1 + 1e-5 (step - 10,000)), batch 8, 160,000 steps, 256 px, dropout 0.1; standard
  deviations with the variance over H*W (the paper takes its style loss from AdaIN, whose paper
  defines them so). The weights, schedule and budget are ``train.py``'s defaults, which the
  paper's text was not checked against here.
- ``reference``: github:diyiiyiii/StyTR-2's ``train.py`` and ``function.py``, where they
  differ: its ``calc_mean_std``, which divides the variance by H*W - 1 (``unbiased_std``), in
  the content and the style loss alike. With this preset (and dropout off: eval mode, or
  ``dropout`` 0 for a training step) the forward pass and a training step's losses are the
  reference code's to float rounding (``tests/methods/test_stytr2.py``).

Where the code cannot run, this does what it evidently means: the code scales CAPE to the
style's token grid and adds it to the content's (so content and style must be the same size)
and folds the output tokens into a square grid (``H = sqrt(N)``, so wider-than-tall content
comes out scrambled); here CAPE is scaled to the content's grid and the tokens fold back into
it, whatever the style's size. Equal sizes and square content give the code's result.

Not reproduced: the data pipeline (the code's resize to 512 x 512 and random 256 px crops of
MS-COCO and WikiArt, one style image per content image): here content is read at
``image_size`` (shorter side resized, centre crop) and the style set is the suite's images at
its size; training on two GPUs (``DataParallel``, which changes nothing computed); the code's
``sine``/``learned`` positional-embedding options, which its model never reads; the
``normalize_before`` (pre-norm) variant, which ``train.py`` does not use.
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
from stylebench.methods.core.style_transformer import PATCH, PatchEmbed, Transformer
from stylebench.methods.core.training_loop import (
    TrainingConfig,
    seeded,
    train_networks,
    warmup_inverse_time_lr,
)

#: The trained networks, in the order (and with the names) of the reference's files.
PARTS = ("embedding", "transformer", "decoder")


def check_size(size: int) -> None:
    """Refuse an image side the network cannot take: under `SMALLEST` (the losses' relu5_1
    would be one position) or not a whole number of 8 px patches (the output is built from
    whole patches, so it would not be the content's size)."""
    check_relu5_1_size("stytr2", size)
    if size % PATCH:
        raise ValueError(
            f"stytr2 needs image sides that are multiples of {PATCH} px (its patch size), "
            f"got {size}"
        )


def _check_images(images: torch.Tensor) -> None:
    for side in images.shape[-2:]:
        check_size(side)


class StyTr2Config(TrainingConfig):
    """Settings of StyTr^2 (the reference code's ``train.py`` defaults)."""

    content_weight: Weight = Field(7.0, description="lambda_c")
    style_weight: Weight = Field(10.0, description="lambda_s")
    identity1_weight: Weight = Field(70.0, description="lambda_id1: images I_cc, I_ss")
    identity2_weight: Weight = Field(1.0, description="lambda_id2: their features")
    unbiased_std: bool = Field(
        False, description="divide variances by H*W - 1 as the reference code's calc_mean_std"
    )
    dropout: float = Field(0.1, ge=0, lt=1, description="the transformer's dropout (training)")
    steps: int = Field(160_000, gt=0, le=MAX_TRAINING_STEPS)
    batch_size: int = Field(8, gt=0, le=MAX_BATCH_SIZE)
    image_size: int = Field(
        256, ge=SMALLEST, le=MAX_IMAGE_SIZE, description="training crop of the content images"
    )
    lr: float = Field(5e-4, gt=0, description="the warm-up starts at lr / 10")
    warmup_steps: int = Field(10_000, ge=0, description="steps of the rising learning rate")
    lr_decay: float = Field(1e-5, ge=0, description="after warm-up: peak / (1 + decay x steps)")

    def check_image_size(self, size: int) -> None:
        check_size(size)


class StyTr2Model(nn.Module):
    """Encoder (frozen, the loss network), patch embedding, transformer and CNN decoder:
    content and style in, image out."""

    def __init__(self, encoder: NormalisedVGG, dropout: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.embedding = PatchEmbed()
        self.transformer = Transformer(dropout)
        self.decoder = mirrored_decoder()

    def encode(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.encoder(images, LAYERS)

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """``content`` [B, 3, H, W] in the style of ``style`` [B, 3, h, w] (pairs)."""
        return self.decoder(self.transformer(self.embedding(content), self.embedding(style)))


class StyTr2:
    """Arbitrary style transfer: transformer encoders for content and style patches, a
    transformer decoder, a CNN decoder."""

    name: ClassVar[str] = "stytr2"
    summary: ClassVar[str] = (
        "arbitrary styles: transformers over 8x8 patches of content and style, a CNN decoder"
    )
    paper: ClassVar[str] = "Deng et al., CVPR 2022"
    Config: ClassVar[type[StyTr2Config]] = StyTr2Config
    presets: ClassVar[dict[str, dict]] = {
        "paper": {},
        "reference": {"unbiased_std": True},
        "smoke": {"steps": 3, "batch_size": 2, "image_size": 32, "lr": 1e-3, "warmup_steps": 0},
    }
    needs: ClassVar[MethodNeeds] = MethodNeeds(style="pair", training=True, train_styles="training")
    iterative: ClassVar[bool] = False
    encoders: ClassVar[tuple[str, ...]] = ("vgg_normalised",)

    def __init__(self, config: StyTr2Config, context: MethodContext) -> None:
        self.config = config
        self.context = context
        # A copy: channels_last converts the network's weights in place, and the worker's
        # encoder is shared with every other method that borrows it.
        encoder = copy.deepcopy(context.encoder(NETWORK))
        self.model = seeded(lambda: StyTr2Model(encoder, config.dropout), context.seed).to(
            context.device
        )

    def trained(self) -> nn.ModuleDict:
        """The networks training updates and a checkpoint holds."""
        return nn.ModuleDict({part: getattr(self.model, part) for part in PARTS})

    def prepare(self, data: PrepareData) -> dict[str, list[float]]:
        """Load ``config.checkpoint`` (the three trained networks) if set, else train them on
        ``data.training`` x ``data.styles``."""
        if load_checkpoint_setting(self):
            return {}
        _check_images(data.styles)
        config = self.config
        styles = data.styles.to(self.context.device)

        def losses(content: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
            labels = torch.randint(styles.shape[0], (content.shape[0],), generator=generator)
            return self.losses(content, styles[labels.to(styles.device)])

        def schedule(optimizer: torch.optim.Optimizer, index: int) -> None:
            warmup_inverse_time_lr(
                optimizer, config.lr, config.warmup_steps, config.lr_decay, index
            )

        return train_networks(self, data, self.model, self.trained().parameters(), losses, schedule)

    def losses(self, content: torch.Tensor, style: torch.Tensor) -> dict[str, torch.Tensor]:
        """A training step's loss terms per image, [B] each, before the update
        (`methods.core.identity_losses`)."""
        model = self.model
        return identity_losses(
            model.encode, lambda a, b: model(a[0], b[0]), content, style, self.config
        )

    @torch.no_grad()
    def stylize(
        self,
        content: torch.Tensor,
        style: torch.Tensor,
        guides: Guides | None = None,
        seeds: Sequence[int] | None = None,
    ) -> Stylized:
        """``content`` in the style of ``style`` (any style image)."""
        _check_images(content)
        _check_images(style)
        self.model.eval()
        out = self.config.inference()(self.model, content, style)
        return Stylized(images=out.clamp(0, 1))

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The three trained networks, each in the reference code's layout under a prefix
        (``embedding.proj.weight``, ``transformer.encoder_c.layers.0.self_attn.in_proj_weight``,
        ..., ``decoder.28.bias``)."""
        return {key: value.detach().cpu() for key, value in self.trained().state_dict().items()}

    def load_state_dict(
        self, state: Mapping[str, torch.Tensor], source: str = "state dict"
    ) -> None:
        """Strictly; a mismatch (say, one of the reference code's files as it is) says how the
        published files become one checkpoint."""
        try:
            load_strict(self.trained(), state, source)
        except CheckpointMismatch as exc:
            raise CheckpointMismatch(
                f"{exc} (a stytr2 checkpoint holds embedding.*, transformer.* and decoder.* "
                "keys: stylebench.methods.stytr2.read_published makes one of the reference "
                "code's embedding, transformer and decoder files)"
            ) from None
        self.model.eval()


def read_published(embedding: Path, transformer: Path, decoder: Path) -> dict[str, torch.Tensor]:
    """github:diyiiyiii/StyTR-2's three published files (``embedding_iter_160000.pth``,
    ``transformer_iter_160000.pth``, ``decoder_iter_160000.pth``, the Google Drive links in its
    README) as one stytr2 checkpoint: each is read weights-only and checked strictly against
    its own network first, so an error names the file that does not fit. Save the result with
    ``torch.save`` and pass it as ``--checkpoint stytr2=PATH``."""
    with torch.device("meta"):  # key names and shapes only
        networks = {
            "embedding": PatchEmbed(),
            "transformer": Transformer(),
            "decoder": mirrored_decoder(),
        }
    return combine_published(networks, (embedding, transformer, decoder))

"""Li et al. (NeurIPS 2017), "Universal Style Transfer via Feature Transforms": no network
learns a style. Five decoders are trained only to invert the encoder (image reconstruction) at
``relu1_1`` .. ``relu5_1``; stylizing whitens the content's features (centred, then multiplied by
the inverse square root of their covariance) and colours them with the style's covariance and
mean (WCT), level by level from ``relu5_1`` down to ``relu1_1``, each level's decoded image being
the next level's content.

Networks: the fixed "normalised VGG-19" (`methods.core.normalised_vgg`, the same encoder and
weights file as AdaIN's, read to ``relu5_1``; the authors' code loads slices of a network of
that layout, ``vgg_normalised_conv{k}_1``, whose weights were not compared with naoto0804's
file here) and five decoders, each the mirror of the trunk to its layer
(`methods.core.normalised_vgg.mirrored_decoder`: 2, 9, 16, 29 and 42 modules). The authors
(github:Yijunmaverick/UniversalStyleTransfer) publish Torch ``.t7`` files, which
github:sunshineatnoon/PytorchWCT reads into hand-written modules; the published PyTorch layout
here is github:pietrocarbo/deep-transfer's ``models/autoencoder_vgg19/vgg19_{k}/
feature_invertor_conv{k}_1.pth`` (the ``.t7`` files converted to ``nn.Sequential`` state dicts
with integer keys, ``1.weight`` .. ``41.bias`` for ``relu5_1``), which `read_published` makes one
checkpoint of. A checkpoint holds the five decoders, keys prefixed ``decoder1.`` .. ``decoder5.``
(``decoder{k}`` inverts ``relu{k}_1``).

WCT, for one image's content features f_c [C, N] and style features f_s [C, M], in float64
whatever the input's dtype, as the authors' ``feature_wct``: centre each; covariances
f f^T / (N - 1) (the code's normalisation; the paper writes f f^T); eigendecompositions
E D E^T, dropping eigenvalues below 1e-5 (``THRESHOLD``, the code's); whitened = E_c D_c^-1/2
E_c^T f_c; coloured = E_s D_s^1/2 E_s^T whitened + mean(f_s); the decoder gets
``alpha`` x coloured + (1 - alpha) x f_c. Output = the last level's decoded image, each level's
image cropped to the content's size (a decoder's output is a multiple of 2^(k-1)), clamped to
[0, 1] at the end only (the reference feeds each level's unclamped image on).

Training: each decoder k, for content image I, L_k = MSE(D_k(phi_k(I)), I) + ``feature_weight``
x MSE(phi_k(D_k(phi_k(I))), phi_k(I)), the paper's ||I_o - I_i||^2 + lambda ||Phi(I_o) -
Phi(I_i)||^2 with each squared norm as a mean over its elements; total = the sum over the five
decoders (independent networks: one optimiser on the sum trains each on its own loss). No style
image is used (``train_styles="none"``): every style it stylizes is one it never saw.

Presets:
- ``paper``: lambda 1, all five levels coarse to fine, ``alpha`` 1 (the transform as the paper
  defines it). The paper states no optimiser, batch, size, schedule or step count, and the
  authors publish no training code: these are taken from AdaIN's Torch ``train.lua`` (the code
  base the authors' repository ships and whose decoder layout theirs shares): Adam lr 1e-4 with
  lr / (1 + 5e-5 x step), batch 8, 256 px, 160,000 steps.
- ``reference``: the authors' ``test_wct.lua`` where it differs: ``alpha`` 0.6 (its default).
  Its SVD runs in float32 (PytorchWCT and deep-transfer use float64, as here).

Not reproduced: the training data (MS-COCO): here the suite's training content at
``image_size`` (shorter side resized, centre crop); github:sunshineatnoon/PytorchWCT adds the
identity to the content covariance before its SVD (the authors' code and deep-transfer do not,
nor does this); the paper's other uses (texture synthesis from noise, spatial control with
masks, the patch swap at ``relu5_1``). Its interpolation between styles is here (`WCT.
stylize_blend`, the suite's blends): alpha (sum_k w_k WCT(f_c, f_s_k)) + (1 - alpha) f_c.

Inference-only settings (not in the checkpoint's cache key): ``alpha`` and ``levels`` (the
decoders are trained for every level whatever is stylized with).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar, Literal

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
from stylebench.methods.core.inference import memory_order_of
from stylebench.methods.core.losses import mean_squared_error
from stylebench.methods.core.normalised_vgg import (
    NETWORK,
    SMALLEST,
    NormalisedVGG,
    check_relu5_1_size,
    mirrored_decoder,
)
from stylebench.methods.core.training_loop import (
    TrainingConfig,
    inverse_time_lr,
    seeded,
    train_networks,
)

#: The levels, coarse to fine: the order the reference stylizes in.
LEVELS = ("relu5_1", "relu4_1", "relu3_1", "relu2_1", "relu1_1")
#: The decoder of each level, named as the reference names them (``decoder{k}`` for relu{k}_1).
PARTS = {layer: f"decoder{layer[4]}" for layer in LEVELS}
#: Eigenvalues below this are dropped (the reference's 0.00001).
THRESHOLD = 1e-5

Level = Literal["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]


class WCTConfig(TrainingConfig):
    """Settings of WCT (the paper's; AdaIN's train.lua where the paper is silent)."""

    feature_weight: Weight = Field(1.0, description="lambda: the feature reconstruction loss")
    steps: int = Field(160_000, gt=0, le=MAX_TRAINING_STEPS)
    batch_size: int = Field(8, gt=0, le=MAX_BATCH_SIZE)
    image_size: int = Field(
        256, ge=SMALLEST, le=MAX_IMAGE_SIZE, description="training crop of the content images"
    )
    lr: float = Field(1e-4, gt=0)
    lr_decay: float = Field(5e-5, ge=0, description="learning rate at step i: lr / (1 + decay i)")
    alpha: float = Field(1.0, ge=0, le=1, description="content-style trade-off (1: all style)")
    levels: tuple[Level, ...] = Field(
        LEVELS, min_length=1, description="levels stylized, in this order (coarse to fine)"
    )

    inference_only = TrainingConfig.inference_only | {"alpha", "levels"}

    def check_image_size(self, size: int) -> None:
        check_relu5_1_size("wct", size)


def _whitening_pair(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For [C, N] float64 features: their mean [C, 1] and the symmetric square root of their
    covariance (divided by N - 1) and its inverse, over the eigenvalues of at least `THRESHOLD`
    (the others dropped, as the reference truncates its SVD)."""
    mean = features.mean(dim=1, keepdim=True)
    centred = features - mean
    values, vectors = torch.linalg.eigh(centred @ centred.T / (features.shape[1] - 1))
    keep = values >= THRESHOLD
    safe = torch.where(keep, values, torch.ones_like(values))
    root = torch.where(keep, safe.sqrt(), torch.zeros_like(values))
    inverse = torch.where(keep, safe.rsqrt(), torch.zeros_like(values))
    return mean, (vectors * root) @ vectors.T, (vectors * inverse) @ vectors.T


def whiten_colour(content: torch.Tensor, style: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """The WCT of content features [B, C, H, W] to style features [B, C, h, w] (pairs), blended
    with the content by ``alpha``; image by image in float64 (eigendecompositions in bfloat16
    or float32 lose the small eigenvalues whitening divides by), returned in the content's
    dtype and memory order."""
    out = []
    with torch.autocast(content.device.type, enabled=False):
        for own, their in zip(content, style, strict=True):
            f_c, f_s = own.flatten(1).double(), their.flatten(1).double()
            c_mean, _, c_inverse = _whitening_pair(f_c)
            s_mean, s_root, _ = _whitening_pair(f_s)
            coloured = s_root @ (c_inverse @ (f_c - c_mean)) + s_mean
            out.append((alpha * coloured + (1 - alpha) * f_c).reshape(own.shape))
    return memory_order_of(torch.stack(out).to(content.dtype), content)


def _decoders() -> dict[str, nn.Sequential]:
    """The five decoders, named as in a checkpoint, finest first (``decoder1`` .. ``decoder5``)."""
    return {PARTS[layer]: mirrored_decoder(layer) for layer in reversed(LEVELS)}


class WCTModel(nn.Module):
    """Encoder (frozen) and the five decoders: content and style images in, image out."""

    def __init__(self, encoder: NormalisedVGG, config: WCTConfig) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoders = nn.ModuleDict(_decoders())
        self.alpha, self.levels = config.alpha, config.levels

    def decode(self, layer: str, features: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``layer``'s decoder on ``features``, cropped to the size of ``like``."""
        image = self.decoders[PARTS[layer]](features)
        return image[..., : like.shape[-2], : like.shape[-1]]

    def forward(
        self, content: torch.Tensor, style: torch.Tensor, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``content`` [B, 3, H, W] in the style of ``style`` [B, 3, h, w] (pairs): WCT at each
        of ``levels`` in turn, the image decoded at one level encoded again at the next. With
        ``weights`` [B, K], in the blend of the K images of ``style``: at each level the
        weighted sum of the K transformed features (the paper's style interpolation)."""
        styles = self.encoder(style, self.levels)
        image = content
        for layer in self.levels:
            own = self.encoder(image, [layer])[layer]
            if weights is None:
                features = whiten_colour(own, styles[layer], self.alpha)
            else:
                each = [
                    whiten_colour(
                        own, styles[layer][k : k + 1].expand(len(own), -1, -1, -1), self.alpha
                    )
                    for k in range(style.shape[0])
                ]
                mix = weights.to(own.dtype)
                features = sum(mix[:, k, None, None, None] * f for k, f in enumerate(each))
            image = self.decode(layer, features, content)
        return image


class WCT:
    """Universal style transfer: whitening and colouring at five levels, reconstruction decoders."""

    name: ClassVar[str] = "wct"
    summary: ClassVar[str] = (
        "universal styles: whitening and colouring of relu5_1..relu1_1 features, 5 decoders"
    )
    paper: ClassVar[str] = "Li et al., NeurIPS 2017"
    Config: ClassVar[type[WCTConfig]] = WCTConfig
    presets: ClassVar[dict[str, dict]] = {
        "paper": {},
        "reference": {"alpha": 0.6},
        "smoke": {"steps": 5, "batch_size": 2, "image_size": 32, "lr": 1e-3},
    }
    needs: ClassVar[MethodNeeds] = MethodNeeds(
        style="pair", training=True, train_styles="none", blends=True
    )
    iterative: ClassVar[bool] = False
    encoders: ClassVar[tuple[str, ...]] = ("vgg_normalised",)

    def __init__(self, config: WCTConfig, context: MethodContext) -> None:
        self.config = config
        self.context = context
        # A copy: channels_last converts the network's weights in place, and the worker's
        # encoder is shared with every other method that borrows it.
        encoder = copy.deepcopy(context.encoder(NETWORK))
        self.model = seeded(lambda: WCTModel(encoder, config), context.seed).to(context.device)

    def prepare(self, data: PrepareData) -> dict[str, list[float]]:
        """Load ``config.checkpoint`` (the five decoders) if set, else train them to reconstruct
        ``data.training`` (``data.styles`` is not used: no style is learnt)."""
        if load_checkpoint_setting(self):
            return {}
        config, model = self.config, self.model
        return train_networks(
            self,
            data,
            model,
            model.decoders.parameters(),
            lambda content, _: self.losses(content),
            lambda optimizer, index: inverse_time_lr(optimizer, config.lr, config.lr_decay, index),
        )

    def losses(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """A training step's loss terms per image, [B] each: pixel and feature reconstruction
        summed over the five decoders, and the total."""
        model = self.model
        with torch.no_grad():
            features = model.encoder(images, LEVELS)
        pixel = feature = torch.zeros(images.shape[0], device=images.device)
        for layer in LEVELS:
            output = model.decode(layer, features[layer], images)
            again = model.encoder(output, [layer])[layer]
            pixel = pixel + mean_squared_error(output, images)
            feature = feature + mean_squared_error(again, features[layer])
        total = pixel + self.config.feature_weight * feature
        return {"pixel": pixel, "feature": feature, "total": total}

    @torch.no_grad()
    def stylize(
        self,
        content: torch.Tensor,
        style: torch.Tensor,
        guides: Guides | None = None,
        seeds: Sequence[int] | None = None,
    ) -> Stylized:
        """``content`` in the style of ``style`` (any style image), ``alpha`` of the way."""
        if "relu5_1" in self.config.levels:
            for images in (content, style):
                check_relu5_1_size("wct", max(images.shape[-2:]))
        self.model.eval()
        out = self.config.inference()(self.model, content, style)
        return Stylized(images=out.clamp(0, 1))

    @torch.no_grad()
    def stylize_blend(
        self, content: torch.Tensor, blend: StyleBlend, seeds: Sequence[int] | None = None
    ) -> Stylized:
        """``content`` in the blend: at each level the weighted sum of its images' WCTs."""
        if "relu5_1" in self.config.levels:
            for images in (content, *blend.images):
                check_relu5_1_size("wct", max(images.shape[-2:]))
        self.model.eval()
        run = self.config.inference()
        return Stylized(images=blend.per_image(content, lambda *x: run(self.model, *x)).clamp(0, 1))

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The five decoders, each in the published layout under its name (``decoder1.1.weight``
        .. ``decoder5.41.bias``)."""
        state = self.model.decoders.state_dict()
        return {key: value.detach().cpu() for key, value in state.items()}

    def load_state_dict(
        self, state: Mapping[str, torch.Tensor], source: str = "state dict"
    ) -> None:
        """Strictly; a mismatch (say, one published decoder file as it is) says how the five
        published files become one checkpoint."""
        try:
            load_strict(self.model.decoders, state, source)
        except CheckpointMismatch as exc:
            raise CheckpointMismatch(
                f"{exc} (a wct checkpoint holds decoder1.* .. decoder5.* keys: "
                "stylebench.methods.wct.read_published makes one of the five "
                "feature_invertor_conv{1..5}_1.pth files)"
            ) from None
        self.model.eval()


def read_published(*decoders: Path) -> dict[str, torch.Tensor]:
    """github:pietrocarbo/deep-transfer's five published decoders
    (``feature_invertor_conv1_1.pth`` .. ``feature_invertor_conv5_1.pth``, in that order) as one
    wct checkpoint: each is read weights-only and checked strictly against its own decoder
    first, so an error names the file that does not fit. Save the result with ``torch.save``
    and pass it as ``--checkpoint wct=PATH``."""
    with torch.device("meta"):  # key names and shapes only
        networks = _decoders()
    if len(decoders) != len(networks):
        raise ValueError(f"wct has {len(networks)} decoders (relu1_1 .. relu5_1): {len(decoders)}")
    return combine_published(networks, decoders)

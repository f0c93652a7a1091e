"""Liu et al. (ICCV 2021), "AdaAttN: Revisit Attention Mechanism in Arbitrary Neural Style
Transfer": at ``relu3_1``, ``relu4_1`` and ``relu5_1`` every content position takes the mean and
standard deviation of the style's features weighted by an attention over keys built from that
layer and every shallower one, and is normalised to them (AdaIN point by point); a decoder
trained for that, with a local feature loss that asks the output's features to be what such a
parameter-free attention gives, turns the result into the image.

Networks: the fixed "normalised VGG-19" (`methods.core.normalised_vgg`, the same encoder and
weights file as AdaIN's and SANet's, read to ``relu5_1``), and the trained AdaAttN module at
``relu3_1`` (``adaattn_3``), ``Transformer`` (AdaAttN at ``relu4_1`` and ``relu5_1``, merged)
and the decoder with the ``relu3_1`` skip (`methods.core.adaptive_attention`), all as
github:Huage001/AdaAttN lays them out (``models/adaattn_model.py`` with ``--shallow_layer
--skip_connection_3``, as its ``train_adaattn.sh`` and ``test_adaattn.sh`` run it), so its
published ``latest_net_adaattn_3.pth``, ``latest_net_transformer.pth`` and
``latest_net_decoder.pth`` load (`read_published`) and its ``vgg_normalised`` file is the
``vgg_normalised`` weights. A checkpoint holds the three trained networks, keys prefixed
``adaattn_3.``, ``transformer.`` and ``decoder.``. Output = decoder(T(c, s), A3(c, s)), clamped
to [0, 1] and cropped to the content's size. The reference has no content-style trade-off
(no ``alpha``), so there is none here.

Training, for content c, style s and output o, with phi_i the encoder's ``relu1_1 .. relu5_1``,
norm the per-channel mean-variance normalisation and AdaAttN* the attention normalisation
without the learned 1x1 convolutions (`methods.core.adaptive_attention.attentive_norm` on the
keys themselves): global = sum over ``relu2_1 .. relu5_1`` of the MSE of channel means plus that
of standard deviations (`methods.core.moments`); local = sum over ``local_layers`` of
MSE(phi_i(o), AdaAttN*(phi_i(c), phi_i(s))); content = sum over ``relu2_1 .. relu5_1`` of
MSE(norm phi_i(o), norm phi_i(c)); total = ``content_weight`` x content + ``global_weight`` x
global + ``local_weight`` x local. Each content image of a batch gets a training style drawn at
random.

Presets:
- ``paper``: lambda_g 10, lambda_l 3 (no content term: weight 0), the local feature loss over
  ``relu3_1 .. relu5_1`` (the levels that have an AdaAttN module), Adam lr 1e-4, batch 8,
  50,000 steps, 256 px; attention over every style position; standard deviations with the
  variance over H*W (the paper writes mu and sigma as AdaIN's paper defines them). The paper
  states no schedule and no initialisation: both come from the reference code (the learning rate
  held for 2 of 5 epochs, then x0.3 an epoch, here 5 equal periods of the steps; conv weights
  N(0, 0.02), biases 0).
- ``reference``: github:Huage001/AdaAttN's ``train_adaattn.sh`` and ``adaattn_model.py``, where
  they differ: lr 2e-4 (``train_options.py``'s default; the script sets none); the local loss
  over ``relu2_1 .. relu5_1`` (its ``range(1, 5)``); at most 64 x 64 attended style positions at
  ``relu3_1`` and in the local loss and 256 x 256 at ``relu4_1``/``relu5_1``, a random subset
  drawn from a seed (6666 when stylizing, one per training step) (``sample_style``); and its
  ``calc_mean_std``, which divides the variance by H*W - 1 (``unbiased_std``). With this
  preset the forward pass and a training step's losses are the reference code's to float
  rounding (``tests/methods/test_adaattn.py``).

Not reproduced: the data pipeline (the code's resize to 512 x 512 and random 256 px crops of
MS-COCO and WikiArt, random horizontal flips): here content is read at ``image_size``
(shorter side resized, centre crop) and the style set is the suite's images at its size, one
style per content image per step; the schedule's epochs are of the suite's training set's
steps, not of MS-COCO's 82,783 images (5 epochs at batch 8 there: about 51,700 steps, the
paper's 50,000); the paper's video variant (cosine attention, image-wise similarity loss) and
its user control.
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
    Stylized,
    Weight,
)
from stylebench.methods.core import adaptive_attention
from stylebench.methods.core.adaptive_attention import (
    SHALLOW_SAMPLE,
    SkipDecoder,
    Transformer,
    attention_key,
    attentive_norm,
    key_width,
    style_positions,
)
from stylebench.methods.core.checkpoints import (
    CheckpointMismatch,
    combine_published,
    load_checkpoint_setting,
    load_strict,
)
from stylebench.methods.core.cyclegan_nets import init_normal
from stylebench.methods.core.losses import mean_squared_error
from stylebench.methods.core.moments import mean_std, mean_variance_norm, moment_distance
from stylebench.methods.core.normalised_vgg import (
    NETWORK,
    SMALLEST,
    NormalisedVGG,
    check_relu5_1_size,
)
from stylebench.methods.core.training_loop import (
    TrainingConfig,
    periodic_decay_lr,
    seeded,
    train_networks,
)

#: The encoder's layers: what the keys concatenate, and what the losses read.
LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
#: The layers the global style and content losses compare (the reference's ``range(1, 5)``).
COMPARED = LAYERS[1:]
#: The seed of the reference's sampled style positions when it stylizes (``self.seed``).
INFERENCE_SEED = 6666
#: The reference draws each training step's sampling seed below this.
SEEDS = 10_000_000
#: The trained networks, in the order (and with the names) of the reference's files.
PARTS = ("adaattn_3", "transformer", "decoder")

Features = dict[str, torch.Tensor]
LocalLayer = Literal["relu2_1", "relu3_1", "relu4_1", "relu5_1"]


class AdaAttNConfig(TrainingConfig):
    """Settings of AdaAttN (the paper's; the reference code's where the paper is silent)."""

    content_weight: Weight = Field(0.0, description="lambda_content (the reference: 0)")
    global_weight: Weight = Field(10.0, description="lambda_g: channel means and deviations")
    local_weight: Weight = Field(3.0, description="lambda_l: the local feature loss")
    local_layers: tuple[LocalLayer, ...] = Field(
        ("relu3_1", "relu4_1", "relu5_1"), min_length=1, description="layers of the local loss"
    )
    shallow_layer: bool = Field(
        True, description="keys concatenate the shallower layers' features (the paper's F^1:x)"
    )
    sample_style: bool = Field(
        False, description="attend to a seeded random subset of style positions, as the code"
    )
    unbiased_std: bool = Field(
        False, description="divide variances by H*W - 1 as the reference code's calc_mean_std"
    )
    steps: int = Field(50_000, gt=0, le=MAX_TRAINING_STEPS)
    batch_size: int = Field(8, gt=0, le=MAX_BATCH_SIZE)
    image_size: int = Field(
        256, ge=SMALLEST, le=MAX_IMAGE_SIZE, description="training crop of the content images"
    )
    lr: float = Field(1e-4, gt=0)
    lr_decay: float = Field(0.3, gt=0, le=1, description="factor per period after lr_hold")
    lr_periods: int = Field(5, gt=0, description="the reference's epochs: equal parts of steps")
    lr_hold: int = Field(2, ge=1, description="periods at the full learning rate")

    def check_image_size(self, size: int) -> None:
        check_relu5_1_size("adaattn", size)


def _check_size(images: torch.Tensor) -> None:
    check_relu5_1_size("adaattn", max(images.shape[-2:]))


def _networks(shallow: bool, unbiased: bool, sample: bool) -> dict[str, nn.Module]:
    """The three trained networks, named as the reference's files are."""
    cap = SHALLOW_SAMPLE if sample else None
    return {
        "adaattn_3": adaptive_attention.AdaAttN(256, key_width("relu3_1", shallow), cap, unbiased),
        "transformer": Transformer(shallow, unbiased, sample),
        "decoder": SkipDecoder(),
    }


class AdaAttNModel(nn.Module):
    """Encoder (frozen), the three AdaAttN modules and the decoder: content and style in, image
    out; conv weights start as the reference's ``init_net`` draws them."""

    def __init__(self, encoder: NormalisedVGG, config: AdaAttNConfig) -> None:
        super().__init__()
        self.encoder = encoder
        self.shallow, self.unbiased = config.shallow_layer, config.unbiased_std
        for name, net in _networks(self.shallow, self.unbiased, config.sample_style).items():
            self.add_module(name, init_normal(net))

    def encode(self, images: torch.Tensor) -> Features:
        return self.encoder(images, LAYERS)

    def key(self, features: Features, layer: str) -> torch.Tensor:
        return attention_key(features, layer, self.shallow, self.unbiased)

    def generate(
        self, content: Features, style: Features, seed: int, like: torch.Tensor
    ) -> torch.Tensor:
        """The decoder's image for encoded content and style, cropped to the size of ``like``
        (it comes out a multiple of 8)."""
        keys = {
            layer: (self.key(content, layer), self.key(style, layer))
            for layer in ("relu3_1", "relu4_1", "relu5_1")
        }
        skip = self.adaattn_3(content["relu3_1"], style["relu3_1"], *keys["relu3_1"], seed)
        merged = self.transformer(content, style, keys, seed)
        return self.decoder(merged, skip)[..., : like.shape[-2], : like.shape[-1]]

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """``content`` [B, 3, H, W] in the style of ``style`` [B, 3, h, w] (pairs)."""
        return self.generate(self.encode(content), self.encode(style), INFERENCE_SEED, content)


class AdaAttN:
    """Arbitrary style transfer: attention-weighted AdaIN at relu3_1, relu4_1 and relu5_1."""

    name: ClassVar[str] = "adaattn"
    summary: ClassVar[str] = (
        "arbitrary styles: attention-weighted per-position AdaIN at relu3_1..relu5_1, a decoder"
    )
    paper: ClassVar[str] = "Liu et al., ICCV 2021"
    Config: ClassVar[type[AdaAttNConfig]] = AdaAttNConfig
    presets: ClassVar[dict[str, dict]] = {
        "paper": {},
        "reference": {
            "lr": 2e-4,
            "local_layers": ("relu2_1", "relu3_1", "relu4_1", "relu5_1"),
            "sample_style": True,
            "unbiased_std": True,
        },
        "smoke": {"steps": 5, "batch_size": 2, "image_size": 32, "lr": 1e-3},
    }
    needs: ClassVar[MethodNeeds] = MethodNeeds(style="pair", training=True, train_styles="training")
    iterative: ClassVar[bool] = False
    encoders: ClassVar[tuple[str, ...]] = ("vgg_normalised",)

    def __init__(self, config: AdaAttNConfig, context: MethodContext) -> None:
        self.config = config
        self.context = context
        # A copy: channels_last converts the network's weights in place, and the worker's
        # encoder is shared with every other method that borrows it.
        encoder = copy.deepcopy(context.encoder(NETWORK))
        self.model = seeded(lambda: AdaAttNModel(encoder, config), context.seed).to(context.device)

    def trained(self) -> nn.ModuleDict:
        """The networks training updates and a checkpoint holds."""
        return nn.ModuleDict({part: getattr(self.model, part) for part in PARTS})

    def prepare(self, data: PrepareData) -> dict[str, list[float]]:
        """Load ``config.checkpoint`` (the three trained networks) if set, else train them on
        ``data.training`` x ``data.styles``."""
        if load_checkpoint_setting(self):
            return {}
        _check_size(data.styles)
        config = self.config
        styles = data.styles.to(self.context.device)

        def losses(content: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
            seed = int(torch.randint(SEEDS, (1,), generator=generator))
            labels = torch.randint(styles.shape[0], (content.shape[0],), generator=generator)
            return self.losses(content, styles[labels.to(styles.device)], seed)

        def schedule(optimizer: torch.optim.Optimizer, index: int) -> None:
            periodic_decay_lr(
                optimizer,
                config.lr,
                config.lr_decay,
                config.lr_periods,
                config.lr_hold,
                index,
                config.steps,
            )

        return train_networks(self, data, self.model, self.trained().parameters(), losses, schedule)

    def losses(
        self, content: torch.Tensor, style: torch.Tensor, seed: int = INFERENCE_SEED
    ) -> dict[str, torch.Tensor]:
        """A training step's loss terms per image, [B] each, before the update; ``seed`` draws
        the sampled style positions (``sample_style``) for the modules and the local loss."""
        config, model = self.config, self.model
        unbiased = config.unbiased_std
        with torch.no_grad():
            own, their = model.encode(content), model.encode(style)
            targets = {
                name: self._local_target(own, their, name, seed) for name in config.local_layers
            }
        output = model.encode(model.generate(own, their, seed, content))
        content_loss = sum(
            mean_squared_error(
                mean_variance_norm(output[name], unbiased), mean_variance_norm(own[name], unbiased)
            )
            for name in COMPARED
        )
        global_loss = sum(
            moment_distance(output[name], *mean_std(their[name], unbiased), unbiased)
            for name in COMPARED
        )
        local_loss = sum(
            mean_squared_error(output[name], targets[name]) for name in config.local_layers
        )
        total = (
            config.content_weight * content_loss
            + config.global_weight * global_loss
            + config.local_weight * local_loss
        )
        return {"content": content_loss, "global": global_loss, "local": local_loss, "total": total}

    def _local_target(self, own: Features, their: Features, layer: str, seed: int) -> torch.Tensor:
        """AdaAttN*(phi(c), phi(s)): the attention normalisation on the keys themselves (no
        learned convolutions), what the output's features at ``layer`` are asked to be."""
        model, value = self.model, their[layer]
        cap = SHALLOW_SAMPLE if self.config.sample_style else None
        keep = style_positions(value.shape[-2] * value.shape[-1], cap, seed)
        query, key = model.key(own, layer), model.key(their, layer)
        return attentive_norm(own[layer], query, key, value, self.config.unbiased_std, keep)

    @torch.no_grad()
    def stylize(
        self,
        content: torch.Tensor,
        style: torch.Tensor,
        guides: Guides | None = None,
        seeds: Sequence[int] | None = None,
    ) -> Stylized:
        """``content`` in the style of ``style`` (any style image)."""
        _check_size(content)
        _check_size(style)
        self.model.eval()
        out = self.config.inference()(self.model, content, style)
        return Stylized(images=out.clamp(0, 1))

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The three trained networks, each in the reference code's layout under a prefix
        (``adaattn_3.f.weight``, ``transformer.attn_adain_4_1.f.weight``, ...,
        ``decoder.decoder_layer_2.24.bias``)."""
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
                f"{exc} (an adaattn checkpoint holds adaattn_3.*, transformer.* and decoder.* "
                "keys: stylebench.methods.adaattn.read_published makes one of the reference "
                "code's latest_net_adaattn_3, latest_net_transformer and latest_net_decoder files)"
            ) from None
        self.model.eval()


def read_published(adaattn_3: Path, transformer: Path, decoder: Path) -> dict[str, torch.Tensor]:
    """github:Huage001/AdaAttN's three published files (``latest_net_adaattn_3.pth``,
    ``latest_net_transformer.pth``, ``latest_net_decoder.pth``, from ``AdaAttN_model.zip``) as
    one adaattn checkpoint: each is read weights-only and checked strictly against its own
    network first, so an error names the file that does not fit. Save the result with
    ``torch.save`` and pass it as ``--checkpoint adaattn=PATH``."""
    with torch.device("meta"):  # key names and shapes only
        networks = _networks(shallow=True, unbiased=True, sample=True)
    return combine_published(networks, (adaattn_3, transformer, decoder))

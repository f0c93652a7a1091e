"""Zhu, Park, Isola & Efros (ICCV 2017), "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks": two generators translate between photos and a style
domain (e.g. Monet's paintings), learnt from unpaired images of both.

Networks, losses and defaults follow junyanz/pytorch-CycleGAN-and-pix2pix (``cycle_gan`` model),
whose published generators load as they are: ResNet generators (`ResnetGenerator`, 9 residual
blocks at 256 px, 6 at 128), 70x70 PatchGAN discriminators, instance norm, N(0, 0.02) init;
least-squares GAN loss, cycle-consistency L1 with weight 10 each way, identity L1 with weight
0.5 x 10, discriminator loss halved, a pool of the last 50 generated images for the
discriminators, Adam lr 2e-4 with beta1 0.5, constant then linearly decaying learning rate,
batch 1, random horizontal flips. The paper's 100 + 100 epochs over monet2photo's 6,287 photos
are 1,257,400 steps at batch 1 (the default ``steps``; decay over the second half).

Domains: *photo* is the training content, *style* the style domain (`PrepareData.style_domain`:
the suite's training styles). Training images are resized and centre-cropped to ``image_size``;
the reference's load-at-286-then-random-crop jitter is not reproduced. Images are mapped from
[0, 1] to the generators' [-1, 1] and back. `stylize` translates with the generator of
``direction`` (``photo_to_style`` by default) and ignores any style image.

Checkpoints: stylebench's hold both generators (``photo_to_style.model.*`` and
``style_to_photo.model.*``); a reference checkpoint (``latest_net_G.pth``, keys ``model.*``)
is one generator and is loaded as the one of ``direction`` (its old instance-norm statistics
dropped), strictly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from stylebench.methods.base import (
    MAX_BATCH_SIZE,
    MAX_TRAINING_STEPS,
    Guides,
    MethodContext,
    MethodNeeds,
    PartialStore,
    PrepareData,
    StepReport,
    Stylized,
    TrainingSet,
)
from stylebench.methods.core.adversarial import ImagePool, linear_decay, lsgan_loss
from stylebench.methods.core.checkpoints import load_checkpoint_setting, load_strict
from stylebench.methods.core.cyclegan_nets import (
    PatchDiscriminator,
    ResnetGenerator,
    discriminator_output_size,
    init_normal,
    without_legacy_norm_keys,
)
from stylebench.methods.core.inference import PLAIN, Inference
from stylebench.methods.core.training_loop import (
    Resumable,
    TrainingConfig,
    descend,
    seeded,
    train_loop,
)

Direction = Literal["photo_to_style", "style_to_photo"]
DIRECTIONS: tuple[Direction, Direction] = ("photo_to_style", "style_to_photo")


class CycleGANConfig(TrainingConfig):
    """Settings of CycleGAN (the reference implementation's defaults)."""

    direction: Direction = Field(
        "photo_to_style", description="which generator stylizes (and a one-generator file is)"
    )
    ngf: int = Field(64, gt=0, description="generator width (first layer's channels)")
    n_blocks: int = Field(9, ge=0, description="residual blocks: 9 at 256 px, 6 at 128 px")
    dropout: bool = Field(False, description="dropout 0.5 in the residual blocks")
    ndf: int = Field(64, gt=0, description="discriminator width")
    n_layers_d: int = Field(3, ge=1, description="discriminator depth (3: 70x70 patches)")
    init_gain: float = Field(0.02, gt=0, description="std of the N(0, gain) init")
    lambda_photo: float = Field(10.0, ge=0, description="photo -> style -> photo cycle L1")
    lambda_style: float = Field(10.0, ge=0, description="style -> photo -> style cycle L1")
    lambda_identity: float = Field(0.5, ge=0, description="identity L1, times the cycle weight")
    pool_size: int = Field(50, ge=0, description="generated images the discriminators recall")
    lr: float = Field(2e-4, gt=0)
    beta1: float = Field(0.5, ge=0, lt=1)
    steps: int = Field(1_257_400, gt=0, le=MAX_TRAINING_STEPS)
    decay_steps: int | None = Field(
        None, ge=0, description="last steps over which lr decays linearly (default: half)"
    )
    batch_size: int = Field(1, gt=0, le=MAX_BATCH_SIZE)
    flip: bool = Field(True, description="random horizontal flips of training images")
    save_every: int = Field(
        5000, ge=0, description="steps between partial checkpoints to resume from (0: none)"
    )

    inference_only: ClassVar[frozenset[str]] = TrainingConfig.inference_only | {
        "direction",
        "save_every",
    }

    @model_validator(mode="after")
    def _fits(self) -> CycleGANConfig:
        if self.decay_steps is not None and self.decay_steps > self.steps:
            raise ValueError(f"decay_steps ({self.decay_steps}) exceeds steps ({self.steps})")
        if discriminator_output_size(self.image_size, self.n_layers_d) < 1:
            raise ValueError(
                f"image_size {self.image_size} is too small for a {self.n_layers_d}-layer "
                "discriminator; use larger crops or fewer n_layers_d"
            )
        return self

    @property
    def decay(self) -> int:
        """Steps of linear decay (the paper: the second half)."""
        return self.steps // 2 if self.decay_steps is None else self.decay_steps


def translate(net: nn.Module, images: torch.Tensor, run: Inference = PLAIN) -> torch.Tensor:
    """``net`` on [-1, 1] images of any size: reflection-padded to a multiple of 4 (the
    generator's down- and up-sampling need it) and cropped back; ``run`` says how it runs."""
    h, w = images.shape[-2:]
    pad_h, pad_w = -h % 4, -w % 4
    if pad_h or pad_w:
        images = F.pad(images, (0, pad_w, 0, pad_h), mode="reflect")
    return run(net, images)[..., :h, :w]


class CycleGAN:
    """Photo <-> style-domain translation by two cycle-consistent generators."""

    name: ClassVar[str] = "cyclegan"
    summary: ClassVar[str] = "unpaired photo <-> style-domain translation, cycle-consistent GANs"
    paper: ClassVar[str] = "Zhu, Park, Isola & Efros, ICCV 2017"
    Config: ClassVar[type[CycleGANConfig]] = CycleGANConfig
    presets: ClassVar[dict[str, dict]] = {
        "paper": {},
        "smoke": {
            "steps": 30,
            "image_size": 32,
            "ngf": 8,
            "n_blocks": 2,
            "ndf": 8,
            "pool_size": 10,
        },
    }
    needs: ClassVar[MethodNeeds] = MethodNeeds(
        style="domain", training=True, train_styles="training", both_ways=True
    )
    iterative: ClassVar[bool] = False
    encoders: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: CycleGANConfig, context: MethodContext) -> None:
        self.config = config
        self.context = context

        def generator() -> nn.Module:
            net = ResnetGenerator(config.ngf, config.n_blocks, config.dropout)
            return init_normal(net, config.init_gain)

        self.generators = seeded(
            lambda: nn.ModuleDict({d: generator() for d in DIRECTIONS}), context.seed
        ).to(context.device)
        #: True once a one-generator (reference) checkpoint is loaded: only ``direction`` exists.
        self.single = False

    # Training -------------------------------------------------------------------------------

    def _discriminators(self) -> nn.ModuleDict:
        config = self.config

        def build() -> nn.ModuleDict:
            return nn.ModuleDict(
                {
                    domain: init_normal(
                        PatchDiscriminator(config.ndf, config.n_layers_d), config.init_gain
                    )
                    for domain in ("style", "photo")
                }
            )

        return seeded(build, self.context.seed + 1).to(self.context.device)

    def _augment(self, images: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """[0, 1] images to [-1, 1], each flipped left-right with probability 1/2 (``flip``)."""
        images = images * 2 - 1
        if self.config.flip:
            flips = (torch.rand(images.shape[0], generator=rng) < 0.5).to(images.device)
            images = torch.where(flips[:, None, None, None], images.flip(-1), images)
        return images

    def generator_losses(
        self, photo: torch.Tensor, style: torch.Tensor, discriminators: nn.ModuleDict
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The generators' loss terms on a batch of real ``photo`` and ``style`` images (both in
        [-1, 1]) and the generated images ``fake_style``, ``fake_photo``.

        ``gan_*``: LSGAN loss of each translation against the other domain's discriminator;
        ``cycle_photo = lambda_photo * L1(F(G(photo)), photo)`` and ``cycle_style`` likewise;
        ``identity_style = lambda_style * lambda_identity * L1(G(style), style)`` (G must leave
        images of its target domain alone) and ``identity_photo`` likewise; ``total`` their sum.
        """
        config = self.config
        to_style, to_photo = self.generators["photo_to_style"], self.generators["style_to_photo"]
        fake_style = translate(to_style, photo)
        fake_photo = translate(to_photo, style)
        terms = {
            "gan_photo_to_style": lsgan_loss(discriminators["style"](fake_style), True),
            "gan_style_to_photo": lsgan_loss(discriminators["photo"](fake_photo), True),
            "cycle_photo": config.lambda_photo * F.l1_loss(translate(to_photo, fake_style), photo),
            "cycle_style": config.lambda_style * F.l1_loss(translate(to_style, fake_photo), style),
        }
        if config.lambda_identity > 0:
            weight = config.lambda_identity
            terms["identity_style"] = (
                config.lambda_style * weight * F.l1_loss(translate(to_style, style), style)
            )
            terms["identity_photo"] = (
                config.lambda_photo * weight * F.l1_loss(translate(to_photo, photo), photo)
            )
        terms["total"] = sum(terms.values(), torch.zeros((), device=photo.device))
        return terms, {"fake_style": fake_style, "fake_photo": fake_photo}

    @staticmethod
    def discriminator_loss(
        discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor
    ) -> torch.Tensor:
        """Half the LSGAN loss of telling ``real`` (target 1) from ``fake`` (target 0)."""
        return 0.5 * (
            lsgan_loss(discriminator(real), True) + lsgan_loss(discriminator(fake.detach()), False)
        )

    def prepare(self, data: PrepareData) -> dict[str, list[float]]:
        """Load ``config.checkpoint`` if set, else train on ``data.training`` (photos) and
        ``data.style_domain`` (the style domain)."""
        if load_checkpoint_setting(self):
            return {}
        if data.training is None:
            raise ValueError("cyclegan needs training photos (the suite's training.content)")
        if data.style_domain is None or len(data.style_domain) == 0:
            raise ValueError(
                "cyclegan needs the style domain's images (the suite's training.style, "
                "else its style images)"
            )
        return self._train(data.training, data.style_domain, data.partial, data.progress)

    def _train(
        self,
        photos: TrainingSet,
        domain: TrainingSet,
        partial: PartialStore | None,
        progress: StepReport | None = None,
    ) -> dict[str, list[float]]:
        config, device = self.config, self.context.device
        discriminators = self._discriminators()
        betas = (config.beta1, 0.999)
        optimizer_g = torch.optim.Adam(self.generators.parameters(), lr=config.lr, betas=betas)
        optimizer_d = torch.optim.Adam(discriminators.parameters(), lr=config.lr, betas=betas)
        pools = {"style": ImagePool(config.pool_size), "photo": ImagePool(config.pool_size)}
        rng = torch.Generator().manual_seed(self.context.seed)
        self.generators.train()
        self.single = False

        def step(index: int, content: torch.Tensor) -> dict[str, float]:
            factor = linear_decay(index, config.steps, config.decay)
            for optimizer in (optimizer_g, optimizer_d):
                for group in optimizer.param_groups:
                    group["lr"] = config.lr * factor
            picks = torch.randint(len(domain), (content.shape[0],), generator=rng).tolist()
            photo = self._augment(content, rng)
            style = self._augment(domain.batch(picks).to(device), rng)
            discriminators.requires_grad_(False)
            terms, fakes = self.generator_losses(photo, style, discriminators)
            losses = descend(optimizer_g, terms)
            discriminators.requires_grad_(True)
            d_terms = {
                "d_style": self.discriminator_loss(
                    discriminators["style"], style, pools["style"].query(fakes["fake_style"], rng)
                ),
                "d_photo": self.discriminator_loss(
                    discriminators["photo"], photo, pools["photo"].query(fakes["fake_photo"], rng)
                ),
            }
            d_losses = descend(optimizer_d, {**d_terms, "total": sum(d_terms.values())})
            d_style, d_photo = d_losses["d_style"], d_losses["d_photo"]
            return {**losses, "d_style": d_style, "d_photo": d_photo, "lr": config.lr * factor}

        def state() -> dict[str, Any]:
            return {
                "generators": self.generators.state_dict(),
                "discriminators": discriminators.state_dict(),
                "optimizer_g": optimizer_g.state_dict(),
                "optimizer_d": optimizer_d.state_dict(),
                "pools": {name: pool.state() for name, pool in pools.items()},
                "rng": rng.get_state(),
                "torch_rng": torch.get_rng_state(),
            }

        def restore(saved: dict[str, Any]) -> None:
            self.generators.load_state_dict(saved["generators"])
            discriminators.load_state_dict(saved["discriminators"])
            optimizer_g.load_state_dict(saved["optimizer_g"])
            optimizer_d.load_state_dict(saved["optimizer_d"])
            for name, pool in pools.items():
                pool.restore(saved["pools"][name].to(device))
            rng.set_state(saved["rng"])
            torch.set_rng_state(saved["torch_rng"])

        resumable = (
            Resumable(partial, config.save_every, state, restore)
            if partial is not None and config.save_every
            else None
        )
        result = train_loop(
            photos,
            step,
            config.steps,
            config.batch_size,
            self.context.seed,
            device,
            resumable,
            progress=progress,
        )
        self.generators.eval()
        return result.curves

    # Inference ------------------------------------------------------------------------------

    @torch.no_grad()
    def stylize(
        self,
        content: torch.Tensor,
        style: torch.Tensor | None = None,
        guides: Guides | None = None,
        seeds: Sequence[int] | None = None,
    ) -> Stylized:
        """``content`` translated by the generator of ``direction``; ``style`` is not used (the
        style domain was fixed by training)."""
        net = self.generators[self.config.direction].eval()
        return Stylized(
            images=((translate(net, content * 2 - 1, self.config.inference()) + 1) / 2).clamp(0, 1)
        )

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Both generators (``photo_to_style.model.*``, ``style_to_photo.model.*``), or, after a
        reference checkpoint was loaded, that one generator in the reference's keys."""
        net = self.generators[self.config.direction] if self.single else self.generators
        return {k: v.detach().cpu() for k, v in net.state_dict().items()}

    def load_state_dict(
        self, state: Mapping[str, torch.Tensor], source: str = "state dict"
    ) -> None:
        """Load ours (both generators) or a reference one-generator file, strictly."""
        if any(key.split(".", 1)[0] in DIRECTIONS for key in state):
            load_strict(self.generators, state, source)
            self.single = False
        else:
            net = self.generators[self.config.direction]
            load_strict(net, without_legacy_norm_keys(state), source)
            self.single = True
        self.generators.eval()

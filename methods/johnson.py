"""Johnson, Alahi & Fei-Fei (ECCV 2016), "Perceptual Losses for Real-Time Style Transfer and
Super-Resolution": one feed-forward network per style, trained with VGG-16 perceptual losses.

Network, losses and defaults follow pytorch/examples' ``fast_neural_style`` (whose published
checkpoints load as they are): `TransformerNet` (instance norm, up-sampling convs, no output
activation), content loss = ``content_weight * MSE(relu2_2)``, style loss = ``style_weight * sum
over relu1_2, relu2_2, relu3_3, relu4_3 of MSE(Gram / (C*H*W))``, optional total variation, Adam
lr 1e-3, batch 4, 256 px crops. The example runs 2 epochs of COCO (about 40,000 steps at batch 4,
the paper's count), which is the default ``steps``. The paper's own network used batch norm and
a scaled tanh output; the example (and so this method) uses instance norm and no activation.

Value range: the network works in 0-255, as in the example. `stylize` feeds it ``content * 255``
and returns ``output / 255`` clamped to [0, 1] (the example clamps only when saving); training
feeds the unclamped ``output / 255`` to the loss network, exactly as the example's
``normalize_batch`` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch
from pydantic import Field

from stylebench.methods.base import (
    Guides,
    MethodContext,
    MethodNeeds,
    PrepareData,
    Stylized,
    Weight,
)
from stylebench.methods.core.checkpoints import load_checkpoint_setting, load_strict
from stylebench.methods.core.encoders import TRAINING
from stylebench.methods.core.perceptual_loss import PerceptualLoss, PerceptualSpec, Targets
from stylebench.methods.core.training_loop import TrainingConfig, seeded, train_networks
from stylebench.methods.core.transformer import TransformerNet, without_legacy_norm_keys

STYLE_LAYERS = ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]


class JohnsonConfig(TrainingConfig):
    """Settings of the Johnson method (pytorch/examples' defaults)."""

    content_layers: list[str] = Field(default_factory=lambda: ["relu2_2"])
    content_weight: Weight = 1e5
    style_layers: list[str] = Field(default_factory=lambda: list(STYLE_LAYERS))
    style_weight: Weight = 1e10
    tv_weight: Weight = 0.0


class Johnson:
    """A feed-forward transformer trained for one style image."""

    name: ClassVar[str] = "johnson"
    summary: ClassVar[str] = "feed-forward network per style, VGG-16 perceptual losses"
    paper: ClassVar[str] = "Johnson, Alahi & Fei-Fei, ECCV 2016"
    Config: ClassVar[type[JohnsonConfig]] = JohnsonConfig
    presets: ClassVar[dict[str, dict]] = {
        "paper": {},
        "smoke": {"steps": 12, "batch_size": 2, "image_size": 32},
    }
    needs: ClassVar[MethodNeeds] = MethodNeeds(style="pair", training=True, train_styles="each")
    iterative: ClassVar[bool] = False
    encoders: ClassVar[tuple[str, ...]] = ("vgg16",)

    def __init__(self, config: JohnsonConfig, context: MethodContext) -> None:
        self.config = config
        self.context = context
        self.net = seeded(TransformerNet, context.seed).to(context.device)
        spec = PerceptualSpec(
            content_layers=config.content_layers,
            content_weights=[config.content_weight] * len(config.content_layers),
            style_layers=config.style_layers,
            style_weights=[config.style_weight] * len(config.style_layers),
            content_reduction="mse",
            gram_norm="chw",
            tv_weight=config.tv_weight,
        )
        self.loss = PerceptualLoss(context.encoder("vgg16").running(TRAINING), spec)

    def prepare(self, data: PrepareData) -> dict[str, list[float]]:
        """Load ``config.checkpoint`` if set, else train on ``data.training`` for the one style."""
        if load_checkpoint_setting(self):
            return {}
        if data.styles.shape[0] != 1:
            raise ValueError(
                f"johnson trains one network per style; got {data.styles.shape[0]} style images"
            )
        style = self.loss.style_targets(data.styles.to(self.context.device))

        def losses(content: torch.Tensor, _: torch.Generator) -> dict[str, torch.Tensor]:
            output = self.net(content * 255) / 255
            targets = Targets(content=self.loss.content_targets(content), style=style)
            return self.loss(output, targets)

        return train_networks(self, data, self.net, self.net.parameters(), losses)

    @torch.no_grad()
    def stylize(
        self,
        content: torch.Tensor,
        style: torch.Tensor,
        guides: Guides | None = None,
        seeds: Sequence[int] | None = None,
    ) -> Stylized:
        """The trained network applied to ``content``; ``style`` was fixed by training."""
        self.net.eval()
        run = self.config.inference()
        return Stylized(images=(run(self.net, content * 255) / 255).clamp(0, 1))

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The network's weights, in pytorch/examples' key layout."""
        return {k: v.detach().cpu() for k, v in self.net.state_dict().items()}

    def load_state_dict(
        self, state: Mapping[str, torch.Tensor], source: str = "state dict"
    ) -> None:
        """Load ours or a pytorch/examples checkpoint strictly (old running stats dropped)."""
        load_strict(self.net, without_legacy_norm_keys(state), source)

"""Inception-v3 up to ``Mixed_6e``: the style-prediction backbone of Ghiasi et al. (2017).

Built from torchvision's own ``inception_v3`` modules (``Conv2d_1a_3x3`` .. ``Mixed_6e``, so
state-dict keys are torchvision's), with weights from `methods.core.weights` like every other
backbone: torchvision's ImageNet checkpoint, seeded random, or a local file. Input is RGB in
[0, 1]; it is mapped to [-1, 1], the range Google's Inception weights (which torchvision's are)
expect, which is what torchvision's ``transform_input`` does to ImageNet-normalised input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import torch
from torch import nn
from torchvision import models

from stylebench.methods.core.weights import (
    WeightsIdentity,
    WeightsSource,
    resolve_state_dict,
    state_dict_sha256,
)

NETWORK = "inception_v3"

#: torchvision's Inception3 modules up to Mixed_6e, in order (pools are parameter-free).
TRUNK = (
    "Conv2d_1a_3x3",
    "Conv2d_2a_3x3",
    "Conv2d_2b_3x3",
    "maxpool1",
    "Conv2d_3b_1x1",
    "Conv2d_4a_3x3",
    "maxpool2",
    "Mixed_5b",
    "Mixed_5c",
    "Mixed_5d",
    "Mixed_6a",
    "Mixed_6b",
    "Mixed_6c",
    "Mixed_6d",
    "Mixed_6e",
)

#: Channels of the Mixed_6e output.
DEPTH = 768
#: Smallest input side the trunk accepts (Mixed_6a needs a 3x3 map).
MIN_SIZE = 75


def _full_network() -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        return models.inception_v3(weights=None, aux_logits=True, init_weights=True)


def _skeleton() -> nn.Module:
    """The network's modules on the meta device (shapes only; weights are loaded next)."""
    with torch.device("meta"):
        return models.inception_v3(weights=None, aux_logits=True, init_weights=False)


def _fits(state: Mapping[str, torch.Tensor]) -> bool:
    expected = _skeleton().state_dict()
    return state.keys() == expected.keys() and all(
        state[k].shape == expected[k].shape for k in expected
    )


class InceptionTrunk(nn.Module):
    """Inception-v3 to ``Mixed_6e``: [B, 3, H, W] in [0, 1] -> [B, 768, h, w] (H, W >= 75)."""

    def __init__(self, network: nn.Module, identity: WeightsIdentity) -> None:
        super().__init__()
        self.identity = identity
        for name in TRUNK:
            self.add_module(name, getattr(network, name))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if min(images.shape[-2:]) < MIN_SIZE:
            raise ValueError(
                f"Inception-v3 needs images of at least {MIN_SIZE} px, got {tuple(images.shape)}"
            )
        x = images * 2 - 1
        for name in TRUNK:
            x = getattr(self, name)(x)
        return x


def load_inception(source: WeightsSource) -> InceptionTrunk:
    """The trunk with weights from ``source`` (a whole torchvision Inception-v3 state dict)."""
    state, described = resolve_state_dict(
        NETWORK, source, random_init=lambda: _full_network().state_dict(), matches=_fits
    )
    network = _skeleton()
    network.load_state_dict(state, strict=True, assign=True)
    trunk_state = {
        k: v for k, v in network.state_dict().items() if k.split(".", 1)[0] in set(TRUNK)
    }
    identity = WeightsIdentity(
        network=NETWORK, source=described, sha256=state_dict_sha256(trunk_state)
    )
    trunk = InceptionTrunk(network, identity)
    trunk.requires_grad_(False)
    return trunk.eval()


class InceptionV3:
    """The registered ``inception_v3`` encoder: Ghiasi et al.'s style-prediction backbone."""

    summary: ClassVar[str] = (
        "Inception-v3 to Mixed_6e (torchvision's ImageNet weights): one 768-channel map, "
        "images of at least 75 px"
    )
    layers: ClassVar[tuple[str, ...]] = ()
    load = staticmethod(load_inception)

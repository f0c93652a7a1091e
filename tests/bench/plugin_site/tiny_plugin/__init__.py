"""A fake installed plugin (the dist-info folder beside it declares its entry points): a working
encoder, a method that borrows it by name, a suite that runs the method, and broken entries."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from stylebench.methods.base import MethodConfig, MethodNeeds, Stylized
from stylebench.methods.core.weights import WeightsIdentity, resolve_state_dict, state_dict_sha256

SUITE = Path(__file__).with_name("tiny.yaml")
GONE = Path(__file__).with_name("gone.yaml")
INVALID = Path(__file__).with_name("invalid.yaml")


class TinyNetwork(nn.Module):
    """One convolution with two named layers."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, images: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
        conv = self.conv(images)
        return {name: {"conv": conv, "relu": conv.relu()}[name] for name in layers}


class TinyEncoder:
    summary: ClassVar[str] = "one convolution, for tests"
    layers: ClassVar[tuple[str, ...]] = ("conv", "relu")

    @staticmethod
    def load(source) -> TinyNetwork:
        state, described = resolve_state_dict(
            "tiny",
            source,
            random_init=lambda: TinyNetwork().state_dict(),
            matches=lambda s: s.keys() == TinyNetwork().state_dict().keys(),
        )
        network = TinyNetwork()
        network.load_state_dict(state)
        network.identity = WeightsIdentity("tiny", described, state_dict_sha256(state))
        return network.requires_grad_(False).eval()


class NoLoad:
    layers = ()


class TinyCopy:
    """Returns the content; borrows the plugin's encoder to show it can."""

    name: ClassVar[str] = "tiny_copy"
    summary: ClassVar[str] = "the content, unchanged"
    paper: ClassVar[str] = "none"
    Config: ClassVar[type[MethodConfig]] = MethodConfig
    presets: ClassVar[dict[str, dict]] = {"paper": {}, "smoke": {}}
    needs: ClassVar[MethodNeeds] = MethodNeeds()
    encoders: ClassVar[tuple[str, ...]] = ("tiny",)
    iterative: ClassVar[bool] = False

    def __init__(self, config: MethodConfig, context) -> None:
        self.encoder = context.encoder("tiny")

    def prepare(self, data) -> dict[str, list[float]]:
        return {}

    def stylize(self, content, style, guides=None, seeds=None) -> Stylized:
        assert self.encoder(content, ["relu"])["relu"].shape[1] == 4
        return Stylized(images=content.clone())

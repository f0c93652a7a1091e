"""Colour transfer between images (Reinhard, Ashikhmin, Gooch & Shirley, IEEE Computer Graphics
and Applications 21(5), 2001) as a stylebench method.

Each channel of the content image in a decorrelated colour space is shifted and scaled so its
mean and standard deviation match the style image's: the content keeps its structure and takes
the style's palette, nothing more. The paper works in Ruderman's l-alpha-beta space; this example uses
CIE L*a*b*, the usual stand-in (also decorrelated and perceptual), as most reimplementations do.
It is the classic baseline that every neural style-transfer paper beats on style, and that
beats them all on speed.

Written only against stylebench's documented method contract (`stylebench.methods.base`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from pydantic import Field

from stylebench.methods.base import (
    Guides,
    MethodConfig,
    MethodContext,
    MethodNeeds,
    PrepareData,
    Stylized,
)

#: sRGB (D65) to CIE XYZ, and the D65 white point.
RGB_TO_XYZ = torch.tensor(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
WHITE = torch.tensor([0.950456, 1.0, 1.088754])
EPSILON = 216 / 24389  # CIE's (6/29)^3
KAPPA = 24389 / 27


def _linear(rgb: torch.Tensor) -> torch.Tensor:
    return torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)


def _gamma(rgb: torch.Tensor) -> torch.Tensor:
    rgb = rgb.clamp(min=0)
    return torch.where(rgb > 0.0031308, 1.055 * rgb ** (1 / 2.4) - 0.055, rgb * 12.92)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """[B, 3, H, W] sRGB in [0, 1] to CIE L*a*b* (L in [0, 100])."""
    xyz = torch.einsum("ij,bjhw->bihw", RGB_TO_XYZ, _linear(rgb)) / WHITE.view(1, 3, 1, 1)
    f = torch.where(xyz > EPSILON, xyz.clamp(min=1e-12) ** (1 / 3), (KAPPA * xyz + 16) / 116)
    return torch.stack(
        [116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], dim=1
    )


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """CIE L*a*b* back to sRGB, clipped to [0, 1]."""
    fy = (lab[:, 0] + 16) / 116
    f = torch.stack([fy + lab[:, 1] / 500, fy, fy - lab[:, 2] / 200], dim=1)
    xyz = torch.where(f**3 > EPSILON, f**3, (116 * f - 16) / KAPPA) * WHITE.view(1, 3, 1, 1)
    rgb = torch.einsum("ij,bjhw->bihw", torch.linalg.inv(RGB_TO_XYZ), xyz)
    return _gamma(rgb).clamp(0, 1)


class ReinhardConfig(MethodConfig):
    """``strength``: 1 is the paper's full transfer; 0 returns the content unchanged."""

    strength: float = Field(1.0, ge=0, le=1)


class Reinhard:
    """Match the content's per-channel mean and standard deviation in L*a*b* to the style's."""

    name: ClassVar[str] = "reinhard"
    summary: ClassVar[str] = "colour transfer: per-channel mean and std matched in L*a*b*"
    paper: ClassVar[str] = "Reinhard, Ashikhmin, Gooch & Shirley, IEEE CG&A 2001"
    Config: ClassVar[type[ReinhardConfig]] = ReinhardConfig
    presets: ClassVar[dict[str, dict]] = {"paper": {}, "smoke": {}}
    needs: ClassVar[MethodNeeds] = MethodNeeds(style="pair")
    encoders: ClassVar[tuple[str, ...]] = ()
    iterative: ClassVar[bool] = False

    def __init__(self, config: ReinhardConfig, context: MethodContext) -> None:
        self.config = config
        self.device = context.device

    def prepare(self, data: PrepareData) -> dict[str, list[float]]:
        return {}  # nothing to learn

    @torch.no_grad()
    def stylize(
        self,
        content: torch.Tensor,
        style: torch.Tensor | None,
        guides: Guides | None = None,
        seeds: Sequence[int] | None = None,
    ) -> Stylized:
        if style is None:
            raise ValueError("reinhard needs a style image for every content image")
        source, target = rgb_to_lab(content.float().cpu()), rgb_to_lab(style.float().cpu())
        mean_s, std_s = source.mean((2, 3), keepdim=True), source.std((2, 3), keepdim=True)
        mean_t, std_t = target.mean((2, 3), keepdim=True), target.std((2, 3), keepdim=True)
        matched = (source - mean_s) * (std_t / std_s.clamp(min=1e-6)) + mean_t
        lab = source + self.config.strength * (matched - source)
        return Stylized(images=lab_to_rgb(lab).to(content.device))

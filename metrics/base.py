"""What every metric declares about itself, so reports and comparisons never have to guess."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch

from stylebench.methods.base import StyleBlend
from stylebench.methods.core.encoders import FeatureEncoder
from stylebench.methods.core.weights import WeightsIdentity, WeightsSource


@dataclass(frozen=True)
class MetricInfo:
    """A metric's identity card.

    ``per``: ``image`` (one value per output image), ``set`` (one value per method over all its
    outputs, e.g. FID) or ``method`` (one value per method run, e.g. training time).
    ``needs``: which inputs it compares the output with (``content``, ``style``, ``reference``).
    ``requires``: other metrics it is computed from (a plan that asks for it gets them too).
    ``default``: whether a suite that lists no ``metrics`` computes it (False for variants that
    reproduce one protocol, e.g. ``fid_styleid``, and optional extras, e.g. ``clip_style``: a
    suite names them; reports show them in a table of their own, apart from the leaderboard).
    """

    name: str
    higher_is_better: bool
    per: Literal["image", "set", "method"]
    unit: str
    description: str
    needs: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    default: bool = True

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class MetricContext:
    """What a worker lends its metrics: the device, where weights come from, the shared encoders
    (loaded once per worker) and a cache folder for derived files (e.g. reference statistics)."""

    device: torch.device
    weights: WeightsSource
    encoder: Callable[[str], FeatureEncoder]
    cache: Path


@dataclass(frozen=True)
class StyleDomain:
    """The style set that outputs of a domain method (e.g. CycleGAN, which maps content to a
    style domain, not to one style image) are scored against: its images [N, 3, H, W] in
    [0, 1], and a ``name`` that identifies them (metrics cache what they derive by it)."""

    name: str
    images: torch.Tensor


def to_pixels(images: torch.Tensor) -> list[np.ndarray]:
    """[B, 3, H, W] in [0, 1] to B [H, W, 3] uint8 arrays, rounded as the PNG is written."""
    pixels = images.detach().clamp(0, 1).mul(255).round().to(torch.uint8)
    return list(pixels.permute(0, 2, 3, 1).cpu().numpy())


class ImageMetric:
    """A per-image score of outputs against their content and style images, computed on a worker.

    Built once per worker (networks load once). ``identities`` names the weights of every network
    the metric loaded itself, so the record can say what produced its numbers. Outputs of
    domain methods have no style image and are scored by `score_domain` instead.
    """

    info: ClassVar[MetricInfo]

    def __init__(self, context: MetricContext) -> None:
        self.context = context
        self.identities: list[WeightsIdentity] = []

    @classmethod
    def preflight(cls, weights: WeightsSource) -> None:
        """Raise `WeightsUnavailable` now, before any compute, if this metric's weights are
        missing (the driver calls it for non-random weights)."""

    def __call__(
        self, outputs: torch.Tensor, content: torch.Tensor, style: torch.Tensor | None
    ) -> torch.Tensor:
        """One value per image, shape [B]. ``style`` is None only for metrics that do not need
        it (see `score_domain`)."""
        raise NotImplementedError

    def score_domain(
        self, outputs: torch.Tensor, content: torch.Tensor, domain: StyleDomain
    ) -> torch.Tensor:
        """One value per output of a domain method, shape [B]. A metric that compares with the
        style image (``"style"`` in ``info.needs``) must define its comparison with a style set
        here; the others compare with the content as always."""
        if "style" in self.info.needs:
            raise NotImplementedError(f"{self.info.name} defines no score against a style domain")
        return self(outputs, content, None)

    def score_blend(
        self, outputs: torch.Tensor, content: torch.Tensor, blend: StyleBlend
    ) -> torch.Tensor:
        """One value per output of a blend cell, shape [B]. A metric that compares with the
        style image defines its comparison with the blend's weighted target here where it has
        one (style_loss: the weighted Gram matrices); by default it is the weighted average of
        its value against each part (`BLEND_DEFAULT`). The others compare with the content."""
        if "style" not in self.info.needs:
            return self(outputs, content, None)
        return blend.mix([self(outputs, content, image) for image in blend.images])


#: How a style metric without a weighted target of its own scores a blend (recorded).
BLEND_DEFAULT = "the weighted average, by the blend's weights, of its value against each part"


class MeasuredMetric:
    """A metric the harness measures around the work (time, memory) rather than computes."""

    info: ClassVar[MetricInfo]

    @classmethod
    def preflight(cls, weights: WeightsSource) -> None:
        """Measurements load no weights."""


def contract_problems(cls: object) -> list[str]:
    """What keeps ``cls`` from being a metric the harness can run (empty: none): a class with
    a `MetricInfo` whose ``per`` and ``needs`` the harness knows."""
    if not isinstance(cls, type):
        return [f"{cls!r} is not a class"]
    info = getattr(cls, "info", None)
    if not isinstance(info, MetricInfo):
        return ["class attribute 'info' must be a stylebench.metrics.base.MetricInfo"]
    problems = []
    if info.per not in ("image", "set", "method"):
        problems.append(f"info.per is {info.per!r}, expected 'image', 'set' or 'method'")
    unknown = set(info.needs) - {"content", "style", "reference"}
    if unknown:
        problems.append(f"info.needs has {sorted(unknown)}; known: content, style, reference")
    if not callable(getattr(cls, "preflight", None)):
        problems.append("classmethod preflight() is missing")
    return problems

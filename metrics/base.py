"""What every metric declares about itself, so reports and comparisons never have to guess."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import ClassVar, Literal

import torch

from methods.core.encoders import FeatureEncoder


@dataclass(frozen=True)
class MetricInfo:
    """A metric's identity card.

    ``per``: ``image`` (one value per output image), ``set`` (one value per method over all its
    outputs, e.g. FID) or ``method`` (one value per method run, e.g. training time).
    ``needs``: which inputs it compares the output with (``content``, ``style``, ``reference``).
    """

    name: str
    higher_is_better: bool
    per: Literal["image", "set", "method"]
    unit: str
    description: str
    needs: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return asdict(self)


class ImageMetric:
    """A per-image score of outputs against their content and style images, computed on a worker.

    Built once per worker with the worker's encoder provider (networks load once).
    """

    info: ClassVar[MetricInfo]

    def __init__(self, encoder: Callable[[str], FeatureEncoder]) -> None:
        self.encoder = encoder

    def __call__(
        self, outputs: torch.Tensor, content: torch.Tensor, style: torch.Tensor
    ) -> torch.Tensor:
        """One value per image, shape [B]."""
        raise NotImplementedError


class MeasuredMetric:
    """A metric the harness measures around the work (time, memory) rather than computes."""

    info: ClassVar[MetricInfo]

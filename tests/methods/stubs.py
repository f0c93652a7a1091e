"""Stand-ins that make loss definitions checkable by hand."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from stylebench.methods.base import MethodContext


class IdentityEncoder:
    """An "encoder" whose every layer is the image itself, so a loss's arithmetic shows."""

    def __call__(self, images: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        return {name: images for name in layers}

    def with_pooling(self, pooling: str) -> IdentityEncoder:
        return self

    def running(self, execution: object) -> IdentityEncoder:
        return self


def context_with(encoders: dict) -> MethodContext:
    """A CPU context lending exactly ``encoders`` (by architecture name)."""
    return MethodContext(device=torch.device("cpu"), seed=0, encoder=lambda arch: encoders[arch])

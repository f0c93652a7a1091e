"""An in-memory training set for method tests (the harness reads files instead)."""

from __future__ import annotations

import torch


class TensorImages:
    """A `methods.base.TrainingSet` over a [N, 3, H, W] tensor in [0, 1]."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return self.images.shape[0]

    def batch(self, indices: list[int]) -> torch.Tensor:
        return self.images[indices]

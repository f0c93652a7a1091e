"""Perceptual loss terms shared by every method and by the evaluation metrics.

Each function works on a batch and returns one value per image (shape ``[B]``), so batched
optimisation of independent pairs gives each pair exactly the loss it would get alone.
"""

from __future__ import annotations

from typing import Literal

import torch

GramNorm = Literal["chw", "hw", "none"]


def gram_matrix(features: torch.Tensor, norm: GramNorm = "chw", shift: float = 0.0) -> torch.Tensor:
    """Channel correlations ``(F + s)(F + s)^T`` of ``[B, C, H, W]`` features, ``[B, C, C]``.

    ``norm`` divides by C*H*W (jcjohnson/neural-style, pytorch/examples), by H*W (Gatys' own
    code, magenta) or not at all; ``shift`` is Novak & Nikulin's activation shift.
    """
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    if shift:
        flat = flat + shift
    gram = torch.bmm(flat, flat.transpose(1, 2))
    if norm == "chw":
        gram = gram / (c * h * w)
    elif norm == "hw":
        gram = gram / (h * w)
    return gram


def mean_squared_error(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean of squared differences over every dimension but the batch."""
    return (a - b).pow(2).flatten(1).mean(dim=1)


def half_sum_squared_error(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``0.5 * sum((a - b)^2)`` per image: the content loss as written in Gatys et al."""
    return 0.5 * (a - b).pow(2).flatten(1).sum(dim=1)


def total_variation(images: torch.Tensor, power: float = 2.0) -> torch.Tensor:
    """Mean over pixels of the squared neighbour differences (``power`` 2) or their L1 (1)."""
    dx = images[..., :, 1:] - images[..., :, :-1]
    dy = images[..., 1:, :] - images[..., :-1, :]
    if power == 1.0:
        return dx.abs().flatten(1).mean(1) + dy.abs().flatten(1).mean(1)
    return dx.pow(2).flatten(1).mean(1) + dy.pow(2).flatten(1).mean(1)

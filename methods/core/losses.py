"""Perceptual loss terms shared by every method and by the evaluation metrics.

Each function works on a batch and returns one value per image (shape ``[B]``), so batched
optimisation of independent pairs gives each pair exactly the loss it would get alone.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F

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


def cross_gram(
    a: torch.Tensor, b: torch.Tensor, norm: GramNorm = "chw", shift: float = 0.0
) -> torch.Tensor:
    """Correlations ``(F^a + s)[up(F^b + s)]^T`` of two layers' features, ``[B, Ca, Cb]``.

    Novak & Nikulin's cross-layer Gram: the smaller map is upsampled (nearest neighbour) to the
    larger one's size, so each position of the larger map meets the feature it lies in. ``norm``
    divides by the larger map's H*W (``hw``), by that times sqrt(Ca*Cb) (``chw``, which is C*H*W
    when the layers are the same) or not at all. ``cross_gram(f, f)`` equals ``gram_matrix(f)``.
    """
    size = max(a.shape[-2:], b.shape[-2:], key=lambda s: s[0] * s[1])
    if tuple(a.shape[-2:]) != tuple(size):
        a = F.interpolate(a, size=size, mode="nearest")
    if tuple(b.shape[-2:]) != tuple(size):
        b = F.interpolate(b, size=size, mode="nearest")
    batch, ca, h, w = a.shape
    flat_a = a.reshape(batch, ca, h * w) + shift
    flat_b = b.reshape(batch, b.shape[1], h * w) + shift
    gram = torch.bmm(flat_a, flat_b.transpose(1, 2))
    if norm == "chw":
        gram = gram / (math.sqrt(ca * b.shape[1]) * h * w)
    elif norm == "hw":
        gram = gram / (h * w)
    return gram


def mean_squared_error(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean of squared differences over every dimension but the batch."""
    return (a - b).pow(2).flatten(1).mean(dim=1)


def half_sum_squared_error(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``0.5 * sum((a - b)^2)`` per image: the content loss as written in Gatys et al."""
    return 0.5 * (a - b).pow(2).flatten(1).sum(dim=1)


def smoothness(images: torch.Tensor, exponent: float = 1.25) -> torch.Tensor:
    """Mean over pixels of ``(dx^2 + dy^2)^exponent`` per image: neural-doodle's smoothness prior."""
    corner = images[..., :-1, :-1]
    dx = images[..., :-1, 1:] - corner
    dy = images[..., 1:, :-1] - corner
    return (dx.pow(2) + dy.pow(2)).pow(exponent).flatten(1).mean(1)


def total_variation(images: torch.Tensor, power: float = 2.0) -> torch.Tensor:
    """Mean over pixels of the squared neighbour differences (``power`` 2) or their L1 (1)."""
    dx = images[..., :, 1:] - images[..., :, :-1]
    dy = images[..., 1:, :] - images[..., :-1, :]
    if power == 1.0:
        return dx.abs().flatten(1).mean(1) + dy.abs().flatten(1).mean(1)
    return dx.pow(2).flatten(1).mean(1) + dy.pow(2).flatten(1).mean(1)

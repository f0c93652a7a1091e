"""Perceptual loss terms shared by every method and by the evaluation metrics.

Each function works on a batch and returns one value per image (shape ``[B]``), so batched
optimisation of independent pairs gives each pair exactly the loss it would get alone: every
per-image reduction goes through `per_image_sum`, whose summation order depends on neither the
batch size nor the thread count.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F

GramNorm = Literal["chw", "hw", "none"]

#: Length of the fixed chunks `per_image_sum` adds up first (below PyTorch's CPU grain size, so
#: no chunk is split across threads).
SUM_CHUNK = 4096


def per_image_sum(x: torch.Tensor) -> torch.Tensor:
    """The sum of each image's values, ``[B]``, in one fixed order.

    ``x.flatten(1).sum(1)`` is not that: with one image (one output) PyTorch splits a long row
    across threads, with several it gives each row to one thread, so the same image sums in a
    different order alone and in a batch (and with another thread count). Here every image is
    cut into chunks of `SUM_CHUNK` values (zero-padded), each chunk summed, then the chunk sums.
    """
    rows = x.reshape(x.shape[0], -1)
    pad = -rows.shape[1] % SUM_CHUNK
    if pad:
        rows = F.pad(rows, (0, pad))
    return rows.view(rows.shape[0], -1, SUM_CHUNK).sum(dim=2).sum(dim=1)


def per_image_mean(x: torch.Tensor) -> torch.Tensor:
    """The mean of each image's values, ``[B]`` (`per_image_sum`'s fixed order)."""
    return per_image_sum(x) / x[0].numel()


def per_image_products(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a[i] @ b[i]^T`` for every image i of ``[B, M, N]`` and ``[B, K, N]``, ``[B, M, K]``.

    One matrix product per image, never one batched product (``bmm``): a BLAS library may pick
    its kernel by batch size, so an image's Gram matrix could round differently in a batch than
    alone (seen on an Intel Xeon, not on AMD EPYC), and an optimisation amplifies that.
    """
    return torch.stack([x @ y.transpose(0, 1) for x, y in zip(a, b, strict=True)])


def gram_matrix(features: torch.Tensor, norm: GramNorm = "chw", shift: float = 0.0) -> torch.Tensor:
    """Channel correlations ``(F + s)(F + s)^T`` of ``[B, C, H, W]`` features, ``[B, C, C]``.

    ``norm`` divides by C*H*W (jcjohnson/neural-style, pytorch/examples), by H*W (Gatys' own
    code, magenta) or not at all; ``shift`` is Novak & Nikulin's activation shift.
    """
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    if shift:
        flat = flat + shift
    gram = per_image_products(flat, flat)
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
    gram = per_image_products(flat_a, flat_b)
    if norm == "chw":
        gram = gram / (math.sqrt(ca * b.shape[1]) * h * w)
    elif norm == "hw":
        gram = gram / (h * w)
    return gram


def mean_squared_error(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean of squared differences over every dimension but the batch."""
    return per_image_mean((a - b).pow(2))


def half_sum_squared_error(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``0.5 * sum((a - b)^2)`` per image: the content loss as written in Gatys et al."""
    return 0.5 * per_image_sum((a - b).pow(2))


def smoothness(images: torch.Tensor, exponent: float = 1.25) -> torch.Tensor:
    """Mean over pixels of ``(dx^2 + dy^2)^exponent`` per image: neural-doodle's smoothness prior.

    Image by image: a fractional power is vectorised on CPU, and where an element falls in the
    vector loop (by its offset in the batch) changes its rounding, so a batch would not give each
    image the bits it gets alone (`methods.core.exact_batches`).
    """
    return torch.stack([_image_smoothness(image, exponent) for image in images])


def _image_smoothness(image: torch.Tensor, exponent: float) -> torch.Tensor:
    corner = image[..., :-1, :-1]
    dx = image[..., :-1, 1:] - corner
    dy = image[..., 1:, :-1] - corner
    return per_image_mean((dx.pow(2) + dy.pow(2)).pow(exponent)[None])[0]


def total_variation(images: torch.Tensor, power: float = 2.0) -> torch.Tensor:
    """Mean over pixels of the squared neighbour differences (``power`` 2) or their L1 (1)."""
    dx = images[..., :, 1:] - images[..., :, :-1]
    dy = images[..., 1:, :] - images[..., :-1, :]
    if power == 1.0:
        return per_image_mean(dx.abs()) + per_image_mean(dy.abs())
    return per_image_mean(dx.pow(2)) + per_image_mean(dy.pow(2))

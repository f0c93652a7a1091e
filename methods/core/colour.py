"""Colour preservation for feed-forward style transfer (AdaIN's colour control, after Gatys et
al., "Preserving Color in Neural Artistic Style Transfer", 2016): recolour the style image so
its pixels have the content image's mean and covariance, then stylize with it. The transform is
the image-analogies one, x' = C_t^1/2 C_s^-1/2 (x - mu_s) + mu_t, with symmetric square roots.
"""

from __future__ import annotations

import torch

#: Smallest eigenvalue a pixel covariance is given (a flat image has a singular one).
EIGEN_FLOOR = 1e-5


def _sqrt_pair(covariance: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The symmetric square root of a 3x3 covariance and its inverse."""
    values, vectors = torch.linalg.eigh(covariance)
    root = values.clamp(min=EIGEN_FLOOR).sqrt()
    return (vectors * root) @ vectors.T, (vectors / root) @ vectors.T


def _moments(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    pixels = image.reshape(3, -1).double()
    mean = pixels.mean(dim=1, keepdim=True)
    centred = pixels - mean
    return centred, mean, centred @ centred.T / centred.shape[1]


def match_colour(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``source`` [B, 3, H, W] recoloured so each image's pixel mean and covariance equal those
    of the same image of ``target`` [B, 3, h, w] (any size). Image by image in float64, so a
    batch gives each pair what it gets alone; values may leave [0, 1], as in the reference."""
    out = []
    for image, reference in zip(source, target, strict=True):
        centred, _, covariance = _moments(image)
        _, mean, target_covariance = _moments(reference)
        inverse_root = _sqrt_pair(covariance)[1]
        root = _sqrt_pair(target_covariance)[0]
        out.append((root @ inverse_root @ centred + mean).reshape(image.shape))
    return torch.stack(out).to(source.dtype)

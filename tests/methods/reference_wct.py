"""Universal style transfer (Li et al. 2017) as its reference codes compute it, rebuilt here from
their structure, so stylebench's WCT can be compared with them on identical weights without
depending on their files: the five decoders as github:pietrocarbo/deep-transfer's
``feature_invertor_conv{k}_1.py`` write them (``nn.Sequential``, the authors' ``.t7`` modules one
for one), the transform as the authors' ``feature_wct`` (github:Yijunmaverick/
UniversalStyleTransfer ``test_wct.lua``; deep-transfer's ``wct``: a full SVD of each covariance,
the singular values kept up to the first below 1e-5) and the coarse-to-fine loop of its
``styleTransfer``, one image at a time. The encoder slices are naoto0804/pytorch-AdaIN's
``vgg`` to each layer (`reference_adain`), the layout of the authors'
``vgg_normalised_conv{k}_1``."""

from __future__ import annotations

import torch
from torch import nn

from tests.methods.reference_adain import _convs, decoder

#: Modules of the encoder to relu1_1 .. relu5_1 (``vgg_normalised_conv{k}_1``).
ENCODER_DEPTHS = (4, 11, 18, 31, 44)


def decoders() -> list[nn.Sequential]:
    """``feature_invertor_conv1_1`` .. ``feature_invertor_conv5_1`` (2, 9, 16, 29, 42 modules)."""
    up = nn.UpsamplingNearest2d
    last = _convs([(64, 64), (64, 3)])[:-1]  # every decoder ends so: no ReLU on the image
    return [
        nn.Sequential(*_convs([(64, 3)])[:-1]),
        nn.Sequential(*_convs([(128, 64)]), up(scale_factor=2), *last),
        nn.Sequential(
            *_convs([(256, 128)]),
            up(scale_factor=2),
            *_convs([(128, 128), (128, 64)]),
            up(scale_factor=2),
            *_convs([(64, 64), (64, 3)])[:-1],
        ),
        decoder(),
        nn.Sequential(
            *_convs([(512, 512)]),
            up(scale_factor=2),
            *_convs([(512, 512), (512, 512), (512, 512), (512, 256)]),
            up(scale_factor=2),
            *_convs([(256, 256), (256, 256), (256, 256), (256, 128)]),
            up(scale_factor=2),
            *_convs([(128, 128), (128, 64)]),
            up(scale_factor=2),
            *_convs([(64, 64), (64, 3)])[:-1],
        ),
    ]


def _kept(singular: torch.Tensor) -> int:
    """How many singular values come before the first below 1e-5 (all of them if none is)."""
    for i, value in enumerate(singular):
        if value < 0.00001:
            return i
    return singular.shape[0]


def whiten_and_colour(cf: torch.Tensor, sf: torch.Tensor) -> torch.Tensor:
    """``feature_wct`` on [C, H, W] content and [C, h, w] style features, in float64."""
    channels = cf.shape[0]
    c = cf.double().reshape(channels, -1)
    c_mean = c.mean(1, keepdim=True)
    c = c - c_mean
    c_u, c_e, _ = torch.linalg.svd(c @ c.t() / (c.shape[1] - 1))
    k_c = _kept(c_e)
    whiten = c_u[:, :k_c] @ torch.diag(c_e[:k_c].pow(-0.5)) @ c_u[:, :k_c].t()
    s = sf.double().reshape(channels, -1)
    s_mean = s.mean(1, keepdim=True)
    s = s - s_mean
    s_u, s_e, _ = torch.linalg.svd(s @ s.t() / (s.shape[1] - 1))
    k_s = _kept(s_e)
    colour = s_u[:, :k_s] @ torch.diag(s_e[:k_s].pow(0.5)) @ s_u[:, :k_s].t()
    return (colour @ (whiten @ c) + s_mean).reshape(cf.shape)


def style_transfer(
    vgg: nn.Sequential,
    decoders: list[nn.Sequential],
    content: torch.Tensor,
    style: torch.Tensor,
    alpha: float,
) -> torch.Tensor:
    """``styleTransfer`` for one content [1, 3, H, W] and style [1, 3, h, w] image: WCT at
    conv5_1 .. conv1_1, each level's decoded image encoded again at the next."""
    image = content
    for level in range(4, -1, -1):
        encoder = vgg[: ENCODER_DEPTHS[level]]
        cf, sf = encoder(image)[0], encoder(style)[0]
        csf = alpha * whiten_and_colour(cf, sf) + (1.0 - alpha) * cf.double()
        image = decoders[level](csf.float().unsqueeze(0))
    return image


def reconstruction_loss(
    vgg: nn.Sequential, decoders: list[nn.Sequential], images: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The two terms of the paper's L = ||I_o - I_i||^2 + lambda ||Phi(I_o) - Phi(I_i)||^2 for
    each decoder, each squared norm as a mean, summed over the five: (pixel, feature)."""
    pixel = feature = torch.zeros(())
    for level, net in enumerate(decoders):
        encoder = vgg[: ENCODER_DEPTHS[level]]
        target = encoder(images)
        output = net(target)
        pixel = pixel + ((output - images) ** 2).mean()
        feature = feature + ((encoder(output) - target) ** 2).mean()
    return pixel, feature

"""The training losses of SANet (Park & Lee, CVPR 2019), which StyTr^2 (Deng et al., CVPR 2022)
trains with as they are: one function, so both methods compute them the same way.

For content c, style s, output o = G(c, s) and the identity images I_cc = G(c, c), I_ss =
G(s, s), with phi_i the normalised VGG-19's ``relu1_1 .. relu5_1`` and norm the per-channel
mean-variance normalisation: content = MSE(norm phi_4(o), norm phi_4(c)) + the same at
``relu5_1``; style = sum over the five layers of the MSE of channel means plus that of standard
deviations (`methods.core.moments`); identity1 = MSE(I_cc, c) + MSE(I_ss, s) (pixels);
identity2 = sum over the five layers of MSE(phi_i(I_cc), phi_i(c)) + MSE(phi_i(I_ss), phi_i(s)).
The identity terms ask the network to give an image back when it is its own style, which keeps
the content's structure without weakening the style.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch

from stylebench.methods.core.losses import mean_squared_error
from stylebench.methods.core.moments import mean_std, mean_variance_norm, moment_distance

#: The layers the style and identity losses compare, and those the content loss does.
LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYERS = ("relu4_1", "relu5_1")

Features = dict[str, torch.Tensor]
#: Images [B, 3, H, W] and their encoder features at `LAYERS`.
Source = tuple[torch.Tensor, Features]


class LossWeights(Protocol):
    """The settings the losses read (SANet's and StyTr^2's configs have them)."""

    content_weight: float
    style_weight: float
    identity1_weight: float
    identity2_weight: float
    unbiased_std: bool


def identity_losses(
    encode: Callable[[torch.Tensor], Features],
    generate: Callable[[Source, Source], torch.Tensor],
    content: torch.Tensor,
    style: torch.Tensor,
    weights: LossWeights,
) -> dict[str, torch.Tensor]:
    """The four terms and their weighted ``total``, per image, [B] each. ``encode`` gives the
    features at `LAYERS`; ``generate(a, b)`` is the network's image of ``a`` in the style of
    ``b``, at ``a``'s size."""
    unbiased = weights.unbiased_std
    with torch.no_grad():
        own, their = (content, encode(content)), (style, encode(style))
    output = encode(generate(own, their))
    content_loss = sum(
        mean_squared_error(
            mean_variance_norm(output[name], unbiased), mean_variance_norm(own[1][name], unbiased)
        )
        for name in CONTENT_LAYERS
    )
    style_loss = sum(
        moment_distance(output[name], *mean_std(their[1][name], unbiased), unbiased)
        for name in LAYERS
    )
    same_content, same_style = generate(own, own), generate(their, their)
    identity1 = mean_squared_error(same_content, content) + mean_squared_error(same_style, style)
    again_content, again_style = encode(same_content), encode(same_style)
    identity2 = sum(
        mean_squared_error(again_content[name], own[1][name])
        + mean_squared_error(again_style[name], their[1][name])
        for name in LAYERS
    )
    total = (
        weights.content_weight * content_loss
        + weights.style_weight * style_loss
        + weights.identity1_weight * identity1
        + weights.identity2_weight * identity2
    )
    return {
        "content": content_loss,
        "style": style_loss,
        "identity1": identity1,
        "identity2": identity2,
        "total": total,
    }

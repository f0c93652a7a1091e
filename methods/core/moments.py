"""Channel means and standard deviations of feature maps: what AdaIN transfers and what its
style loss compares (Huang & Belongie, ICCV 2017), and the normalisation SANet's attention and
content loss apply (Park & Lee, CVPR 2019).

``unbiased`` picks the variance: the paper's (divided by H*W, as the authors' Torch code
computes it) or github:naoto0804/pytorch-AdaIN's ``calc_mean_std`` (``Tensor.var``, divided by
H*W - 1). Either way ``EPS`` is added to the variance before the square root, as the paper and
the PyTorch port do.
"""

from __future__ import annotations

import torch

from stylebench.methods.core.losses import mean_squared_error

#: Added to every variance before its square root (the paper's epsilon, both codes' 1e-5).
EPS = 1e-5


def mean_std(features: torch.Tensor, unbiased: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image and channel mean and standard deviation of [B, C, H, W], each [B, C, 1, 1]."""
    flat = features.flatten(2)
    variance = flat.var(dim=2, unbiased=unbiased) + EPS
    return flat.mean(dim=2)[..., None, None], variance.sqrt()[..., None, None]


def mean_variance_norm(features: torch.Tensor, unbiased: bool = False) -> torch.Tensor:
    """Each channel of [B, C, H, W] moved to mean 0 and standard deviation 1 (SANet's F-bar, the
    reference code's ``mean_variance_norm``): what its attention compares and its content loss
    measures, so that neither depends on the features' scale."""
    mean, std = mean_std(features, unbiased)
    return (features - mean) / std


def adaptive_instance_norm(
    content: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, unbiased: bool = False
) -> torch.Tensor:
    """AdaIN(x, y) = sigma(y) (x - mu(x)) / sigma(x) + mu(y): ``content`` features [B, C, H, W]
    with each channel moved to the style's ``mean`` and ``std`` [B, C, 1, 1]."""
    return mean_variance_norm(content, unbiased) * std + mean


def moment_distance(
    features: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, unbiased: bool = False
) -> torch.Tensor:
    """One layer's style loss per image, [B]: the mean squared difference of the channel means
    plus that of the channel standard deviations (the reference code's ``calc_style_loss``)."""
    own_mean, own_std = mean_std(features, unbiased)
    return mean_squared_error(own_mean, mean) + mean_squared_error(own_std, std)

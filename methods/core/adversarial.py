"""Pieces of adversarial training as CycleGAN's reference code defines them: the least-squares
GAN loss, the history pool of generated images the discriminators learn from, and the
constant-then-linearly-decaying learning rate.

Randomness (the pool's choices) comes from a `torch.Generator` the caller owns, so training is
reproducible and its state can be saved and restored with a partial checkpoint.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def lsgan_loss(prediction: torch.Tensor, real: bool) -> torch.Tensor:
    """Least-squares GAN loss (Mao et al. 2017, the reference's ``gan_mode='lsgan'``): the mean
    squared distance of the discriminator's scores from 1 (``real``) or 0."""
    target = torch.ones_like(prediction) if real else torch.zeros_like(prediction)
    return F.mse_loss(prediction, target)


class ImagePool:
    """The last ``size`` generated images (Shrivastava et al. 2017, the reference's ``ImagePool``).

    Until the pool is full every image is stored and returned as it is; then each image is, with
    probability 1/2, swapped for a uniformly chosen stored one (which is returned instead), else
    returned as it is. The discriminator thus also sees older generators' outputs. ``size`` 0
    returns every batch unchanged.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The batch the discriminator trains on in place of ``images`` ([B, C, H, W])."""
        if self.size == 0:
            return images
        picked = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image)
                picked.append(image)
            elif torch.rand(1, generator=generator).item() > 0.5:
                index = int(torch.randint(self.size, (1,), generator=generator))
                picked.append(self.images[index].clone())
                self.images[index] = image
            else:
                picked.append(image)
        return torch.cat(picked)

    def state(self) -> torch.Tensor:
        """The stored images as one tensor (for a partial checkpoint)."""
        return torch.cat(self.images) if self.images else torch.empty(0)

    def restore(self, images: torch.Tensor) -> None:
        self.images = [image.unsqueeze(0) for image in images]


def linear_decay(step: int, steps: int, decay_steps: int) -> float:
    """Learning-rate factor at ``step`` (0-based) of ``steps``: 1 for the first
    ``steps - decay_steps`` steps, then falling linearly, ``1 - k / (decay_steps + 1)`` at the
    k-th decaying step, ``1 / (decay_steps + 1)`` at the last. This is the reference's
    ``lr_policy='lambda'`` rule ``1 - max(0, e + 1 - n_epochs) / (n_epochs_decay + 1)`` for the
    0-based epoch e, applied per step instead of per epoch."""
    constant = steps - decay_steps
    return 1.0 - max(0, step + 1 - constant) / (decay_steps + 1)

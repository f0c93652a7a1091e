"""Colour preservation: the style image takes the content's pixel mean and covariance."""

import torch

from stylebench.methods.core.colour import match_colour


def moments(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pixels = image.reshape(3, -1).double()
    return pixels.mean(dim=1), torch.cov(pixels, correction=0)


def test_the_recoloured_image_has_the_targets_mean_and_covariance():
    generator = torch.Generator().manual_seed(0)
    source = torch.rand(2, 3, 20, 24, generator=generator) ** 2
    target = torch.rand(2, 3, 16, 16, generator=generator) * torch.tensor([0.2, 0.5, 1.0]).view(
        1, 3, 1, 1
    )
    out = match_colour(source, target)
    assert out.shape == source.shape and out.dtype == source.dtype
    for recoloured, reference in zip(out, target, strict=True):
        mean, covariance = moments(recoloured)
        want_mean, want_covariance = moments(reference)
        assert torch.allclose(mean, want_mean, atol=1e-6)
        assert torch.allclose(covariance, want_covariance, atol=1e-6)


def test_an_image_matched_to_itself_is_unchanged_and_a_batch_matches_one_by_one():
    images = torch.rand(3, 3, 12, 12, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(match_colour(images, images), images, atol=1e-5)
    targets = images.flip(0)
    alone = torch.cat([match_colour(images[i : i + 1], targets[i : i + 1]) for i in range(3)])
    assert torch.equal(match_colour(images, targets), alone)

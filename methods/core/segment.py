"""Automatic semantic maps for images that come without one.

Semantic style transfer needs a map for the content and for the style image in which the same
colour means the same kind of region. Where a suite provides neither, both are made together by
colour k-means over the pixels of both images (so a cluster is one class in both maps, as a
one-hot channel per class). Where it provides one, the other is made in its palette: each class
of the provided map gets the mean colour of its image under that class, and every pixel of the
other image takes the class whose mean colour is nearest.
"""

from __future__ import annotations

import torch

#: A colour is a class of a provided map if at least this share of its pixels has it.
MIN_CLASS_SHARE = 0.01
#: Pixels per image that k-means fits on (all pixels are labelled afterwards).
KMEANS_SAMPLE = 4096


def kmeans(
    points: torch.Tensor, k: int, generator: torch.Generator, iterations: int = 25
) -> torch.Tensor:
    """Centres [k, D] of ``points`` [N, D] (k-means++ start, Lloyd iterations), deterministic."""
    first = torch.randint(points.shape[0], (1,), generator=generator).item()
    centres = [points[first]]
    for _ in range(1, k):
        distance = torch.cdist(points, torch.stack(centres)).min(dim=1).values.pow(2)
        if distance.sum() <= 0:
            break
        pick = torch.multinomial(distance / distance.sum(), 1, generator=generator).item()
        centres.append(points[pick])
    stacked = torch.stack(centres)
    for _ in range(iterations):
        labels = torch.cdist(points, stacked).argmin(dim=1)
        for c in range(stacked.shape[0]):
            members = points[labels == c]
            if len(members):
                stacked[c] = members.mean(dim=0)
    return stacked


def nearest(pixels: torch.Tensor, colours: torch.Tensor) -> torch.Tensor:
    """Index of the nearest colour [K, 3] for every pixel of a [3, H, W] image, as [H, W]."""
    flat = pixels.flatten(1).transpose(0, 1)
    return torch.cdist(flat, colours.to(flat.dtype)).argmin(dim=1).view(pixels.shape[1:])


def map_palette(semantic_map: torch.Tensor) -> torch.Tensor:
    """The flat colours [K, 3] of a provided [3, H, W] map (those covering >= 1% of it)."""
    quantised = semantic_map.mul(255).round().flatten(1).transpose(0, 1)
    colours, counts = quantised.unique(dim=0, return_counts=True)
    keep = counts >= MIN_CLASS_SHARE * quantised.shape[0]
    if not keep.any():
        raise ValueError(
            "a semantic map without flat colours: maps are images of a few flat colours, "
            "one per kind of region"
        )
    return colours[keep] / 255


def _sample(image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    flat = image.flatten(1).transpose(0, 1)
    if flat.shape[0] <= KMEANS_SAMPLE:
        return flat
    return flat[torch.randperm(flat.shape[0], generator=generator)[:KMEANS_SAMPLE]]


def joint_maps(
    content: torch.Tensor, style: torch.Tensor, classes: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """One-hot [classes, H, W] maps of both images from one colour k-means over their pixels
    (a channel stays empty where the images have fewer distinct colours than classes)."""
    generator = torch.Generator().manual_seed(seed)
    points = torch.cat([_sample(content.cpu(), generator), _sample(style.cpu(), generator)])
    centres = kmeans(points.double(), classes, generator).float()

    def one_hot(image: torch.Tensor) -> torch.Tensor:
        labels = nearest(image.cpu(), centres)
        return torch.nn.functional.one_hot(labels, classes).permute(2, 0, 1).float()

    return one_hot(content).to(content), one_hot(style).to(style)


def map_in_palette(
    image: torch.Tensor, partner: torch.Tensor, partner_map: torch.Tensor
) -> torch.Tensor:
    """A [3, H, W] map of ``image`` in the palette of ``partner_map`` (the map of ``partner``)."""
    palette = map_palette(partner_map.cpu())
    partner_labels = nearest(partner_map.cpu(), palette).flatten()
    pixels = partner.cpu().flatten(1)
    # Every palette colour occurs in the map, so every class has pixels to average.
    means = torch.stack([pixels[:, partner_labels == c].mean(dim=1) for c in range(len(palette))])
    labels = nearest(image.cpu(), means)
    return palette[labels].permute(2, 0, 1).to(image)


def complete_maps(
    content: torch.Tensor,
    style: torch.Tensor,
    content_map: torch.Tensor | None,
    style_map: torch.Tensor | None,
    classes: int,
    seed: int,
) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Maps for one (content, style) pair, made where missing, and a note saying how."""
    if content_map is not None and style_map is not None:
        return content_map, style_map, "content and style maps provided"
    if content_map is None and style_map is None:
        made_content, made_style = joint_maps(content, style, classes, seed)
        return (
            made_content,
            made_style,
            f"automatic content and style maps: colour k-means, {made_content.shape[0]} "
            "classes shared by both images",
        )
    if content_map is None:
        assert style_map is not None
        made = map_in_palette(content, style, style_map)
        return (
            made,
            style_map,
            "style map provided; automatic content map: each pixel takes the style-map class "
            "whose mean style colour is nearest",
        )
    made = map_in_palette(style, content, content_map)
    return (
        content_map,
        made,
        "content map provided; automatic style map: each pixel takes the content-map class "
        "whose mean content colour is nearest",
    )

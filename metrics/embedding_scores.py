"""Embedding scores: how close an output is to its style (CLIP, CSD) or content (DINOv2) image.

The optional scores of text-to-image stylization papers, for comparing with them: the cosine
similarity of unit-length embeddings (`metrics.embedding_networks`) of each output and of the
image it should resemble. Higher is closer. They need the ``embeddings`` extra
(``pip install 'stylebench[embeddings]'``) and run only where a suite (or ``--set metrics=...``)
names them. A domain method's output (CycleGAN) is scored by its mean similarity to the images
of its style set; a blend's by the weighted average of its similarities to the blend's parts.
``csd_style_csls`` reads CSD's similarities out by CSLS over a method's whole output set (a set
metric: pairs of each output and its own style image, so not for domain methods or blends).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from stylebench.methods.core.weights import WeightsSource
from stylebench.metrics.base import ImageMetric, MetricContext, MetricInfo, StyleDomain
from stylebench.metrics.embedding_networks import (
    CLIP_VIT_L14,
    CSD_VIT_L,
    DINOV2_VITB14,
    EXTRA_PACKAGES,
    EmbeddingNetwork,
    resolve_weights,
    shared_embedder,
)
from stylebench.metrics.sets import SetData, SetMetric, SetScore


class EmbeddingSimilarity(ImageMetric):
    """Cosine similarity of ``network``'s embeddings of the output and of the image named by
    ``info.needs`` (its content or its style image)."""

    network: ClassVar[EmbeddingNetwork]
    packages: ClassVar[dict[str, str]] = EXTRA_PACKAGES

    def __init__(self, context: MetricContext) -> None:
        super().__init__(context)
        self.embed = shared_embedder(self.network, context.weights, context.device)
        self.identities = [self.embed.identity]
        self._domains: dict[str, torch.Tensor] = {}

    @classmethod
    def preflight(cls, weights: WeightsSource) -> None:
        resolve_weights(cls.network, weights)

    def __call__(
        self, outputs: torch.Tensor, content: torch.Tensor, style: torch.Tensor | None
    ) -> torch.Tensor:
        target = style if "style" in self.info.needs else content
        assert target is not None
        return (self.embed(outputs) * self.embed(target)).sum(dim=1)

    def score_domain(
        self, outputs: torch.Tensor, content: torch.Tensor, domain: StyleDomain
    ) -> torch.Tensor:
        if "style" not in self.info.needs:
            return self(outputs, content, None)
        if domain.name not in self._domains:
            self._domains[domain.name] = torch.cat([self.embed(i[None]) for i in domain.images])
        return (self.embed(outputs) @ self._domains[domain.name].T).mean(dim=1)


class CLIPStyle(EmbeddingSimilarity):
    """CLIP image-image similarity of output and style image (the "CLIP score" of style)."""

    info = MetricInfo(
        name="clip_style",
        higher_is_better=True,
        per="image",
        unit="",
        description="cosine of CLIP ViT-L/14 image embeddings (openai/clip-vit-large-patch14), "
        "output vs style image",
        needs=("style",),
        default=False,
    )
    network = CLIP_VIT_L14


class CSDStyle(EmbeddingSimilarity):
    """CSD style similarity (Somepalli et al. 2024): cosine of its style descriptors."""

    info = MetricInfo(
        name="csd_style",
        higher_is_better=True,
        per="image",
        unit="",
        description="cosine of CSD ViT-L style embeddings (tomg-group-umd/CSD-ViT-L), "
        "output vs style image",
        needs=("style",),
        default=False,
    )
    network = CSD_VIT_L


class DINOContent(EmbeddingSimilarity):
    """DINOv2 similarity of output and content image: is the content still recognisable?"""

    info = MetricInfo(
        name="dino_content",
        higher_is_better=True,
        per="image",
        unit="",
        description="cosine of DINOv2 ViT-B/14 class-token embeddings (facebook/dinov2-base), "
        "output vs content image",
        needs=("content",),
        default=False,
    )
    network = DINOV2_VITB14


#: Neighbours CSLS averages over (Conneau et al. 2018 and MUSE's ``csls_knn_10``).
CSLS_NEIGHBOURS = 10


def csls_scores(pairs: np.ndarray, k: int = CSLS_NEIGHBOURS) -> tuple[np.ndarray, dict]:
    """CSLS (cross-domain similarity local scaling) of each output with its own style image.

    ``pairs``: [N, 2, D] unit-length embeddings of each output and of its style image. With the
    outputs X and the distinct style images Y as the two domains, CSLS(x, y) = 2 cos(x, y) -
    r_Y(x) - r_X(y), where r_Y(x) is the mean cosine of x with its k nearest style images and
    r_X(y) that of y with its k nearest outputs (fewer where a set has fewer than k): a style
    image every output resembles ("a hub") no longer lifts every output's similarity to it."""
    outputs = pairs[:, 0]
    styles, style_of = np.unique(np.round(pairs[:, 1], 6), axis=0, return_inverse=True)
    styles = np.stack([pairs[style_of == j, 1][0] for j in range(len(styles))])
    similarity = outputs @ styles.T  # [N, S]
    k_styles, k_outputs = min(k, len(styles)), min(k, len(outputs))
    r_outputs = np.sort(similarity, axis=1)[:, -k_styles:].mean(axis=1)
    r_styles = np.sort(similarity, axis=0)[-k_outputs:, :].mean(axis=0)
    style_of = style_of.reshape(-1)
    cosine = similarity[np.arange(len(outputs)), style_of]
    values = 2 * cosine - r_outputs - r_styles[style_of]
    details = {
        "neighbours": {"styles": k_styles, "outputs": k_outputs},
        "n_styles": len(styles),
        "cosine_mean": float(cosine.mean()),
    }
    return values, details


class CSDStyleCSLS(SetMetric):
    """CSD style similarity read out by CSLS over the method's whole output set (`csls_scores`):
    each output's similarity to its own style image, less how similar it is to every style and
    how similar its style is to every output."""

    info = MetricInfo(
        name="csd_style_csls",
        higher_is_better=True,
        per="set",
        unit="",
        description="mean CSLS (k=10) of CSD ViT-L style embeddings, each output vs its own "
        "style image, neighbourhoods over the method's outputs and their style images",
        needs=("style",),
        default=False,
    )
    extractor = CSD_VIT_L.name
    packages: ClassVar[dict[str, str]] = EXTRA_PACKAGES

    @classmethod
    def preflight(cls, weights: WeightsSource) -> None:
        super().preflight(weights)  # the set scorer's Inception loads whatever the metric
        resolve_weights(CSD_VIT_L, weights)

    def score(self, data: SetData) -> SetScore:
        pairs = data.pairs.get(self.extractor, np.empty((0, 2, 0)))
        if len(pairs) < 2:
            return SetScore(
                None,
                len(pairs),
                0,
                error=f"{self.info.name} compares each output with its own style image and "
                "needs at least 2 such pairs (a domain method's outputs have no style image)",
            )
        values, details = csls_scores(pairs)
        return SetScore(float(values.mean()), len(pairs), details["n_styles"], details=details)

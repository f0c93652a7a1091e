"""Embedding scores: how close an output is to its style (CLIP, CSD) or content (DINOv2) image.

The optional scores of text-to-image stylization papers, for comparing with them: the cosine
similarity of unit-length embeddings (`metrics.embedding_networks`) of each output and of the
image it should resemble. Higher is closer. They need the ``embeddings`` extra
(``pip install 'stylebench[embeddings]'``) and run only where a suite (or ``--set metrics=...``)
names them. A domain method's output (CycleGAN) is scored by its mean similarity to the images
of its style set; a blend's by the weighted average of its similarities to the blend's parts.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from stylebench.methods.core.weights import WeightsSource
from stylebench.metrics.base import ImageMetric, MetricContext, MetricInfo, StyleDomain
from stylebench.metrics.embedding_networks import (
    CLIP_VIT_L14,
    CSD_VIT_L,
    DINOV2_VITB14,
    Embedder,
    EmbeddingNetwork,
    resolve_weights,
)


class EmbeddingSimilarity(ImageMetric):
    """Cosine similarity of ``network``'s embeddings of the output and of the image named by
    ``info.needs`` (its content or its style image)."""

    network: ClassVar[EmbeddingNetwork]

    def __init__(self, context: MetricContext) -> None:
        super().__init__(context)
        self.embed = Embedder(self.network, context.weights, context.device)
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

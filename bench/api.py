"""stylebench from Python: stylize, score, compare image folders, run a suite.

The same registry, networks, metrics and runner as the ``bench`` command, for a notebook or a
lab's own scripts. Everything defaults to the CPU and seeded **random** weights (no download);
pass ``weights="pretrained"`` for torchvision's ImageNet weights (downloaded once) or a path.

>>> import torch, stylebench
>>> content = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
>>> style = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
>>> out = stylebench.stylize(content, style, "gatys", {"steps": 2})
>>> out.images.shape
torch.Size([1, 3, 32, 32])
>>> stylebench.score(out.images, content, style, "lpips").shape
torch.Size([1])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from stylebench.images import list_images, load_image, to_uint8
from stylebench.methods.base import (
    MethodContext,
    PrepareData,
    Stylized,
    TensorImages,
    resolve_config,
)
from stylebench.methods.core.encoders import load_encoder
from stylebench.methods.core.weights import WeightsSource
from stylebench.metrics.base import MetricContext
from stylebench.metrics.sets import SetData, SetScore
from stylebench.paths import cache_dir
from stylebench.record_model import RunRecord
from stylebench.registry import METHODS, METRICS


def _context(weights: str, device: str, seed: int) -> tuple[MethodContext, WeightsSource]:
    source = WeightsSource.parse(weights, seed=0)
    encoders: dict[str, Any] = {}

    def encoder(arch: str) -> Any:
        if arch not in encoders:
            encoders[arch] = load_encoder(arch, source)
        return encoders[arch]

    return MethodContext(device=torch.device(device), seed=seed, encoder=encoder), source


def stylize(
    content: torch.Tensor,
    style: torch.Tensor | None,
    method: str = "gatys",
    settings: Mapping[str, Any] | None = None,
    *,
    training: torch.Tensor | None = None,
    weights: str = "random",
    device: str = "cpu",
    seed: int = 0,
) -> Stylized:
    """Stylize ``content`` [B, 3, H, W] in [0, 1] with ``style`` (one image per content image;
    None for a style-domain method) by any registered method and settings (a preset by
    ``{"preset": ...}``). A trained method trains first on ``training`` images [N, 3, H, W]
    (on the distinct style images; one network per style, as ``johnson``, learns the first;
    a domain method learns ``style`` as its domain) unless ``settings`` names a
    ``checkpoint``."""
    cls = METHODS.get(method)
    config = resolve_config(cls, dict(settings or {}))
    context, _ = _context(weights, device, seed)
    instance = cls(config, context)
    if cls.needs.training and training is None and not getattr(config, "checkpoint", None):
        raise ValueError(f"{method} is trained: pass training=images or a checkpoint setting")
    domain = cls.needs.style == "domain"
    styles = style if style is not None else torch.empty(0, 3, *content.shape[-2:])
    learnt = styles[:1] if cls.needs.train_styles == "each" else torch.unique(styles, dim=0)
    instance.prepare(
        PrepareData(
            styles=styles[:0] if domain else learnt,
            training=TensorImages(training) if training is not None else None,
            style_domain=TensorImages(styles) if domain else None,
        )
    )
    return instance.stylize(content.to(device), None if domain else style, seeds=None)


def score(
    outputs: torch.Tensor,
    content: torch.Tensor,
    style: torch.Tensor | None = None,
    metric: str = "lpips",
    *,
    weights: str = "random",
    device: str = "cpu",
) -> torch.Tensor:
    """One value per output image of a per-image metric (``bench ls metrics``), [B]."""
    cls = METRICS.get(metric)
    if cls.info.per != "image" or not callable(cls):
        raise ValueError(f"{metric} is not a per-image metric; see set_scores for set metrics")
    context, source = _context(weights, device, 0)
    instance = cls(MetricContext(torch.device(device), source, context.encoder, cache_dir()))
    return instance(outputs.to(device), content.to(device), style)


def _folder(folder: Path, size: int) -> tuple[list[str], torch.Tensor]:
    files = list_images(Path(folder))
    if not files:
        raise ValueError(f"{folder} holds no images")
    return [p.name for p in files], torch.stack([load_image(p, size) for p in files])


def set_scores(
    outputs: Path | str,
    reference: Path | str,
    metrics: Sequence[str] = ("fid", "kid"),
    *,
    content: Path | str | None = None,
    size: int = 256,
    weights: str = "random",
    device: str = "cpu",
    seed: int = 0,
) -> dict[str, SetScore]:
    """FID, KID, FID-infinity or ArtFID of the images in folder ``outputs`` against folder
    ``reference``, each image resized on its shorter side and centre-cropped to ``size`` px
    as in a run. ArtFID also needs ``content``: a folder of the content images under the
    outputs' file names (for LPIPS)."""
    from stylebench.metrics.fid_features import InceptionFeatures

    names, images = _folder(Path(outputs), size)
    _, references = _folder(Path(reference), size)
    source = WeightsSource.parse(weights, seed=0)
    features = InceptionFeatures(source, cache_dir(), torch.device(device))
    image_scores: dict[str, list[float]] = {}
    if any(METRICS.get(m).info.requires for m in metrics):
        if content is None:
            raise ValueError("ArtFID needs content=FOLDER with the content image of each output")
        pairs = torch.stack([load_image(Path(content) / name, size) for name in names])
        image_scores["lpips"] = score(images, pairs, None, "lpips", weights=weights).tolist()
    data = SetData(features(to_uint8(images)), features(to_uint8(references)), image_scores, seed)
    return {name: METRICS.get(name)().score(data) for name in metrics}


def run(
    suite: str = "smoke",
    methods: Sequence[str] | None = None,
    *,
    out: Path | str = "bench-out",
    weights: str | None = None,
    overrides: Sequence[str] = (),
    workers: int | None = None,
) -> RunRecord:
    """Run a suite as ``bench run`` does (Ray, MLflow, report) and return its record as typed
    models (`stylebench.record_model.RunRecord`), read back from the run folder."""
    from stylebench import ray_env

    ray_env.configure(local=True)
    from stylebench.driver import run_benchmark
    from stylebench.preflight import RunOptions
    from stylebench.records import read_record

    outcome = run_benchmark(
        RunOptions(
            suite=suite,
            methods=list(methods) if methods else None,
            out=Path(out),
            weights=weights,
            overrides=list(overrides),
            workers=workers,
        )
    )
    return read_record(outcome.run_dir)


__all__ = ["run", "score", "set_scores", "stylize"]

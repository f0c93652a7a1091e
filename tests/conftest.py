"""Shared fixtures: isolated caches, the shared test images, tiny encoders and suites."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Isolate every cache (also for CLI subprocesses) before anything imports torch or stylebench.
_CACHE = Path(tempfile.mkdtemp(prefix="stylebench-test-cache-"))
os.environ["STYLEBENCH_CACHE"] = str(_CACHE / "stylebench")
os.environ["TORCH_HOME"] = str(_CACHE / "torch")
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.pop("RAY_ADDRESS", None)

REPO = Path(__file__).resolve().parents[1]
SHARED_IMAGES = REPO.parent / "shared" / "images"


@pytest.fixture(scope="session")
def shared_images() -> Path:
    """Real photos and paintings that live beside the repository (never committed)."""
    if not (SHARED_IMAGES / "content").is_dir():
        pytest.skip(f"test images not found at {SHARED_IMAGES}")
    return SHARED_IMAGES


@pytest.fixture(scope="session")
def vgg19():
    from stylebench.methods.core.encoders import load_vgg
    from stylebench.methods.core.weights import WeightsSource

    return load_vgg("vgg19", WeightsSource.parse("random", seed=0))


@pytest.fixture(scope="session")
def context(vgg19):
    import torch

    from stylebench.methods.base import MethodContext
    from stylebench.methods.core.encoders import load_encoder
    from stylebench.methods.core.weights import WeightsSource

    encoders = {"vgg19": vgg19}

    def encoder(arch: str):
        if arch not in encoders:
            encoders[arch] = load_encoder(arch, WeightsSource.parse("random", seed=0))
        return encoders[arch]

    return MethodContext(device=torch.device("cpu"), seed=0, encoder=encoder)


@pytest.fixture(scope="session")
def metric_context(context):
    """What a worker lends its metrics: CPU, seeded random weights, the shared encoders."""
    import torch

    from stylebench.methods.core.weights import WeightsSource
    from stylebench.metrics.base import MetricContext
    from stylebench.paths import cache_dir

    return MetricContext(
        device=torch.device("cpu"),
        weights=WeightsSource.parse("random", seed=0),
        encoder=context.encoder,
        cache=cache_dir(),
    )


def write_tiny_suite(folder: Path, methods: dict | None = None, **extra) -> Path:
    """A YAML suite of 2 procedural content x 1 style image at 32 px, with tiny budgets."""
    import yaml

    spec = {
        "name": "tiny",
        "version": 1,
        "image_size": 32,
        "weights": "random",
        "content": {"generate": "scenes", "count": 2},
        "style": {"generate": "paintings", "count": 1},
        "methods": methods or {"gatys": {"steps": 3}},
        **extra,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path

"""Inception-v3 pool3 features for FID and KID: torch-fidelity's extractor, our weights.

The network is torch-fidelity's ``FeatureExtractorInceptionV3`` (the TF-Inception graph FID is
defined on, ported to PyTorch), which takes uint8 RGB images and resizes them to 299 x 299 with
its TF1-compatible bilinear filter. Its weights come through `methods.core.weights` like every
other network's: torch-fidelity's published file from the hub cache (``pretrained``), a seeded
random initialisation of the same architecture (``random``), or a file. Whatever they are, they
are written once under their SHA-256 into the cache folder and handed to torch-fidelity as a
path, so it never downloads anything itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
from torchvision import models

from stylebench.atomic import atomic_file
from stylebench.methods.core.weights import (
    WeightsIdentity,
    WeightsSource,
    resolve_state_dict,
    state_dict_sha256,
)

NETWORK = "inception_v3_fid"
FEATURES = "2048"
#: What the features mean and how images reach the network (recorded with every FID/KID).
EXTRACTOR = (
    "torch-fidelity FeatureExtractorInceptionV3 ('inception-v3-compat'), pool3 features (2048-d)"
)
RESIZE = "to 299x299 by torch-fidelity's TF1-compatible bilinear (interpolate_bilinear_2d_like_tensorflow1x)"
IMAGE_FORMAT = "uint8 RGB; outputs exactly as stored in PNG (lossless)"


def _skeleton() -> dict[str, torch.Tensor]:
    """Names and shapes of torch-fidelity's Inception: torchvision's Inception-v3 without the
    auxiliary head, with the 1,008-class logits layer of the TF graph."""
    with torch.random.fork_rng(devices=[]):
        shapes = models.inception_v3(weights=None, aux_logits=False, init_weights=False)
    state = {k: v for k, v in shapes.state_dict().items() if not k.endswith("num_batches_tracked")}
    state["fc.weight"] = torch.empty(1008, 2048)
    state["fc.bias"] = torch.empty(1008)
    return state


def he_normal_state(skeleton: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Random weights for an Inception of ``skeleton``'s names and shapes that keep activations
    in a useful range (draws from the global RNG, which `resolve_state_dict` seeds): He-normal
    convolutions, identity batch norm, LeCun-normal linear layers. PyTorch's default init would
    shrink activations layer after layer."""
    state = {}
    for name, tensor in skeleton.items():
        if tensor.dim() == 4:
            state[name] = torch.randn(tensor.shape) * math.sqrt(2.0 / tensor[0].numel())
        elif tensor.dim() == 2:
            state[name] = torch.randn(tensor.shape) / math.sqrt(tensor.shape[1])
        elif name.endswith(("bn.weight", "running_var")):
            state[name] = torch.ones(tensor.shape)
        else:
            state[name] = torch.zeros(tensor.shape)
    return state


def random_state() -> dict[str, torch.Tensor]:
    """torch-fidelity's Inception with `he_normal_state` weights."""
    return he_normal_state(_skeleton())


def _fits(state: Mapping[str, torch.Tensor]) -> bool:
    expected = _skeleton()
    given = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    return given.keys() == expected.keys() and all(
        given[k].shape == expected[k].shape for k in expected
    )


def _weights_file(state: Mapping[str, torch.Tensor], sha256: str, cache: Path) -> Path:
    """The state dict as a file named by its hash (written once, atomically)."""
    path = cache / "weights" / f"{NETWORK}-{sha256[:16]}.pth"
    if not path.is_file():
        with atomic_file(path, "wb") as handle:
            torch.save(dict(state), handle)
    return path


def resolve_weights(source: WeightsSource) -> tuple[dict[str, torch.Tensor], WeightsIdentity]:
    """The Inception weights from ``source``, and their recorded identity."""
    state, described = resolve_state_dict(NETWORK, source, random_init=random_state, matches=_fits)
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    return state, WeightsIdentity(NETWORK, described, state_dict_sha256(state))


def empty_features() -> np.ndarray:
    """Features of no images: a set with no outputs still has the features' shape."""
    return np.empty((0, int(FEATURES)))


class InceptionFeatures:
    """Pool3 features of uint8 images, in batches (results do not depend on the batch size)."""

    def __init__(self, source: WeightsSource, cache: Path, device: torch.device) -> None:
        state, self.identity = resolve_weights(source)
        self.weights_path = _weights_file(state, self.identity.sha256, cache)
        # torch-fidelity loads the file itself (with weights_only=False): it is one we just wrote
        # from tensors loaded safely, named by their hash.
        self.network = FeatureExtractorInceptionV3(
            "inception-v3-compat", [FEATURES], feature_extractor_weights_path=str(self.weights_path)
        ).to(device)
        self.device = device

    def describe(self) -> dict:
        """What produced the features: recorded with every set score and in the cache key."""
        return {
            "extractor": EXTRACTOR,
            "weights": self.identity.as_dict(),
            "resize": RESIZE,
            "format": IMAGE_FORMAT,
        }

    @torch.no_grad()
    def __call__(self, images: np.ndarray, batch_size: int = 16) -> np.ndarray:
        """[N, H, W, 3] uint8 images to [N, 2048] float64 features."""
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(
                f"expected [N, H, W, 3] uint8 images, got {images.dtype} {images.shape}"
            )
        batches = []
        for start in range(0, len(images), batch_size):
            chunk = torch.from_numpy(np.array(images[start : start + batch_size]))
            (features,) = self.network(chunk.permute(0, 3, 1, 2).to(self.device))
            batches.append(features.double().cpu().numpy())
        return np.concatenate(batches) if batches else empty_features()

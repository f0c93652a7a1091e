"""The art-fine-tuned Inception-v3 of ArtFID (Wright & Ommer 2022), as the StyleID protocol uses it.

art-fid (github:matthias-wright/art-fid) and StyleID's copy of it (``evaluation/inception.py``)
define ``Inception3``: torchvision's Inception-v3 with two classification heads (``fc1``,
``fc2``) and two auxiliary heads (``AuxLogits1``, ``AuxLogits2``), fine-tuned on art, published
as ``art_inception.pth``. Features are the 2,048-d average pool, read by
``model(batch, return_features=True)`` on ``ToTensor()`` images: RGB in [0, 1] **without** any
normalisation (``transform_input`` is False) and at the images' own size (StyleID resizes the
shorter side to 512 first; nothing resizes to 299). Both heads are unused for features; the
reference loads the file with ``strict=False``, so a file whose trunk did not fit would silently
leave it random. Here the trunk loads strictly (missing, unexpected or mis-shaped keys are an
error) and the head keys, whatever their sizes, are ignored.

Weights come through `methods.core.weights` like every other network's: the published file
(downloaded once into torch's hub cache; its name carries no hash, so the record's SHA-256 of
the weights is what identifies it), a seeded random initialisation in the published layout
(``--weights random``, labelled as such), or a file.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision import models, transforms

from stylebench.methods.core.inception_trunk import MIN_SIZE
from stylebench.methods.core.weights import (
    WeightsIdentity,
    WeightsSource,
    resolve_state_dict,
    state_dict_sha256,
)
from stylebench.metrics.fid_features import he_normal_state

NETWORK = "art_inception"
#: The two ways the references read images for it, as extractor names: StyleID's
#: ``Resize(512)`` (shorter side to 512 px) and art-fid's own, the image at its size.
VIEWS: dict[str, int | None] = {NETWORK: 512, f"{NETWORK}_native": None}
URL = "https://huggingface.co/matthias-wright/art_inception/resolve/main/art_inception.pth"
#: The published file's two classification and two auxiliary heads (not used for features).
HEADS = ("fc1.", "fc2.", "AuxLogits1.", "AuxLogits2.")
FEATURES = 2048


def protocol_view(pixels: np.ndarray, short_side: int | None, grey: bool = False) -> torch.Tensor:
    """One [H, W, 3] uint8 image as the reference evaluations read it: [C, H', W'] in [0, 1],
    with StyleID's ``Resize(short_side)`` (torchvision on the PIL image) unless None, and its
    ``Grayscale()`` (Pillow's L mode) when ``grey``."""
    steps = [transforms.Resize(short_side)] if short_side else []
    steps += [transforms.Grayscale()] if grey else []
    return transforms.Compose([*steps, transforms.ToTensor()])(Image.fromarray(pixels))


def view_size(height: int, width: int, view: str) -> tuple[int, int]:
    """The size an image of ``height`` x ``width`` has in ``view``: where two views give the
    same size they give the same pixels (Pillow returns an image resized to its own size as it
    is), and so the same features."""
    side = VIEWS[view]
    if side is None or min(height, width) == side:
        return height, width
    short, long = sorted((height, width))
    resized = (side, int(side * long / short))
    return resized if height <= width else resized[::-1]


def _trunk() -> nn.Module:
    """torchvision's Inception-v3 without heads: ``forward`` gives the 2,048-d pool features
    (dropout is the identity in eval mode), no input transform."""
    with torch.random.fork_rng(devices=[]):
        network = models.inception_v3(
            weights=None, aux_logits=False, init_weights=False, transform_input=False
        )
    network.fc = nn.Identity()
    return network


@functools.cache
def _trunk_shapes() -> dict[str, torch.Size]:
    """Names and shapes of the trunk's weights (built once: a network takes a second)."""
    return {
        k: v.shape
        for k, v in _trunk().state_dict().items()
        if not k.endswith("num_batches_tracked")
    }


def published_layout() -> dict[str, torch.Tensor]:
    """Names and shapes of the published file: the trunk, and torchvision's heads twice."""
    with torch.random.fork_rng(devices=[]):
        full = models.inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict()
    state = {}
    for name, tensor in full.items():
        if name.endswith("num_batches_tracked"):
            continue
        if name.startswith(("fc.", "AuxLogits.")):
            head, rest = name.split(".", 1)
            for i in ("1", "2"):
                state[f"{head}{i}.{rest}"] = tensor
        else:
            state[name] = tensor
    return state


def trunk_problems(state: Mapping[str, torch.Tensor]) -> list[str]:
    """What keeps ``state`` from loading into the trunk (head keys ignored): empty if nothing."""
    expected = _trunk_shapes()
    given = {
        k: v
        for k, v in state.items()
        if not k.startswith(HEADS) and not k.endswith("num_batches_tracked")
    }
    problems = []
    if missing := sorted(expected.keys() - given.keys()):
        problems.append(f"missing keys {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    if unexpected := sorted(given.keys() - expected.keys()):
        problems.append(f"unexpected keys {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
    shaped = [k for k in expected.keys() & given.keys() if given[k].shape != expected[k]]
    if shaped:
        problems.append(f"mis-shaped keys {sorted(shaped)[:5]}")
    return problems


def resolve_weights(source: WeightsSource) -> tuple[dict[str, torch.Tensor], WeightsIdentity]:
    """The trunk's weights from ``source``, and their recorded identity (hash of the trunk)."""
    state, described = resolve_state_dict(
        NETWORK,
        source,
        random_init=lambda: he_normal_state(published_layout()),
        matches=lambda loaded: not trunk_problems(loaded),
        url=URL,
    )
    shapes = _trunk_shapes()
    trunk = {k: v for k, v in state.items() if k in shapes}
    return trunk, WeightsIdentity(NETWORK, described, state_dict_sha256(trunk))


class ArtInceptionFeatures:
    """Pool features of 8-bit images in one of the references' views (`VIEWS`), one image per
    forward (sizes may differ; batching equal sizes would give the same numbers)."""

    def __init__(self, source: WeightsSource, device: torch.device) -> None:
        state, self.identity = resolve_weights(source)
        network = _trunk()
        # Every trunk key was checked (`trunk_problems`); only batch-norm counters are absent.
        network.load_state_dict(state, strict=False)
        self.network = network.requires_grad_(False).eval().to(device)
        self.device = device

    def describe(self) -> dict:
        return {
            "extractor": "art-fid / StyleID Inception3 (art-fine-tuned), avgpool features "
            f"({FEATURES}-d), no input normalisation",
            "weights": self.identity.as_dict(),
            "views": {
                name: f"torchvision Resize({side}) of the PIL image, no crop"
                if side
                else "the image at its own size"
                for name, side in VIEWS.items()
            },
        }

    @torch.no_grad()
    def __call__(self, images: list[np.ndarray], view: str = NETWORK) -> np.ndarray:
        """[N, 2048] float64 features of N [H, W, 3] uint8 images in ``view`` (`VIEWS`); NaN
        for an image smaller than the network takes (`MIN_SIZE`) in that view, which the
        metrics report as their error instead of failing the cell."""
        features = np.full((len(images), FEATURES), np.nan)
        for i, image in enumerate(images):
            if min(view_size(*image.shape[:2], view)) < MIN_SIZE:
                continue
            tensor = protocol_view(image, VIEWS[view]).unsqueeze(0).to(self.device)
            features[i] = self.network(tensor)[0].double().cpu().numpy()
        return features

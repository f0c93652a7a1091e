"""Cached Inception features of reference sets, so a reference set is embedded once, not per run.

An entry is keyed by a SHA-256 of everything that decides the features: the reference files
(names and content hashes, in order), how they were preprocessed and at which resolution, and
the extractor (network, weights hash, resize filter, image format). Change any of these and the
key changes, so a stale entry can never be read. Entries are written atomically (a temporary file
renamed into place), so concurrent workers and interrupted runs never leave a half-written one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stylebench.atomic import atomic_file


@dataclass(frozen=True)
class ReferenceSet:
    """A suite's reference images as the extractor sees them, and what identifies them."""

    images: np.ndarray  # [N, H, W, 3] uint8, preprocessed by the one image loader
    files: Sequence[tuple[str, str]]  # (name, sha256 of the file) per image, in order
    preprocess: str
    image_size: int


def cache_key(reference: ReferenceSet, extractor: dict) -> str:
    """The content hash an entry is stored under."""
    identity = {
        "files": [list(f) for f in reference.files],
        "preprocess": reference.preprocess,
        "image_size": reference.image_size,
        "extractor": extractor,
    }
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def reference_features(
    reference: ReferenceSet,
    extractor: dict,
    compute: Callable[[np.ndarray], np.ndarray],
    folder: Path,
) -> tuple[np.ndarray, str, bool]:
    """``(features, key, hit)``: from the cache when present, else computed and stored."""
    key = cache_key(reference, extractor)
    path = folder / f"{key}.npy"
    if path.is_file():
        try:
            features = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            features = None  # unreadable (e.g. a disk error): computed and written again
        if features is not None and features.shape[0] == len(reference.files):
            return features, key, True
    features = compute(reference.images)
    with atomic_file(path, "wb") as handle:
        np.save(handle, features, allow_pickle=False)
    return features, key, False

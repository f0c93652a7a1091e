"""The reference-feature cache: reused when nothing changed, missed when anything that decides
the features changed, written atomically."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from stylebench.metrics.reference_stats import ReferenceSet, cache_key, reference_features

EXTRACTOR = {
    "extractor": "inception",
    "weights": {"network": "inception_v3_fid", "sha256": "a" * 64, "source": "random(seed=0)"},
    "resize": "bilinear 299",
    "format": "uint8 PNG",
}


@pytest.fixture
def reference():
    images = np.random.default_rng(0).integers(0, 256, size=(3, 8, 8, 3), dtype=np.uint8)
    files = [(f"{i}.png", f"{i:064x}") for i in range(3)]
    return ReferenceSet(images=images, files=files, preprocess="bicubic", image_size=8)


class Counting:
    """A stand-in extractor that counts how often it is asked to compute."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, images: np.ndarray) -> np.ndarray:
        self.calls += 1
        return images.reshape(len(images), -1).astype(np.float64) * self.calls


def test_a_second_run_reads_the_cache(reference, tmp_path):
    compute = Counting()
    first, key, hit = reference_features(reference, EXTRACTOR, compute, tmp_path)
    again, key_again, hit_again = reference_features(reference, EXTRACTOR, compute, tmp_path)
    assert (hit, hit_again, compute.calls) == (False, True, 1)
    assert key == key_again and np.array_equal(first, again)
    assert [p.name for p in tmp_path.iterdir()] == [f"{key}.npy"]  # no temporary files left


@pytest.mark.parametrize(
    "change",
    [
        {"files": [("0.png", "f" * 64), ("1.png", f"{1:064x}"), ("2.png", f"{2:064x}")]},
        {"files": [("x.png", f"{0:064x}"), ("1.png", f"{1:064x}"), ("2.png", f"{2:064x}")]},
        {"preprocess": "lanczos"},
        {"image_size": 16},
        {"extractor": {**EXTRACTOR, "weights": {**EXTRACTOR["weights"], "sha256": "b" * 64}}},
        {"extractor": {**EXTRACTOR, "resize": "bicubic 299"}},
        {"extractor": {**EXTRACTOR, "format": "JPEG q90"}},
    ],
    ids=["file-content", "file-name", "preprocess", "resolution", "weights", "resize", "format"],
)
def test_changing_any_part_of_the_key_misses(reference, tmp_path, change):
    compute = Counting()
    reference_features(reference, EXTRACTOR, compute, tmp_path)
    change = dict(change)
    extractor = change.pop("extractor", EXTRACTOR)
    changed = dataclasses.replace(reference, **change)
    _, key, hit = reference_features(changed, extractor, compute, tmp_path)
    assert not hit and compute.calls == 2
    assert key != cache_key(reference, EXTRACTOR)


def test_file_order_is_part_of_the_key(reference):
    swapped = dataclasses.replace(reference, files=list(reversed(reference.files)))
    assert cache_key(swapped, EXTRACTOR) != cache_key(reference, EXTRACTOR)


def test_an_unreadable_entry_is_recomputed(reference, tmp_path):
    compute = Counting()
    _, key, _ = reference_features(reference, EXTRACTOR, compute, tmp_path)
    (tmp_path / f"{key}.npy").write_bytes(b"not numpy")
    features, _, hit = reference_features(reference, EXTRACTOR, compute, tmp_path)
    assert not hit and compute.calls == 2 and features.shape == (3, 192)

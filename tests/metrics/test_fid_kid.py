"""FID and KID validity: ours equal torch-fidelity's and clean-fid's on the same images and the
same (seeded random) Inception weights; a set against itself scores ~0; the batch size does not
matter; KID subsets never exceed the smaller set; small sets are flagged or refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch_fidelity
from cleanfid import fid as cleanfid

from stylebench.images import open_rgb, write_png
from stylebench.methods.core.weights import WeightsSource
from stylebench.metrics.distances import fid, kid
from stylebench.metrics.fid_features import InceptionFeatures, resolve_weights
from stylebench.metrics.reference_stats import ReferenceSet
from stylebench.metrics.sets import FID, KID, SetData, SetScorer
from stylebench.suites import procedural

SEED = 7
N_A, N_B = 10, 12


def _write_set(folder: Path, images: list) -> np.ndarray:
    """Write PNGs named so that sorted order is creation order; return them as read back."""
    folder.mkdir(parents=True)
    for i, image in enumerate(images):
        write_png(np.asarray(image, dtype=np.uint8), folder / f"{i:03d}.png")
    return np.stack([np.asarray(open_rgb(p)) for p in sorted(folder.glob("*.png"))])


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    """Photo-like scenes (A) and brush-stroke paintings (B) at 32 px, as PNG folders."""
    root = tmp_path_factory.mktemp("sets")
    a = _write_set(root / "a", [procedural.scene(i, size=32) for i in range(N_A)])
    b = _write_set(root / "b", [procedural.painting(i, size=32) for i in range(N_B)])
    return {"a": (root / "a", a), "b": (root / "b", b)}


@pytest.fixture(scope="module")
def inception(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return InceptionFeatures(WeightsSource.parse("random", seed=0), cache, torch.device("cpu"))


@pytest.fixture(scope="module")
def features(sets, inception):
    return {name: inception(images) for name, (_, images) in sets.items()}


def relative(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def test_fid_and_kid_equal_torch_fidelity(sets, inception, features):
    data = SetData(features["a"], features["b"], {}, seed=SEED)
    ours_fid = FID().score(data)
    ours_kid = KID().score(data)
    reference = torch_fidelity.calculate_metrics(
        input1=str(sets["a"][0]),
        input2=str(sets["b"][0]),
        fid=True,
        kid=True,
        feature_extractor="inception-v3-compat",
        feature_extractor_weights_path=str(inception.weights_path),
        kid_subset_size=ours_kid.details["subset_size"],
        kid_subsets=ours_kid.details["subsets"],
        rng_seed=SEED,
        cuda=False,
        cache=False,
        verbose=False,
        batch_size=8,
    )
    assert ours_fid.n == N_A and ours_fid.n_reference == N_B
    assert ours_kid.details["subset_size"] == min(N_A, N_B)
    assert relative(ours_fid.value, reference["frechet_inception_distance"]) < 1e-4
    assert relative(ours_kid.value, reference["kernel_inception_distance_mean"]) < 1e-4
    assert relative(ours_kid.std, reference["kernel_inception_distance_std"]) < 1e-4
    assert ours_fid.value > 1e-3 and ours_kid.value > 0  # different sets are told apart


def test_fid_and_kid_equal_clean_fids_on_the_same_features(features):
    """clean-fid's formulas (scipy's sqrtm for FID; its own KID loop) on our features."""
    a, b = features["a"], features["b"]
    assert relative(fid(a, b), cleanfid.fid_from_feats(a, b)) < 1e-4
    np.random.seed(SEED)  # clean-fid samples with the global RNG, its second argument first
    reference_kid = cleanfid.kernel_distance(b, a, num_subsets=100)
    ours_kid, _ = kid(a, b, seed=SEED)
    assert relative(ours_kid, reference_kid) < 1e-4


def test_a_set_against_itself_scores_zero(features):
    a = features["a"]
    scale = fid(a, features["b"])
    assert abs(fid(a, a)) < 1e-9 * scale
    assert abs(FID().score(SetData(a, a, {}, SEED)).value) < 1e-9 * scale
    # KID's unbiased estimate of a sample against itself is not exactly 0 (its diagonal terms are
    # left out), only close to it, and closer the larger the subsets.
    kid_self, _ = kid(a, a, seed=SEED)
    kid_other, _ = kid(a, features["b"], seed=SEED)
    assert abs(kid_self) < 0.25 * kid_other


def test_results_do_not_depend_on_the_batch_size(sets, inception, features):
    images, once = sets["b"][1][:4], features["b"][:4]  # extracted in one batch of 12
    for batch_size in (1, 3):
        again = inception(images, batch_size=batch_size)
        np.testing.assert_allclose(again, once, rtol=1e-4, atol=1e-5)
        assert relative(fid(features["a"], again), fid(features["a"], once)) < 1e-4


def test_kid_subsets_never_exceed_the_smaller_set_and_are_seeded(features):
    small = features["a"][:5]
    score = KID().score(SetData(small, features["b"], {}, SEED))
    assert score.details["subset_size"] == 5 and score.n == 5 and score.std is not None
    again = KID().score(SetData(small, features["b"], {}, SEED))
    other = KID().score(SetData(small, features["b"], {}, SEED + 1))
    assert again.value == score.value and other.value != score.value
    with pytest.raises(ValueError, match="at most the smaller set"):
        kid(small, features["b"], seed=0, subset_size=6)


def test_small_sets_are_flagged_and_too_small_ones_refused(features):
    flagged = FID().score(SetData(features["a"], features["b"], {}, SEED))
    assert flagged.value is not None and "2,048" in flagged.warnings[0]
    refused = FID().score(SetData(features["a"][:1], features["b"], {}, SEED))
    assert refused.value is None and "at least 2" in refused.error
    assert FID.info.higher_is_better is False and KID.info.per == "set"


def test_set_scorer_records_settings_and_reuses_reference_features(sets, tmp_path):
    """A second scoring of the same reference set reads the cache and gives the same numbers."""
    from stylebench.metrics.base import MetricContext

    context = MetricContext(
        device=torch.device("cpu"),
        weights=WeightsSource.parse("random", seed=0),
        encoder=lambda arch: pytest.fail("set metrics need no VGG"),
        cache=tmp_path,
    )
    scorer = SetScorer(context, set())
    reference = ReferenceSet(
        images=sets["b"][1][:3],
        files=[(f"{i}.png", f"{i:064x}") for i in range(3)],
        preprocess="test",
        image_size=32,
    )
    outputs = scorer.features(sets["a"][1][:3])
    first, settings = scorer.score(outputs, reference, {}, [FID(), KID()], SEED)
    second, settings_again = scorer.score(outputs, reference, {}, [FID(), KID()], SEED)
    assert settings["reference"]["cache_hit"] is False
    assert settings_again["reference"]["cache_hit"] is True
    assert settings["reference"]["cache_key"] == settings_again["reference"]["cache_key"]
    assert first["fid"].value == pytest.approx(second["fid"].value, rel=1e-12)
    _, identity = resolve_weights(WeightsSource.parse("random", seed=0))
    assert settings["weights"] == identity.as_dict() and settings["weights"]["random"] is True
    assert "299" in settings["resize"] and "PNG" in settings["format"]

"""The ``*_styleid`` metrics equal StyleID's evaluation (rebuilt in `reference_styleid_eval`)
run on the same files on disk with the same weights: outputs written as a run writes them,
inputs duplicated as ``copy_inputs.py`` does, the art-Inception file loaded by both."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from sklearn.linear_model import LinearRegression

from stylebench.images import to_uint8, write_png
from stylebench.methods.core.weights import PRETRAINED_URLS, WeightsSource, WeightsUnavailable
from stylebench.metrics import art_inception, fid_features
from stylebench.metrics.art_inception import published_layout, resolve_weights
from stylebench.metrics.distances import fid
from stylebench.metrics.fid_features import he_normal_state
from stylebench.metrics.perceptual_distance import LPIPS
from stylebench.metrics.sets import SetData, SetScorer
from stylebench.metrics.styleid_protocol import (
    ArtFIDStyleID,
    FIDStyleID,
    LPIPSGrayStyleID,
    LPIPSStyleID,
    styleid_fid,
)
from stylebench.registry import METRICS
from tests.metrics import reference_styleid_eval as reference
from tests.servers import served_folder

SEED = 3


def _random_layout(seed: int) -> dict[str, torch.Tensor]:
    """Random weights saved in the published file's layout (trunk and four heads)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return he_normal_state(published_layout())


@pytest.fixture(scope="module")
def protocol(tmp_path_factory, metric_context):
    """2 contents (40 x 56, not square: Resize(512) matters) x 3 styles (64 x 64), outputs
    stored as PNG like a run's, an art-Inception file in the published layout, and both
    computations."""
    root = tmp_path_factory.mktemp("styleid")
    generator = torch.Generator().manual_seed(SEED)
    contents = torch.rand(2, 3, 40, 56, generator=generator)
    styles = torch.rand(3, 3, 64, 64, generator=generator)
    outputs = torch.rand(6, 3, 40, 56, generator=generator)  # float, as a method returns them
    for folder in ("cnt", "sty", "tar"):
        (root / folder).mkdir()
    for i, image in enumerate(to_uint8(contents)):
        write_png(image, root / "cnt" / f"{i:02d}.png")
    for i, image in enumerate(to_uint8(styles)):
        write_png(image, root / "sty" / f"{i:02d}.png")
    cells = [(c, s) for c in range(2) for s in range(3)]
    for (c, s), image in zip(cells, to_uint8(outputs), strict=True):
        write_png(image, root / "tar" / f"{c:02d}_stylized_{s:02d}.png")
    # A weights folder, as a user passes one: files named as published.
    (root / "weights").mkdir()
    weights = root / "weights" / "art_inception.pth"
    torch.save(_random_layout(SEED), weights)
    tf_name = PRETRAINED_URLS[fid_features.NETWORK].rsplit("/", 1)[-1]
    torch.save(fid_features.random_state(), root / "weights" / tf_name)
    folder = WeightsSource.parse(str(root / "weights"))
    context = dataclasses.replace(metric_context, weights=folder)
    scorer = SetScorer(context, {art_inception.NETWORK})
    style_pixels = to_uint8(styles)
    pairs = np.stack(
        [
            scorer.pair_features(pixels, f"style-{s}", style_pixels[s])
            for (c, s), pixels in zip(cells, to_uint8(outputs), strict=True)
        ]
    )
    lpips = LPIPSStyleID(metric_context)
    grey = LPIPSGrayStyleID(metric_context)
    content_of = contents[[c for c, _ in cells]]
    scores = {
        "lpips_styleid": lpips(outputs, content_of, None).tolist(),
        "lpips_gray_styleid": grey(outputs, content_of, None).tolist(),
    }
    data = SetData(np.zeros((6, 4)), np.zeros((3, 4)), scores, seed=0, pairs=pairs)
    ours = {
        "fid_styleid": FIDStyleID().score(data),
        "artfid_styleid": ArtFIDStyleID().score(data),
        **{name: float(np.mean(values)) for name, values in scores.items()},
    }

    model = reference.load_model(weights)
    cnt_eval, sty_eval = reference.copy_inputs(root / "cnt", root / "sty")
    stylized = reference.activations(root / "tar", model)
    style = reference.activations(sty_eval, model)
    fid_value = reference.fid_infinity(stylized, style)
    cnt = reference.content_distance(root / "tar", cnt_eval, lpips.model, grey=False)
    gray = reference.content_distance(root / "tar", cnt_eval, lpips.model, grey=True)
    expected = {
        "fid_styleid": fid_value,
        "artfid_styleid": (cnt + 1) * (fid_value + 1),
        "lpips_styleid": cnt,
        "lpips_gray_styleid": gray,
        "stylized": stylized,
        "style": style,
        "outputs": outputs,
        "contents": content_of,
    }
    return ours, expected, pairs


def test_features_equal_the_reference_models_on_the_files(protocol):
    _, expected, pairs = protocol
    scale = np.abs(expected["stylized"]).max()
    np.testing.assert_allclose(pairs[:, 0], expected["stylized"], rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(pairs[:, 1], expected["style"], rtol=0, atol=1e-5 * scale)


@pytest.mark.parametrize(
    "name", ["fid_styleid", "artfid_styleid", "lpips_styleid", "lpips_gray_styleid"]
)
def test_each_variant_equals_styleid_evaluation(protocol, name):
    ours, expected, _ = protocol
    value = ours[name] if isinstance(ours[name], float) else ours[name].value
    assert value == pytest.approx(expected[name], rel=1e-4)


def test_lpips_variants_differ_from_the_plain_metrics_they_vary(protocol, metric_context):
    """Not the same numbers under another name: the 8-bit output at Resize(512) is not the float
    output at its own size."""
    ours, expected, _ = protocol
    plain = LPIPS(metric_context)(expected["outputs"], expected["contents"], None).mean().item()
    assert abs(ours["lpips_styleid"] - plain) > 1e-3 * plain


def test_scores_record_variant_preprocessing_interval_and_n(protocol):
    ours, _, _ = protocol
    fid_score, artfid_score = ours["fid_styleid"], ours["artfid_styleid"]
    assert (fid_score.n, fid_score.n_reference) == (6, 6)
    assert fid_score.details["variant"] == "styleid"
    assert "Resize(512)" in fid_score.details["preprocessing"]
    assert fid_score.details["sizes"][0] == 5000
    assert fid_score.interval["resamples"] == 100
    assert artfid_score.details["fid_styleid"] == fid_score.value
    assert artfid_score.interval["low"] < artfid_score.value < artfid_score.interval["high"]


def test_above_the_fit_start_the_subsets_are_real_and_the_line_is_read_at_zero():
    rng = np.random.default_rng(0)
    outputs, styles = rng.normal(size=(40, 8)), rng.normal(size=(40, 8)) + 0.5
    value, details = styleid_fid(outputs, styles, seed=1, start=20)
    sizes = np.array(details["sizes"])
    assert sizes[0] == 20 and sizes[-1] == 40 and len(sizes) == 8
    assert details["fids"][-1] == pytest.approx(fid(outputs, styles))
    fit = LinearRegression().fit(1 / sizes.reshape(-1, 1), np.array(details["fids"]))
    assert value == pytest.approx(fit.intercept_, rel=1e-9)
    assert value != pytest.approx(fid(outputs, styles), rel=1e-3)


def test_domain_outputs_have_no_pairs_and_get_an_error_not_a_number():
    data = SetData(np.zeros((4, 4)), np.zeros((4, 4)), {}, seed=0, pairs=None)
    score = FIDStyleID().score(data)
    assert score.value is None and "style image" in score.error


def test_the_variants_run_only_where_a_suite_names_them():
    assert all(not METRICS.get(name).info.default for name in ("fid_styleid", "lpips_styleid"))
    assert METRICS.get("artfid_styleid").info.requires == ("lpips_styleid",)


def test_published_layout_loads_strictly_and_a_wrong_trunk_is_refused(tmp_path):
    path = tmp_path / "art_inception.pth"
    state = _random_layout(1)
    torch.save(state, path)
    _, identity = resolve_weights(WeightsSource.parse(str(path)))
    assert identity.network == "art_inception" and not identity.is_random
    del state["Mixed_7c.branch_pool.conv.weight"]
    state["Mixed_7c.extra.weight"] = torch.zeros(1)
    torch.save(state, path)
    with pytest.raises(WeightsUnavailable, match="does not fit art_inception"):
        resolve_weights(WeightsSource.parse(str(path)))
    problems = art_inception.trunk_problems(state)
    assert "Mixed_7c.branch_pool.conv.weight" in problems[0]
    assert "Mixed_7c.extra.weight" in problems[1]


def test_random_weights_are_seeded_and_labelled():
    _, first = resolve_weights(WeightsSource.parse("random", seed=4))
    _, again = resolve_weights(WeightsSource.parse("random", seed=4))
    _, other = resolve_weights(WeightsSource.parse("random", seed=5))
    assert first == again and first.sha256 != other.sha256 and first.is_random


def test_pretrained_downloads_once_from_its_url_and_then_works_offline(tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    torch.save(_random_layout(2), served / "art_inception.pth")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with served_folder(served) as base:
        monkeypatch.setattr(art_inception, "URL", f"{base}/art_inception.pth")
        _, identity = resolve_weights(WeightsSource.parse("pretrained"))
    assert identity.source == "pretrained:art_inception.pth" and not identity.is_random
    assert (tmp_path / "hub" / "checkpoints" / "art_inception.pth").is_file()
    assert resolve_weights(WeightsSource.parse("pretrained"))[1] == identity  # from the cache


def test_offline_without_the_file_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(art_inception, "URL", "http://127.0.0.1:9/art_inception.pth")
    with pytest.raises(WeightsUnavailable) as info:
        resolve_weights(WeightsSource.parse("pretrained"))
    assert "--weights random" in str(info.value) and "\n" not in str(info.value)

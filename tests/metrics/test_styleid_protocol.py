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
from stylebench.metrics.art_inception import (
    ArtInceptionFeatures,
    published_layout,
    resolve_weights,
)
from stylebench.metrics.distances import fid
from stylebench.metrics.fid_features import he_normal_state
from stylebench.metrics.perceptual_distance import LPIPS
from stylebench.metrics.sets import SetData, SetScorer
from stylebench.metrics.styleid_protocol import (
    ArtFIDReference,
    ArtFIDStyleID,
    FIDReference,
    FIDStyleID,
    LPIPSGrayStyleID,
    LPIPSReference,
    LPIPSStyleID,
    fid_infinity_as_called,
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


NATIVE = f"{art_inception.NETWORK}_native"


@pytest.fixture(scope="module")
def protocol(tmp_path_factory, metric_context):
    """2 contents (80 x 96, not square: Resize(512) matters) x 3 styles (96 x 96), outputs
    stored as PNG like a run's, an art-Inception file in the published layout, and both
    computations: ours, and the references' on the files on disk (StyleID's at Resize(512),
    art-fid's at the images' own size)."""
    root = tmp_path_factory.mktemp("styleid")
    generator = torch.Generator().manual_seed(SEED)
    contents = torch.rand(2, 3, 80, 96, generator=generator)
    styles = torch.rand(3, 3, 96, 96, generator=generator)
    outputs = torch.rand(6, 3, 80, 96, generator=generator)  # float, as a method returns them
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
    scorer = SetScorer(context, {art_inception.NETWORK, NATIVE})
    style_pixels = to_uint8(styles)
    per_cell = [
        scorer.pair_features(pixels, f"style-{s}", style_pixels[s])
        for (c, s), pixels in zip(cells, to_uint8(outputs), strict=True)
    ]
    pairs = {view: np.stack([cell[view] for cell in per_cell]) for view in per_cell[0]}
    lpips_metrics = {
        cls.info.name: cls(metric_context)
        for cls in (LPIPSStyleID, LPIPSGrayStyleID, LPIPSReference)
    }
    content_of = contents[[c for c, _ in cells]]
    scores = {
        name: metric(outputs, content_of, None).tolist() for name, metric in lpips_metrics.items()
    }
    data = SetData(np.zeros((6, 4)), np.zeros((3, 4)), scores, seed=0, pairs=pairs)
    ours = {
        cls.info.name: cls().score(data)
        for cls in (FIDStyleID, ArtFIDStyleID, FIDReference, ArtFIDReference)
    }
    ours |= {name: float(np.mean(values)) for name, values in scores.items()}

    model = reference.load_model(weights)
    lpips = lpips_metrics["lpips_styleid"].model
    cnt_eval, sty_eval = reference.copy_inputs(root / "cnt", root / "sty")
    expected = {"outputs": outputs, "contents": content_of}
    for view, side, suffix in (
        (art_inception.NETWORK, 512, "styleid"),
        (NATIVE, None, "reference"),
    ):
        stylized = reference.activations(root / "tar", model, side)
        style = reference.activations(sty_eval, model, side)
        fid_value = reference.fid_infinity(stylized, style)
        cnt = reference.content_distance(root / "tar", cnt_eval, lpips, False, side)
        expected |= {
            f"fid_{suffix}": fid_value,
            f"artfid_{suffix}": (cnt + 1) * (fid_value + 1),
            f"lpips_{suffix}": cnt,
            f"features:{view}": (stylized, style),
        }
    expected["lpips_gray_styleid"] = reference.content_distance(
        root / "tar", cnt_eval, lpips, True, 512
    )
    return ours, expected, pairs


@pytest.mark.parametrize("view", [art_inception.NETWORK, NATIVE])
def test_features_equal_the_reference_models_on_the_files(protocol, view):
    _, expected, pairs = protocol
    stylized, style = expected[f"features:{view}"]
    scale = np.abs(stylized).max()
    np.testing.assert_allclose(pairs[view][:, 0], stylized, rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(pairs[view][:, 1], style, rtol=0, atol=1e-5 * scale)


@pytest.mark.parametrize(
    "name",
    [
        "fid_styleid",
        "artfid_styleid",
        "lpips_styleid",
        "lpips_gray_styleid",
        "fid_reference",
        "artfid_reference",
        "lpips_reference",
    ],
)
def test_each_variant_equals_its_reference_evaluation(protocol, name):
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
    assert artfid_score.details["fid"] == fid_score.value
    assert artfid_score.interval["low"] < artfid_score.value < artfid_score.interval["high"]
    assert ours["fid_reference"].details["variant"] == "art-fid"
    assert "own size" in ours["fid_reference"].details["preprocessing"]


def test_above_the_fit_start_the_subsets_are_real_and_the_line_is_read_at_zero():
    rng = np.random.default_rng(0)
    outputs, styles = rng.normal(size=(40, 8)), rng.normal(size=(40, 8)) + 0.5
    value, details = fid_infinity_as_called(outputs, styles, seed=1, start=20)
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


def test_images_too_small_for_the_network_in_a_view_are_an_error_not_a_failed_cell():
    """64 px images read at their own size (art-fid's view) are below Inception's 75 px: their
    features are NaN and the metric says why; the Resize(512) view still works."""
    small = np.zeros((64, 64, 3), dtype=np.uint8)
    features = ArtInceptionFeatures(WeightsSource.parse("random"), torch.device("cpu"))
    assert np.isnan(features([small], NATIVE)).all()
    pairs = {NATIVE: np.full((4, 2, 8), np.nan), art_inception.NETWORK: np.ones((4, 2, 8))}
    data = SetData(np.zeros((4, 4)), np.zeros((4, 4)), {}, seed=0, pairs=pairs)
    score = FIDReference().score(data)
    assert score.value is None and "at least 75 px" in score.error


def test_the_variants_run_only_where_a_suite_names_them():
    names = ("fid_styleid", "lpips_styleid", "fid_reference", "lpips_reference")
    assert all(not METRICS.get(name).info.default for name in names)
    assert METRICS.get("artfid_styleid").info.requires == ("lpips_styleid",)
    assert METRICS.get("artfid_reference").info.requires == ("lpips_reference",)


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

"""The embedding scores (CLIP style, CSD style, DINOv2 content) equal their reference packages'
forward on the same weights and the same PNG files, and their weights load, download and fail
the way every network's do.

References, rebuilt here on identical random weights (tiny widths, the published structure):
CLIP: transformers' ``CLIPVisionModelWithProjection.from_pretrained`` of a folder holding the
published file layout, on open_clip's evaluation transform (OpenAI CLIP's); DINOv2: transformers'
``Dinov2Model.from_pretrained`` of a file in the published (transformers 4) names, on DINOv2's
evaluation transform; CSD: learn2phoenix/CSD's ``CSD_CLIP`` forward (OpenAI CLIP's visual trunk
with ``proj`` removed, ``feature @ last_layer_style``, L2-normalised) on open_clip's OpenAI-layout
``VisionTransformer`` (the same module and names as the OpenAI CLIP code CSD vendors), on CSD's
``transforms_branch0``.
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest
import torch
from open_clip.model import QuickGELU
from open_clip.transform import image_transform
from open_clip.transformer import VisionTransformer
from PIL import Image
from safetensors.torch import save_file
from torchvision import transforms
from transformers import (
    CLIPVisionConfig,
    CLIPVisionModelWithProjection,
    Dinov2Config,
    Dinov2Model,
)

from stylebench.methods.core.weights import WeightsSource, WeightsUnavailable
from stylebench.metrics import embedding_networks, embedding_scores
from stylebench.metrics.base import MetricContext, StyleDomain
from stylebench.metrics.embedding_networks import (
    CLIP_VIT_L14,
    CSD_VIT_L,
    DINOV2_VITB14,
    IMAGENET_MEAN,
    IMAGENET_STD,
    OPENAI_MEAN,
    OPENAI_STD,
    published_layout,
    resolve_weights,
)
from tests.servers import served_folder

TINY = dict(num_hidden_layers=2, num_attention_heads=2, hidden_size=64, intermediate_size=128)
CPU = torch.device("cpu")


def tiny(network):
    """``network`` at a test's width and depth: every other published setting kept."""
    config = dict(network.config, **TINY)
    if "projection_dim" in config:
        config["projection_dim"] = 32
    if "style_dim" in config:
        config["style_dim"] = 32
    return dataclasses.replace(network, name=f"tiny_{network.name}", config=config)


def _random_published(network, seed=0):
    """Seeded random weights in the published layout, their matrices scaled up so that the
    attention is far from uniform and the embeddings of different images far apart (at the
    initialisation's std of 0.02 a swapped query and key would go unnoticed)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        state = published_layout(network)
        lively = {k: v * 8 if v.dim() == 2 and "embed" not in k else v for k, v in state.items()}
        return {k: v.contiguous() for k, v in lively.items()}


@pytest.fixture(scope="module")
def pngs(tmp_path_factory):
    """Three images of different sizes and shapes, on disk as 8-bit PNG, and as tensors."""
    folder = tmp_path_factory.mktemp("pngs")
    rng = np.random.default_rng(0)
    paths, tensors = [], []
    for i, (h, w) in enumerate([(48, 64), (64, 40), (56, 56)]):
        smooth = rng.random((h // 8, w // 8, 3))
        pixels = np.kron(smooth, np.ones((8, 8, 1))) * 200 + rng.random((h, w, 3)) * 55
        path = folder / f"{i}.png"
        Image.fromarray(pixels.astype(np.uint8)).save(path)
        paths.append(path)
        tensors.append(torch.from_numpy(np.array(Image.open(path))).permute(2, 0, 1) / 255)
    return paths, tensors


def _reference_cosines(embed, paths, transform):
    """Cosine of each file's reference embedding with the next file's (a ring of pairs)."""
    batch = torch.stack([transform(Image.open(p).convert("RGB")) for p in paths])
    with torch.no_grad():
        e = torch.nn.functional.normalize(embed(batch), dim=1)
    return (e * e.roll(-1, dims=0)).sum(dim=1)


def _ours(metric_cls, network, tensors, monkeypatch, tmp_path, **context):
    monkeypatch.setattr(metric_cls, "network", network)
    metric = metric_cls(_context(tmp_path, **context))
    ours = []
    for i, image in enumerate(tensors):
        other = tensors[(i + 1) % len(tensors)]
        ours.append(metric(image[None], other[None], other[None])[0])
    return torch.stack(ours), metric


def _context(tmp_path, weights="random", seed=0):
    return MetricContext(
        device=CPU,
        weights=WeightsSource.parse(str(weights), seed=seed),
        encoder=lambda name: pytest.fail("embedding scores use no shared encoder"),
        cache=tmp_path,
    )


def test_clip_style_equals_transformers_on_open_clip_preprocessing(pngs, tmp_path, monkeypatch):
    network = tiny(CLIP_VIT_L14)
    state = _random_published(network)
    # The published file is the whole CLIP model: its text tower must be left alone.
    published = state | {
        "text_model.final_layer_norm.weight": torch.ones(8),
        "logit_scale": torch.ones(()),
    }
    folder = tmp_path / "clip"
    CLIPVisionConfig(**network.config).save_pretrained(folder)
    save_file(published, folder / "model.safetensors")
    save_file(published, tmp_path / "clip.safetensors")
    reference = CLIPVisionModelWithProjection.from_pretrained(folder).eval()
    expected = _reference_cosines(
        lambda x: reference(pixel_values=x).image_embeds,
        pngs[0],
        image_transform(224, is_train=False, mean=OPENAI_MEAN, std=OPENAI_STD),
    )
    ours, metric = _ours(
        embedding_scores.CLIPStyle, network, pngs[1], monkeypatch, tmp_path,
        weights=tmp_path / "clip.safetensors",
    )  # fmt: skip
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-5)
    assert expected.max() < 0.97  # the images are told apart: the check has teeth
    assert not metric.identities[0].is_random


def test_dino_content_equals_transformers_on_dinov2_preprocessing(pngs, tmp_path, monkeypatch):
    network = tiny(DINOV2_VITB14)
    folder = tmp_path / "dino"
    Dinov2Config(**network.config).save_pretrained(folder)
    save_file(_random_published(network), folder / "model.safetensors")
    reference = Dinov2Model.from_pretrained(folder).eval()  # transformers renames the file's keys
    dinov2_eval = transforms.Compose(
        [
            transforms.Resize(256, interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.CenterCrop(224),
            transforms.ToTensor(),
            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )
    expected = _reference_cosines(
        lambda x: reference(pixel_values=x).pooler_output, pngs[0], dinov2_eval
    )
    ours, _ = _ours(
        embedding_scores.DINOContent, network, pngs[1], monkeypatch, tmp_path,
        weights=folder / "model.safetensors",
    )  # fmt: skip
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-5)
    assert expected.max() < 0.97


def _csd_reference(network, state):
    """CSD's ``CSD_CLIP`` on open_clip's OpenAI-layout trunk, loaded strictly."""
    c = network.config
    trunk = VisionTransformer(
        image_size=c["image_size"],
        patch_size=c["patch_size"],
        width=c["hidden_size"],
        layers=c["num_hidden_layers"],
        heads=c["num_attention_heads"],
        mlp_ratio=c["intermediate_size"] / c["hidden_size"],
        output_dim=c["style_dim"],
        act_layer=QuickGELU,
    )
    trunk.proj = None  # CSD_CLIP: self.backbone.proj = None
    trunk.load_state_dict(
        {k.removeprefix("backbone."): v for k, v in state.items() if k.startswith("backbone.")},
        strict=True,
    )
    trunk.eval()
    return lambda x: trunk(x) @ state["last_layer_style"]


def test_csd_style_equals_csd_clip_forward_on_openai_layout(pngs, tmp_path, monkeypatch):
    network = tiny(CSD_VIT_L)
    state = _random_published(network, seed=3)
    save_file(state, tmp_path / "csd.safetensors")
    transforms_branch0 = transforms.Compose(
        [
            transforms.Resize(224, interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.CenterCrop(224),
            transforms.ToTensor(),
            transforms.Normalize(OPENAI_MEAN, OPENAI_STD),
        ]
    )
    expected = _reference_cosines(_csd_reference(network, state), pngs[0], transforms_branch0)
    ours, _ = _ours(
        embedding_scores.CSDStyle, network, pngs[1], monkeypatch, tmp_path,
        weights=tmp_path / "csd.safetensors",
    )  # fmt: skip
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-5)
    assert expected.max() < 0.97


def test_an_image_is_most_similar_to_itself_and_domains_average(pngs, tmp_path, monkeypatch):
    network = tiny(CSD_VIT_L)
    monkeypatch.setattr(embedding_scores.CSDStyle, "network", network)
    metric = embedding_scores.CSDStyle(_context(tmp_path))
    a, b, c = (t[None] for t in pngs[1])
    torch.testing.assert_close(metric(a, b, a), torch.ones(1))
    assert metric(a, b, b) < 1
    domain = StyleDomain("two", torch.cat([b, _resized(c, b)]))
    expected = (metric(a, a, b) + metric(a, a, c)) / 2
    torch.testing.assert_close(metric.score_domain(a, a, domain), expected)


def _resized(image, like):
    return torch.nn.functional.interpolate(image, size=like.shape[-2:], mode="nearest")


def test_random_weights_are_seeded_labelled_and_name_their_model():
    network = tiny(DINOV2_VITB14)
    _, first = resolve_weights(network, WeightsSource.parse("random", seed=4))
    _, again = resolve_weights(network, WeightsSource.parse("random", seed=4))
    _, other = resolve_weights(network, WeightsSource.parse("random", seed=5))
    assert first == again and first.sha256 != other.sha256 and first.is_random
    assert "facebook/dinov2-base" in first.source


def test_the_published_networks_have_their_published_shapes():
    """The published configurations build (on the meta device: no weights drawn) with the
    widths their model cards state: ViT-L/14 (1,024 wide, 24 blocks) for CLIP and CSD, and
    ViT-B/14 (768 wide, 12 blocks, 518 px position grid of 37 x 37 + 1) for DINOv2."""
    clip = embedding_networks._expected(CLIP_VIT_L14)
    assert clip["visual_projection.weight"] == (768, 1024)
    assert sum(k.endswith("layer_norm1.weight") for k in clip) == 24
    dino = embedding_networks._expected(DINOV2_VITB14)
    assert dino["embeddings.position_embeddings"] == (1, 37 * 37 + 1, 768)
    assert sum(k.endswith("norm1.weight") for k in dino) == 12
    csd = embedding_networks._expected(CSD_VIT_L)
    assert csd["embeddings.position_embedding.weight"] == (16 * 16 + 1, 1024)


def test_a_file_of_another_network_is_refused_in_one_line(tmp_path):
    save_file(_random_published(tiny(CLIP_VIT_L14)), tmp_path / "clip.safetensors")
    with pytest.raises(WeightsUnavailable) as info:
        resolve_weights(tiny(CSD_VIT_L), WeightsSource.parse(str(tmp_path / "clip.safetensors")))
    assert "does not fit" in str(info.value) and "\n" not in str(info.value)


def test_pretrained_downloads_once_from_its_url_and_then_works_offline(tmp_path, monkeypatch):
    network = tiny(CSD_VIT_L)
    served = tmp_path / "served" / network.model_id / "resolve" / "main"
    served.mkdir(parents=True)
    save_file(_random_published(network, seed=7), served / "model.safetensors")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with served_folder(tmp_path / "served") as base:
        monkeypatch.setattr(embedding_networks, "HUB", base)
        _, identity = resolve_weights(network, WeightsSource.parse("pretrained"))
    assert identity.source.startswith("pretrained:") and not identity.is_random
    assert network.model_id in identity.source
    assert (tmp_path / "hub" / "checkpoints" / f"{network.name}.safetensors").is_file()
    monkeypatch.setattr(embedding_networks, "HUB", "http://127.0.0.1:9")
    assert resolve_weights(network, WeightsSource.parse("pretrained"))[1] == identity


def test_offline_without_the_file_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(embedding_networks, "HUB", "http://127.0.0.1:9")
    with pytest.raises(WeightsUnavailable) as info:
        embedding_scores.CLIPStyle.preflight(WeightsSource.parse("pretrained"))
    message = str(info.value)
    assert "--weights random" in message and "clip_vit_l14.safetensors" in message
    assert "\n" not in message


def test_without_the_extra_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(WeightsUnavailable) as info:
        embedding_scores.DINOContent.preflight(WeightsSource.parse("random"))
    assert "pip install 'stylebench[embeddings]'" in str(info.value)


def _muse_csls(outputs, styles, style_of, knn):
    """MUSE's CSLS (facebookresearch/MUSE, ``get_nn_avg_dist`` and the ``csls_knn_`` scores of
    ``word_translation.py``, without faiss): emb1 the outputs, emb2 the distinct style images."""
    emb1, emb2 = torch.from_numpy(outputs), torch.from_numpy(styles)

    def nn_avg_dist(emb, query, k):
        return query.mm(emb.transpose(0, 1)).topk(k, dim=1, largest=True, sorted=True)[0].mean(1)

    average_dist1 = nn_avg_dist(emb2, emb1, min(knn, len(emb2)))
    average_dist2 = nn_avg_dist(emb1, emb2, min(knn, len(emb1)))
    scores = emb1.mm(emb2.transpose(0, 1)) * 2 - average_dist1[:, None] - average_dist2[None, :]
    return scores[torch.arange(len(emb1)), torch.from_numpy(style_of)].numpy()


@pytest.mark.parametrize("k", [2, 10])
def test_csls_equals_muse_on_outputs_sharing_style_images(k):
    rng = np.random.default_rng(1)
    unit = lambda a: a / np.linalg.norm(a, axis=-1, keepdims=True)  # noqa: E731
    styles = unit(rng.normal(size=(3, 16)))
    style_of = np.array([0, 1, 2, 0, 1, 2, 0, 0])
    outputs = unit(styles[style_of] + rng.normal(size=(8, 16)) * 0.8)
    pairs = np.stack([outputs, styles[style_of]], axis=1)
    values, details = embedding_scores.csls_scores(pairs, k=k)
    np.testing.assert_allclose(values, _muse_csls(outputs, styles, style_of, k), atol=1e-12)
    assert details["n_styles"] == 3
    assert details["neighbours"] == {"styles": min(k, 3), "outputs": min(k, 8)}


def test_csls_needs_pairs_and_says_so():
    from stylebench.metrics.sets import SetData

    data = SetData(np.zeros((3, 4)), np.zeros((3, 4)), {}, seed=0, pairs={})
    score = embedding_scores.CSDStyleCSLS().score(data)
    assert score.value is None and "own style image" in score.error

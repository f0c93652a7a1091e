"""AdaIN's and SANet's normalised VGG-19: reference layout, strict loading, random and downloaded
weights."""

import pytest
import torch

from stylebench.methods.core import weights as weights_module
from stylebench.methods.core.encoders import load_encoder
from stylebench.methods.core.normalised_vgg import (
    STYLE_LAYERS,
    TRUNK,
    depth,
    layer_names,
    layout,
    load_normalised_vgg,
)
from stylebench.methods.core.weights import WeightsSource, WeightsUnavailable, state_dict_sha256
from tests.methods import reference_adain
from tests.servers import served_folder

#: conv0 1x1 (3*3 + 3) and the 3x3 convs of VGG-19 to relu4_1: 3->64, 64->64, 64->128, 128->128,
#: 128->256, 3 x 256->256, 256->512 (weights 9*in*out plus out biases each): what AdaIN runs.
TO_RELU4_1 = (
    (3 * 3 + 3)
    + (9 * 3 * 64 + 64)
    + (9 * 64 * 64 + 64)
    + (9 * 64 * 128 + 128)
    + (9 * 128 * 128 + 128)
    + (9 * 128 * 256 + 256)
    + 3 * (9 * 256 * 256 + 256)
    + (9 * 256 * 512 + 512)
)
#: The trunk kept goes on to relu5_1 (SANet's deepest layer): conv4_2 .. conv4_4 and conv5_1,
#: 4 convs 512 -> 512; the whole file adds conv5_2 .. conv5_4, 3 more.
TRUNK_PARAMETERS = TO_RELU4_1 + 4 * (9 * 512 * 512 + 512)
FILE_PARAMETERS = TRUNK_PARAMETERS + 3 * (9 * 512 * 512 + 512)


def test_the_layout_is_the_reference_codes_and_the_trunk_stops_at_relu5_1():
    ours, theirs = layout().state_dict(), reference_adain.vgg().state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}
    assert len(layout()) == 53 and TRUNK == 44 and layer_names()[TRUNK - 1] == "relu5_1"
    assert depth("relu4_1") == 31
    assert sum(v.numel() for v in ours.values()) == FILE_PARAMETERS == 20_024_396
    encoder = load_normalised_vgg(WeightsSource.parse("random", seed=1))
    assert sum(p.numel() for p in encoder.parameters()) == TRUNK_PARAMETERS == 12_944_972
    assert TO_RELU4_1 == 3_505_740
    features = encoder(torch.rand(2, 3, 40, 40), [*STYLE_LAYERS, "relu5_1"])
    shapes = {name: tuple(f.shape) for name, f in features.items()}
    assert shapes == {
        "relu1_1": (2, 64, 40, 40),
        "relu2_1": (2, 128, 20, 20),
        "relu3_1": (2, 256, 10, 10),
        "relu4_1": (2, 512, 5, 5),
        "relu5_1": (2, 512, 3, 3),  # max pooling rounds up (ceil_mode)
    }
    with pytest.raises(KeyError, match="no layer 'relu5_2'; layers: conv0 .. relu5_1"):
        encoder(torch.rand(1, 3, 16, 16), ["relu5_2"])


def test_random_weights_are_seeded_labelled_and_keep_their_scale():
    encoder = load_encoder("vgg_normalised", WeightsSource.parse("random", seed=3))
    again = load_normalised_vgg(WeightsSource.parse("random", seed=3))
    assert encoder.identity == again.identity and encoder.identity.is_random
    assert encoder.identity.as_dict()["random"] is True
    other = load_normalised_vgg(WeightsSource.parse("random", seed=4))
    assert other.identity.sha256 != encoder.identity.sha256
    deepest = encoder(torch.rand(1, 3, 64, 64), ["relu4_1"])["relu4_1"]
    assert 0.01 < deepest.std().item() < 10  # He init: not vanished into the biases
    assert not any(p.requires_grad for p in encoder.parameters())


def test_the_published_file_loads_strictly_and_computes_what_the_reference_does(tmp_path):
    network = reference_adain.random_vgg(seed=0)
    path = tmp_path / "vgg_normalised.pth"
    torch.save(network.state_dict(), path)
    for source in (str(path), str(tmp_path)):  # the file, or a folder holding it by its name
        encoder = load_normalised_vgg(WeightsSource.parse(source))
        assert not encoder.identity.is_random
        trunk = {k: v for k, v in network.state_dict().items() if int(k.split(".")[0]) < TRUNK}
        assert encoder.identity.sha256 == state_dict_sha256(trunk)
    images = torch.rand(2, 3, 48, 56, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = encoder(images, ["relu4_1", "relu5_1"])
        relu4_1 = network[: depth("relu4_1")](images)
        relu5_1 = network[:TRUNK](images)
    assert torch.equal(ours["relu4_1"], relu4_1) and torch.equal(ours["relu5_1"], relu5_1)


def test_a_file_of_another_layout_is_one_error_listing_every_wrong_key(tmp_path):
    state = reference_adain.vgg().state_dict()
    state.pop("0.bias")
    state["2.weight"] = torch.zeros(64, 3, 1, 1)
    state["features.0.weight"] = torch.zeros(1)
    path = tmp_path / "vgg_normalised.pth"
    torch.save(state, path)
    with pytest.raises(WeightsUnavailable) as info:
        load_normalised_vgg(WeightsSource.parse(str(path)))
    message = str(info.value)
    assert "missing keys: 0.bias" in message
    assert "unexpected keys: features.0.weight" in message
    assert "shape mismatches: 2.weight (file (64, 3, 1, 1), network (64, 3, 3, 3))" in message
    assert str(path) in message and "\n" not in message


@pytest.fixture
def served(tmp_path):
    """A folder served over HTTP on 127.0.0.1, and its base URL."""
    folder = tmp_path / "served"
    folder.mkdir()
    with served_folder(folder) as base:
        yield folder, base


def test_pretrained_downloads_the_release_file_caches_it_and_then_works_offline(
    served, tmp_path, monkeypatch
):
    folder, base = served
    torch.save(reference_adain.random_vgg(seed=2).state_dict(), folder / "vgg_normalised.pth")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setitem(
        weights_module.PRETRAINED_URLS, "vgg_normalised", f"{base}/vgg_normalised.pth"
    )
    encoder = load_normalised_vgg(WeightsSource.parse("pretrained"))
    assert (tmp_path / "hub" / "checkpoints" / "vgg_normalised.pth").is_file()
    assert encoder.identity.source == "pretrained:vgg_normalised.pth"
    assert not encoder.identity.is_random
    (folder / "vgg_normalised.pth").unlink()  # the server no longer has it: the cache serves
    assert load_normalised_vgg(WeightsSource.parse("pretrained")).identity == encoder.identity


def test_a_downloaded_file_that_does_not_fit_names_the_cached_copy(served, tmp_path, monkeypatch):
    folder, base = served
    torch.save({"0.weight": torch.zeros(1)}, folder / "vgg_normalised.pth")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setitem(
        weights_module.PRETRAINED_URLS, "vgg_normalised", f"{base}/vgg_normalised.pth"
    )
    with pytest.raises(WeightsUnavailable, match="hub/checkpoints/vgg_normalised.pth .*missing"):
        load_normalised_vgg(WeightsSource.parse("pretrained"))


def test_the_release_url_is_the_reference_codes():
    assert weights_module.PRETRAINED_URLS["vgg_normalised"] == (
        "https://github.com/naoto0804/pytorch-AdaIN/releases/download/v0.0.0/vgg_normalised.pth"
    )

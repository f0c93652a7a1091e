"""Feature encoders: layer names, early stopping, weights sources and their identities."""

import hashlib
from pathlib import Path

import pytest
import torch
from torchvision import models

from stylebench.methods.core import weights as weights_module
from stylebench.methods.core.encoders import contract_problems, conv_layers, layer_names, load_vgg
from stylebench.methods.core.weights import (
    WeightsSource,
    WeightsUnavailable,
    resolve_state_dict,
    state_dict_sha256,
)
from stylebench.registry import ENCODERS
from stylebench.testing import check_encoder
from tests.servers import served_folder


def test_layer_names_follow_torchvision_indices():
    names = layer_names("vgg19")
    assert len(names) == len(models.vgg19().features)
    # Indices from torchvision's vgg19().features.
    assert names.index("conv4_2") == 21 and names.index("relu4_2") == 22
    assert names.index("pool1") == 4 and names.index("conv5_4") == 34
    assert len(conv_layers("vgg19")) == 16 and len(conv_layers("vgg16")) == 13
    assert layer_names("vgg16").index("relu4_3") == 22


@pytest.mark.parametrize("name", ENCODERS.builtin_names())
def test_every_built_in_encoder_passes_the_checks_plugins_run(name):
    check_encoder(ENCODERS.get(name))


def test_an_encoder_missing_declarations_is_named_with_each_problem():
    class Careless:
        layers = "relu1_1"  # one name, not a tuple of them

    assert contract_problems(Careless) == [
        "class attribute 'summary' must be a str",
        "class attribute 'layers' must be a tuple of layer names (str)",
        "static method load(source) is missing",
    ]


def test_a_network_without_a_published_checkpoint_says_what_to_pass_instead():
    with pytest.raises(WeightsUnavailable, match="no published checkpoint is known for mine"):
        resolve_state_dict("mine", WeightsSource.parse("pretrained"), dict, lambda s: True)


def test_forward_returns_named_layers_and_matches_plain_slicing(vgg19):
    x = torch.rand(2, 3, 32, 32)
    out = vgg19(x, ["relu1_1", "relu3_1"])
    assert set(out) == {"relu1_1", "relu3_1"}
    normalised = (x - vgg19.mean) / vgg19.std
    torch.testing.assert_close(out["relu3_1"], vgg19.layers[:12](normalised))
    assert out["relu3_1"].shape == (2, 256, 8, 8)


def test_convolution_taps_are_pre_activation_even_below_a_deeper_tap(vgg19):
    x = torch.rand(1, 3, 32, 32)
    out = vgg19(x, ["conv1_1", "relu1_1", "conv2_2", "relu3_1"])
    normalised = (x - vgg19.mean) / vgg19.std
    torch.testing.assert_close(out["conv1_1"], vgg19.layers[:1](normalised))
    torch.testing.assert_close(out["conv2_2"], vgg19.layers[:8](normalised))
    assert out["conv1_1"].min() < 0 and out["conv2_2"].min() < 0
    torch.testing.assert_close(out["relu1_1"], out["conv1_1"].clamp(min=0))


def test_unknown_layer_is_a_clear_error(vgg19):
    with pytest.raises(KeyError, match="no layer 'relu9_9'"):
        vgg19(torch.rand(1, 3, 32, 32), ["relu9_9"])


def test_average_pooling_copy_shares_weights(vgg19):
    avg = vgg19.with_pooling("avg")
    assert isinstance(avg.layers[4], torch.nn.AvgPool2d)
    assert avg.layers[0].weight is vgg19.layers[0].weight
    assert isinstance(vgg19.layers[4], torch.nn.MaxPool2d)


def test_random_weights_are_seeded_and_labelled():
    a = load_vgg("vgg16", WeightsSource.parse("random", seed=1))
    b = load_vgg("vgg16", WeightsSource.parse("random", seed=1))
    c = load_vgg("vgg16", WeightsSource.parse("random", seed=2))
    assert a.identity.sha256 == b.identity.sha256 != c.identity.sha256
    assert a.identity.is_random and a.identity.source == "random(seed=1)"


def test_random_init_leaves_the_callers_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    load_vgg("vgg16", WeightsSource.parse("random", seed=5))
    assert torch.equal(torch.rand(3), expected)


def test_state_dict_hash_depends_on_values_names_and_shapes():
    base = {"w": torch.zeros(2, 2)}
    assert state_dict_sha256(base) == state_dict_sha256({"w": torch.zeros(2, 2)})
    assert state_dict_sha256(base) != state_dict_sha256({"w": torch.ones(2, 2)})
    assert state_dict_sha256(base) != state_dict_sha256({"v": torch.zeros(2, 2)})
    assert state_dict_sha256(base) != state_dict_sha256({"w": torch.zeros(4)})


def test_local_file_of_full_torchvision_model_loads(tmp_path):
    model = models.vgg16()
    torch.save(model.state_dict(), tmp_path / "mine.pth")
    encoder = load_vgg("vgg16", WeightsSource.parse(str(tmp_path / "mine.pth")))
    assert encoder.identity.sha256 == state_dict_sha256(model.features.state_dict())
    assert not encoder.identity.is_random
    with pytest.raises(WeightsUnavailable, match="does not fit vgg19"):
        load_vgg("vgg19", WeightsSource.parse(str(tmp_path / "mine.pth")))


def test_bad_weights_files_are_refused(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsUnavailable, match="cannot read weights file"):
        load_vgg("vgg16", WeightsSource.parse(str(tmp_path / "junk.pth")))
    with pytest.raises(WeightsUnavailable, match="does not exist"):
        WeightsSource.parse(str(tmp_path / "missing.pth"))
    with pytest.raises(WeightsUnavailable, match="has no vgg16-397923af.pth"):
        load_vgg("vgg16", WeightsSource.parse(str(tmp_path)))


@pytest.fixture
def weights_server(tmp_path):
    """Serves a VGG-16 features checkpoint over HTTP on 127.0.0.1, named as torchvision names it."""
    served = tmp_path / "served"
    served.mkdir()
    blob = served / "tmp.pth"
    torch.save(models.vgg16().features.state_dict(), blob)
    digest = hashlib.sha256(blob.read_bytes()).hexdigest()
    name = f"vgg16-{digest[:8]}.pth"
    blob.rename(served / name)
    with served_folder(served) as base:
        yield f"{base}/{name}", served / name


def test_pretrained_downloads_verifies_caches_and_then_works_offline(
    weights_server, tmp_path, monkeypatch
):
    url, file = weights_server
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setitem(weights_module.PRETRAINED_URLS, "vgg16", url)
    encoder = load_vgg("vgg16", WeightsSource.parse("pretrained"))
    cached = tmp_path / "hub" / "checkpoints" / file.name
    assert cached.is_file() and not encoder.identity.is_random
    assert encoder.identity.source == f"pretrained:{file.name}"
    file.unlink()  # the server no longer has it: the cache must serve
    assert load_vgg("vgg16", WeightsSource.parse("pretrained")).identity == encoder.identity


def test_pretrained_download_with_wrong_hash_is_refused(weights_server, tmp_path, monkeypatch):
    url, file = weights_server
    wrong = file.with_name("vgg16-00000000.pth")
    file.rename(wrong)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setitem(weights_module.PRETRAINED_URLS, "vgg16", url.replace(file.name, wrong.name))
    with pytest.raises(WeightsUnavailable, match="could not be downloaded"):
        load_vgg("vgg16", WeightsSource.parse("pretrained"))
    assert not (tmp_path / "hub" / "checkpoints" / wrong.name).exists()


def test_pretrained_offline_without_cache_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setitem(
        weights_module.PRETRAINED_URLS, "vgg16", "http://127.0.0.1:9/vgg16-397923af.pth"
    )
    with pytest.raises(WeightsUnavailable) as info:
        load_vgg("vgg16", WeightsSource.parse("pretrained"))
    message = str(info.value)
    assert "--weights random" in message and str(Path("hub") / "checkpoints") in message
    assert "\n" not in message

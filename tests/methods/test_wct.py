"""WCT (Li et al.): the transform by hand (whitened features have identity covariance, coloured
ones the style's covariance and mean), the forward pass and the reconstruction losses equal to a
rebuild of the reference codes on identical weights, the five published decoder files load
strictly, round trip, presets."""

import copy

import pytest
import torch

from stylebench.methods import wct
from stylebench.methods.base import PrepareData, StyleBlend, TensorImages, resolve_config
from stylebench.methods.core.checkpoints import CheckpointMismatch
from stylebench.methods.core.normalised_vgg import load_normalised_vgg
from stylebench.methods.core.weights import WeightsSource
from stylebench.methods.wct import WCT, read_published, whiten_colour
from tests.methods import reference_adain, reference_wct
from tests.methods.stubs import context_with
from tests.methods.test_adain import DECODER_PARAMETERS


def conv3(cin: int, cout: int) -> int:
    """A 3x3 convolution's weights and biases."""
    return 9 * cin * cout + cout


#: Each decoder's parameters, relu1_1 .. relu5_1: the trunk's 3x3 convolutions to that layer,
#: mirrored; relu4_1's is AdaIN's decoder, relu5_1's adds four 512-wide convolutions to it.
PARAMETERS = (
    conv3(64, 3),
    conv3(128, 64) + conv3(64, 64) + conv3(64, 3),
    conv3(256, 128) + conv3(128, 128) + conv3(128, 64) + conv3(64, 64) + conv3(64, 3),
    DECODER_PARAMETERS,
    4 * conv3(512, 512) + DECODER_PARAMETERS,
)
FILES = tuple(f"feature_invertor_conv{k}_1.pth" for k in range(1, 6))


def rand(*shape: int, seed: int) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def close(ours: torch.Tensor, theirs: torch.Tensor) -> bool:
    """Equal to 1e-5 of the largest value (float rounding of a different summation order)."""
    return (ours - theirs).abs().max().item() <= 1e-5 * theirs.abs().max().item()


def covariance(features: torch.Tensor) -> torch.Tensor:
    flat = features.double().flatten(1)
    centred = flat - flat.mean(1, keepdim=True)
    return centred @ centred.T / (flat.shape[1] - 1)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The encoder and the five decoder files with seeded random weights, the one checkpoint
    they make, and what they load into."""
    folder = tmp_path_factory.mktemp("wct")
    vgg = reference_adain.random_vgg(seed=0).eval()
    torch.save(vgg.state_dict(), folder / "vgg_normalised.pth")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        decoders = [net.eval() for net in reference_wct.decoders()]
    for name, net in zip(FILES, decoders, strict=True):
        torch.save(net.state_dict(), folder / name)
    torch.save(read_published(*(folder / name for name in FILES)), folder / "wct.pth")
    encoder = load_normalised_vgg(WeightsSource.parse(str(folder / "vgg_normalised.pth")))
    return folder, vgg, decoders, context_with({"vgg_normalised": encoder})


def loaded(published, **settings) -> WCT:
    """WCT with the published decoders (the ``paper`` preset unless told)."""
    folder, _, _, context = published
    method = WCT(resolve_config(WCT, {"checkpoint": str(folder / "wct.pth"), **settings}), context)
    method.prepare(PrepareData(styles=torch.empty(0, 3, 32, 32)))
    return method


def test_the_decoders_mirror_the_encoder_in_the_published_layout(published):
    _, _, decoders, _ = published
    state = loaded(published).state_dict()
    for k, net in enumerate(decoders, start=1):
        ours = {key[9:]: v.shape for key, v in state.items() if key.startswith(f"decoder{k}.")}
        assert ours == {key: v.shape for key, v in net.state_dict().items()}
        assert sum(v.numel() for v in net.state_dict().values()) == PARAMETERS[k - 1]
    assert PARAMETERS == (1_731, 112_451, 555_075, 3_505_219, 12_944_451)
    assert sum(v.numel() for v in state.values()) == sum(PARAMETERS) == 17_118_927
    assert "decoder1.1.weight" in state and "decoder5.41.bias" in state


@pytest.mark.parametrize("alpha", [1.0, 0.6])
def test_the_forward_pass_equals_the_reference_codes(published, alpha):
    _, vgg, decoders, _ = published
    method = loaded(published, alpha=alpha)
    content, style = rand(2, 3, 64, 64, seed=2), rand(2, 3, 48, 40, seed=3)
    with torch.no_grad():
        theirs = torch.cat(
            [
                reference_wct.style_transfer(vgg, decoders, c[None], s[None], alpha)
                for c, s in zip(content, style, strict=True)
            ]
        )
        ours = method.model(content, style)
    assert ours.shape == theirs.shape == (2, 3, 64, 64) and close(ours, theirs)
    assert torch.equal(method.stylize(content, style).images, ours.clamp(0, 1))
    alone = method.model(content[1:], style[1:])
    assert torch.allclose(alone, ours[1:], rtol=0, atol=1e-5 * ours.abs().max().item())


def test_the_transform_equals_the_reference_codes():
    content, style = rand(1, 8, 6, 7, seed=4), rand(1, 8, 5, 9, seed=5) ** 3
    theirs = reference_wct.whiten_and_colour(content[0], style[0])
    assert torch.allclose(whiten_colour(content, style)[0].double(), theirs, atol=1e-5)


def test_whitening_and_colouring_by_hand():
    content, style = rand(1, 4, 8, 8, seed=6), 3 * rand(1, 4, 6, 5, seed=7) + 1
    out = whiten_colour(content.double(), style.double())
    # Coloured: the style's covariance (divided by N - 1, as the reference) and mean.
    assert torch.allclose(covariance(out[0]), covariance(style[0]), atol=1e-9)
    assert torch.allclose(out[0].flatten(1).mean(1), style[0].double().flatten(1).mean(1))
    # Whitened: the inverse square root of the covariance leaves an identity covariance; the
    # square root squares to the covariance.
    flat = content[0].double().flatten(1)
    mean, root, inverse = wct._whitening_pair(flat)
    whitened = inverse @ (flat - mean)
    assert torch.allclose(covariance(whitened), torch.eye(4, dtype=torch.float64), atol=1e-9)
    assert torch.allclose(root @ root, covariance(flat), atol=1e-12)
    # One channel: (x - 2.5) / sqrt(5/3) sqrt(50) + 15; a constant channel's variance (0, below
    # the threshold) is dropped: it becomes the style's mean.
    x = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 2, 2)
    y = torch.tensor([10.0, 20.0]).view(1, 1, 1, 2)
    expected = (x.double() - 2.5) / (5 / 3) ** 0.5 * 50**0.5 + 15
    assert torch.allclose(whiten_colour(x, y).double(), expected, atol=1e-5)
    assert torch.equal(whiten_colour(torch.full_like(x, 7.0), y), torch.full_like(x, 15.0))
    # alpha blends with the content; 0 gives the content back.
    assert torch.allclose(whiten_colour(x, y, 0.0), x)
    assert torch.allclose(whiten_colour(x, y, 0.25), 0.25 * expected.float() + 0.75 * x)


def test_the_transform_runs_in_float64_whatever_the_dtype():
    content, style = rand(2, 16, 6, 6, seed=8), rand(2, 16, 5, 5, seed=9)
    low = whiten_colour(content.bfloat16(), style.bfloat16())
    assert low.dtype == torch.bfloat16
    exact = whiten_colour(content.bfloat16().double(), style.bfloat16().double())
    assert torch.equal(low, exact.bfloat16())
    nhwc = content.contiguous(memory_format=torch.channels_last)
    assert whiten_colour(nhwc, style).is_contiguous(memory_format=torch.channels_last)


def test_the_training_losses_equal_the_reference_codes(published):
    """One step's losses (before the update) against the paper's loss on the same decoders."""
    _, vgg, _, context = published
    settings = {"steps": 1, "batch_size": 2, "image_size": 32, "feature_weight": 0.5}
    method = WCT(resolve_config(WCT, settings), context)
    initial = [copy.deepcopy(method.model.decoders[f"decoder{k}"]) for k in range(1, 6)]
    content = rand(2, 3, 32, 32, seed=10)
    curves = method.prepare(PrepareData(styles=torch.empty(0), training=TensorImages(content)))
    with torch.no_grad():
        pixel, feature = reference_wct.reconstruction_loss(vgg, initial, content)
    assert curves["pixel"][0] == pytest.approx(pixel.item(), rel=1e-5)
    assert curves["feature"][0] == pytest.approx(feature.item(), rel=1e-5)
    assert curves["total"][0] == pytest.approx(pixel.item() + 0.5 * feature.item(), rel=1e-5)
    for k, before in enumerate(initial, start=1):  # every decoder trained
        assert not torch.equal(before[1].weight, method.model.decoders[f"decoder{k}"][1].weight)


def test_the_pixel_loss_by_hand(published):
    """Decoders that output black: each of the five pixel terms is the mean of I^2."""
    method = WCT(resolve_config(WCT, {"preset": "smoke"}), published[3])
    for net in method.model.decoders.values():
        torch.nn.init.zeros_(net[-1].weight)
        torch.nn.init.zeros_(net[-1].bias)
    images = torch.tensor([0.0, 0.5, 1.0, 0.5]).repeat(1, 3, 32, 8)
    with torch.no_grad():
        terms = method.losses(images)
    assert terms["pixel"].shape == (1,)
    assert terms["pixel"].item() == pytest.approx(5 * (0.25 + 1 + 0.25) / 4)


def test_a_checkpoint_round_trip(published, tmp_path):
    method = loaded(published)
    path = tmp_path / "again.pth"
    torch.save(method.state_dict(), path)
    again = WCT(resolve_config(WCT, {"checkpoint": str(path)}), published[3])
    again.prepare(PrepareData(styles=torch.empty(0)))
    content, style = rand(1, 3, 32, 32, seed=11), rand(1, 3, 32, 32, seed=12)
    assert torch.equal(again.stylize(content, style).images, method.stylize(content, style).images)


def test_published_files_load_strictly_and_wrong_ones_say_why(published, tmp_path):
    folder = published[0]
    files = [folder / name for name in FILES]
    with pytest.raises(CheckpointMismatch, match="feature_invertor_conv2_1.pth does not fit"):
        read_published(files[0], files[1], files[1], files[3], files[4])
    with pytest.raises(ValueError, match="5 decoders"):
        read_published(*files[:4])
    method = WCT(resolve_config(WCT, {"checkpoint": str(files[3])}), published[3])
    with pytest.raises(CheckpointMismatch, match="missing keys: decoder1.*read_published"):
        method.prepare(PrepareData(styles=torch.empty(0)))
    state = loaded(published).state_dict()
    state["decoder3.1.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointMismatch, match=r"shape mismatches: decoder3.1.weight \(file"):
        loaded(published).load_state_dict(state)


def test_presets_and_what_is_not_in_the_cache_key():
    paper = resolve_config(WCT, {})
    assert paper.levels == wct.LEVELS == ("relu5_1", "relu4_1", "relu3_1", "relu2_1", "relu1_1")
    assert (paper.alpha, paper.feature_weight, paper.lr, paper.batch_size) == (1.0, 1.0, 1e-4, 8)
    reference = resolve_config(WCT, {"preset": "reference"})
    assert reference.alpha == 0.6
    assert reference.training_settings() == {**paper.training_settings(), "preset": "reference"}
    assert "alpha" not in paper.training_settings() and "levels" not in paper.training_settings()
    assert WCT.needs.train_styles == "none"
    with pytest.raises(ValueError, match="at least 17 px"):
        paper.check_image_size(16)


def test_fewer_levels_run_those_decoders_only(published):
    method = loaded(published, levels=("relu4_1",))
    content, style = rand(1, 3, 40, 36, seed=13), rand(1, 3, 32, 32, seed=14)
    with torch.no_grad():
        expected = method.model.decode(
            "relu4_1",
            whiten_colour(
                method.model.encoder(content, ["relu4_1"])["relu4_1"],
                method.model.encoder(style, ["relu4_1"])["relu4_1"],
            ),
            content,
        )
    assert torch.equal(method.model(content, style), expected)
    assert expected.shape == (1, 3, 40, 36)  # cropped: the decoder gives 40 x 40


def test_a_blend_interpolates_the_transformed_features_at_every_level(published):
    """The paper's style interpolation: alpha sum_k w_k WCT(f_c, f_s_k) + (1 - alpha) f_c at
    each level; one weight on one style is that style's transfer."""
    method = loaded(published, levels=("relu4_1",), alpha=0.6)
    content = rand(1, 3, 40, 36, seed=15)
    styles = rand(2, 3, 32, 32, seed=16)
    model = method.model
    with torch.no_grad():
        own = model.encoder(content, ["relu4_1"])["relu4_1"]
        each = [
            whiten_colour(own, model.encoder(s[None], ["relu4_1"])["relu4_1"], 1.0) for s in styles
        ]
        mixed = 0.6 * (0.7 * each[0] + 0.3 * each[1]) + 0.4 * own
        expected = model.decode("relu4_1", mixed, content)
        got = method.stylize_blend(content, StyleBlend((styles[:1], styles[1:]), (0.7, 0.3)))
        assert close(got.images, expected.clamp(0, 1))
        only_first = model(content, styles, torch.tensor([[1.0, 0.0]]))
        assert close(only_first, model(content, styles[:1]))

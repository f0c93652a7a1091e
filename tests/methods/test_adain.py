"""AdaIN (Huang & Belongie): equal to the reference code's forward pass and losses on identical
weights, its published decoder layout loads strictly, AdaIN and its losses by hand."""

import copy
import math

import pytest
import torch

from stylebench.methods.adain import AdaIN
from stylebench.methods.base import PrepareData, StyleBlend, TensorImages, resolve_config
from stylebench.methods.core.checkpoints import CheckpointMismatch
from stylebench.methods.core.colour import match_colour
from stylebench.methods.core.moments import EPS, adaptive_instance_norm, mean_std, moment_distance
from stylebench.methods.core.normalised_vgg import DEEPEST, depth, load_normalised_vgg
from stylebench.methods.core.weights import WeightsSource
from tests.methods import reference_adain
from tests.methods.stubs import context_with

#: The decoder's 3x3 convs: 512->256, 3 x 256->256, 256->128, 128->128, 128->64, 64->64, 64->3
#: (weights 9*in*out plus out biases each).
DECODER_PARAMETERS = (
    (9 * 512 * 256 + 256)
    + 3 * (9 * 256 * 256 + 256)
    + (9 * 256 * 128 + 128)
    + (9 * 128 * 128 + 128)
    + (9 * 128 * 64 + 64)
    + (9 * 64 * 64 + 64)
    + (9 * 64 * 3 + 3)
)


def rand(*shape: int, seed: int) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def close(ours: torch.Tensor, theirs: torch.Tensor) -> bool:
    """Equal to 1e-5 of the largest value (float rounding of a different summation order)."""
    return (ours - theirs).abs().max().item() <= 1e-5 * theirs.abs().max().item()


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The reference code's two files with seeded random weights, and what they load into."""
    folder = tmp_path_factory.mktemp("adain")
    vgg = reference_adain.random_vgg(seed=0).eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        decoder = reference_adain.decoder().eval()
    torch.save(vgg.state_dict(), folder / "vgg_normalised.pth")
    torch.save(decoder.state_dict(), folder / "decoder.pth")
    encoder = load_normalised_vgg(WeightsSource.parse(str(folder / "vgg_normalised.pth")))
    return folder, vgg[: depth(DEEPEST)], decoder, context_with({"vgg_normalised": encoder})


def loaded(published, **settings) -> AdaIN:
    """AdaIN with the published decoder (the ``reference`` preset unless told)."""
    folder, _, _, context = published
    merged = {"preset": "reference", "checkpoint": str(folder / "decoder.pth"), **settings}
    method = AdaIN(resolve_config(AdaIN, merged), context)
    method.prepare(PrepareData(styles=torch.empty(0, 3, 32, 32)))
    return method


def test_the_decoder_mirrors_the_encoder_in_the_reference_layout(published):
    method = loaded(published)
    ours = {k: v.shape for k, v in method.state_dict().items()}
    assert ours == {k: v.shape for k, v in reference_adain.decoder().state_dict().items()}
    assert sum(v.numel() for v in method.state_dict().values()) == DECODER_PARAMETERS
    assert DECODER_PARAMETERS == 3_505_219
    assert sorted(ours)[:2] == ["1.bias", "1.weight"] and "28.weight" in ours


@pytest.mark.parametrize("alpha", [1.0, 0.6])
def test_the_forward_pass_equals_the_reference_codes(published, alpha):
    _, vgg, decoder, _ = published
    method = loaded(published, alpha=alpha)
    content, style = rand(2, 3, 64, 64, seed=2), rand(2, 3, 48, 40, seed=3)
    with torch.no_grad():
        theirs = reference_adain.style_transfer(vgg, decoder, content, style, alpha)
        ours = method.model(content, style)
    assert ours.shape == theirs.shape == (2, 3, 64, 64) and close(ours, theirs)
    assert torch.equal(method.stylize(content, style).images, ours.clamp(0, 1))


def test_style_interpolation_equals_the_reference_codes(published):
    _, vgg, decoder, _ = published
    method = loaded(published, alpha=0.8)
    content, styles = rand(1, 3, 32, 32, seed=4), rand(3, 3, 40, 40, seed=5)
    weights = [1, 2, 1]
    with torch.no_grad():
        theirs = reference_adain.style_transfer(
            vgg, decoder, content.expand(3, -1, -1, -1), styles, 0.8, [w / 4 for w in weights]
        )
        ours = method.model(content, styles, torch.tensor([[0.25, 0.5, 0.25]]))
    assert close(ours, theirs)
    assert torch.equal(method.stylize_mix(content, styles, weights), ours.clamp(0, 1))
    alone = method.stylize(content, styles[1:2]).images
    assert (method.stylize_mix(content, styles, [0, 5, 0]) - alone).abs().max() < 1e-5
    for bad in ([1, 1], [0, 0, 0], [1, -1, 1]):
        with pytest.raises(ValueError, match="one weight >= 0 per style"):
            method.stylize_mix(content, styles, bad)


def test_the_training_losses_equal_the_reference_codes(published):
    """One step's content and style loss (before the update) against ``Net.forward``."""
    _, vgg, _, context = published
    settings = {"preset": "reference", "steps": 1, "batch_size": 4, "image_size": 32}
    method = AdaIN(resolve_config(AdaIN, settings), context)
    initial = copy.deepcopy(method.model.decoder)
    content, style = rand(4, 3, 32, 32, seed=6), rand(1, 3, 40, 40, seed=7)
    curves = method.prepare(PrepareData(styles=style, training=TensorImages(content)))
    with torch.no_grad():
        loss_c, loss_s = reference_adain.losses(vgg, initial, content, style.expand(4, -1, -1, -1))
    assert curves["content"][0] == pytest.approx(loss_c.item(), rel=1e-5)
    assert curves["style"][0] == pytest.approx(loss_s.item(), rel=1e-5)
    assert curves["total"][0] == pytest.approx(loss_c.item() + 10 * loss_s.item(), rel=1e-5)
    assert not torch.equal(initial[1].weight, method.model.decoder[1].weight)  # it trained


def test_adain_and_the_style_loss_by_hand():
    x = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 2, 2)
    mean, std = mean_std(x)
    assert mean.item() == 2.5 and std.item() == pytest.approx(math.sqrt(1.25 + EPS))
    assert mean_std(x, unbiased=True)[1].item() == pytest.approx(math.sqrt(5 / 3 + EPS))
    target_mean, target_std = torch.full((1, 1, 1, 1), 10.0), torch.full((1, 1, 1, 1), 2.0)
    moved = adaptive_instance_norm(x, target_mean, target_std)
    expected = 2 * (x - 2.5) / math.sqrt(1.25 + EPS) + 10
    assert torch.allclose(moved, expected)
    assert mean_std(moved)[0].item() == pytest.approx(10)
    # Two channels: [1, 2, 3, 4] and constant 5, against means (0.5, 5) and stds (1, 0).
    features = torch.cat([x, torch.full_like(x, 5.0)], dim=1)
    loss = moment_distance(
        features,
        torch.tensor([0.5, 5.0]).view(1, 2, 1, 1),
        torch.tensor([1.0, 0.0]).view(1, 2, 1, 1),
    )
    by_hand = (2.0**2 + 0) / 2 + ((math.sqrt(1.25 + EPS) - 1) ** 2 + EPS) / 2
    assert loss.shape == (1,) and loss.item() == pytest.approx(by_hand, rel=1e-6)


def test_the_published_decoder_loads_strictly_and_a_wrong_file_names_every_key(published):
    folder, _, decoder, context = published
    state = decoder.state_dict()
    state.pop("28.bias")
    state["1.weight"] = torch.zeros(256, 512, 1, 1)
    state["decoder.1.weight"] = torch.zeros(1)
    torch.save(state, folder / "wrong.pth")
    config = resolve_config(AdaIN, {"checkpoint": str(folder / "wrong.pth")})
    with pytest.raises(CheckpointMismatch) as info:
        AdaIN(config, context).prepare(PrepareData(styles=torch.empty(0, 3, 32, 32)))
    message = str(info.value)
    assert "missing keys: 28.bias" in message and "unexpected keys: decoder.1.weight" in message
    assert "shape mismatches: 1.weight (file (256, 512, 1, 1), network (256, 512, 3, 3))" in message
    assert str(folder / "wrong.pth") in message


def test_checkpoint_round_trip_in_the_reference_layout(published, tmp_path):
    method = loaded(published, preset="paper")
    torch.save(method.state_dict(), tmp_path / "decoder.pth")
    again = loaded(published, preset="paper", checkpoint=str(tmp_path / "decoder.pth"))
    content, style = rand(1, 3, 32, 32, seed=8), rand(1, 3, 32, 32, seed=9)
    assert torch.equal(again.stylize(content, style).images, method.stylize(content, style).images)


def test_any_size_comes_back_at_its_size_and_alpha_zero_ignores_the_style(published):
    method = loaded(published, alpha=0.0)
    content = rand(1, 3, 37, 45, seed=10)
    first = method.stylize(content, rand(1, 3, 32, 32, seed=11)).images
    second = method.stylize(content, rand(1, 3, 50, 30, seed=12)).images
    assert first.shape == content.shape and torch.equal(first, second)


def test_preserve_colour_stylizes_with_the_recoloured_style(published):
    plain, keeping = loaded(published), loaded(published, preserve_colour=True)
    content, style = rand(2, 3, 32, 32, seed=13), rand(2, 3, 24, 24, seed=14) * 0.3
    recoloured = match_colour(style, content)
    ours = keeping.stylize(content, style).images
    assert torch.equal(ours, plain.stylize(content, recoloured).images)
    assert not torch.equal(ours, plain.stylize(content, style).images)
    with pytest.raises(ValueError, match="not a mix"):
        keeping.stylize_mix(content, style, [1, 1])


def test_paper_and_reference_presets_differ_only_where_the_codes_do():
    paper, reference = (resolve_config(AdaIN, {"preset": p}) for p in ("paper", "reference"))
    assert paper.model_dump(exclude={"preset", "unbiased_std"}) == reference.model_dump(
        exclude={"preset", "unbiased_std"}
    )
    assert (paper.unbiased_std, reference.unbiased_std) == (False, True)
    assert (paper.style_weight, paper.lr, paper.batch_size, paper.image_size) == (10, 1e-4, 8, 256)
    assert (paper.steps, paper.lr_decay) == (160_000, 5e-5)
    assert {"alpha", "preserve_colour"} <= paper.inference_only


def test_a_blend_is_the_papers_style_interpolation_of_its_images(published):
    """Each content image with its own pair of parts: the reference code's interpolation."""
    _, vgg, decoder, _ = published
    method = loaded(published, alpha=0.8)
    content = rand(2, 3, 32, 32, seed=6)
    parts = (rand(2, 3, 40, 40, seed=7), rand(2, 3, 40, 40, seed=8))
    out = method.stylize_blend(content, StyleBlend(parts, (0.7, 0.3))).images
    for i in range(2):
        with torch.no_grad():
            theirs = reference_adain.style_transfer(
                vgg,
                decoder,
                content[i : i + 1].expand(2, -1, -1, -1),
                torch.cat([parts[0][i : i + 1], parts[1][i : i + 1]]),
                0.8,
                [0.7, 0.3],
            )
        assert close(out[i : i + 1], theirs.clamp(0, 1))

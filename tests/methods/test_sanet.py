"""SANet (Park & Lee): equal to the reference code's forward pass and losses on identical weights,
its published decoder and transformer layouts load strictly, the attention by hand."""

import copy
import math

import pytest
import torch

from stylebench.methods.base import PrepareData, StyleBlend, TensorImages, resolve_config
from stylebench.methods.core.checkpoints import CheckpointMismatch
from stylebench.methods.core.moments import EPS, mean_variance_norm
from stylebench.methods.core.normalised_vgg import TRUNK, load_normalised_vgg
from stylebench.methods.core.style_attention import StyleAttention
from stylebench.methods.core.weights import WeightsSource
from stylebench.methods.sanet import SANet, read_published
from tests.methods import reference_adain, reference_sanet
from tests.methods.stubs import context_with
from tests.methods.test_adain import DECODER_PARAMETERS

#: Two attention modules of four 1x1 convs 512 -> 512 each, and the 3x3 merge conv 512 -> 512
#: (weights in*out*k*k plus out biases each).
TRANSFORMER_PARAMETERS = 2 * 4 * (512 * 512 + 512) + (9 * 512 * 512 + 512)


def rand(*shape: int, seed: int) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def close(ours: torch.Tensor, theirs: torch.Tensor) -> bool:
    """Equal to 1e-5 of the largest value (float rounding of a different summation order)."""
    return (ours - theirs).abs().max().item() <= 1e-5 * theirs.abs().max().item()


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The reference code's three files with seeded random weights, the one checkpoint the
    decoder and transformer files make, and what they load into."""
    folder = tmp_path_factory.mktemp("sanet")
    vgg = reference_adain.random_vgg(seed=0).eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        decoder = reference_adain.decoder().eval()
        transform = reference_sanet.Transform(512).eval()
    torch.save(vgg.state_dict(), folder / "vgg_normalised.pth")
    torch.save(decoder.state_dict(), folder / "decoder_iter_500000.pth")
    torch.save(transform.state_dict(), folder / "transformer_iter_500000.pth")
    combined = read_published(
        folder / "decoder_iter_500000.pth", folder / "transformer_iter_500000.pth"
    )
    torch.save(combined, folder / "sanet.pth")
    encoder = load_normalised_vgg(WeightsSource.parse(str(folder / "vgg_normalised.pth")))
    return folder, vgg[:TRUNK], transform, decoder, context_with({"vgg_normalised": encoder})


def loaded(published, **settings) -> SANet:
    """SANet with the published networks (the ``reference`` preset unless told)."""
    folder, *_, context = published
    merged = {"preset": "reference", "checkpoint": str(folder / "sanet.pth"), **settings}
    method = SANet(resolve_config(SANet, merged), context)
    method.prepare(PrepareData(styles=torch.empty(0, 3, 32, 32)))
    return method


def test_the_networks_are_the_reference_codes_layouts_under_two_prefixes(published):
    state = loaded(published).state_dict()
    shapes = {
        **{f"decoder.{k}": v.shape for k, v in reference_adain.decoder().state_dict().items()},
        **{
            f"transformer.{k}": v.shape
            for k, v in reference_sanet.Transform(512).state_dict().items()
        },
    }
    assert {k: v.shape for k, v in state.items()} == shapes
    transformer = sum(v.numel() for k, v in state.items() if k.startswith("transformer."))
    decoder = sum(v.numel() for k, v in state.items() if k.startswith("decoder."))
    assert (transformer, decoder) == (TRANSFORMER_PARAMETERS, DECODER_PARAMETERS)
    assert TRANSFORMER_PARAMETERS == 4_461_056
    assert (
        "transformer.sanet5_1.out_conv.bias" in state and "transformer.merge_conv.weight" in state
    )


def test_the_forward_pass_equals_the_reference_codes(published):
    _, vgg, transform, decoder, _ = published
    method = loaded(published)
    content, style = rand(2, 3, 64, 64, seed=2), rand(2, 3, 48, 80, seed=3)
    with torch.no_grad():
        theirs = reference_sanet.stylize(vgg, transform, decoder, content, style)
        ours = method.model(content, style)
    assert ours.shape == theirs.shape == (2, 3, 64, 64) and close(ours, theirs)
    assert torch.equal(method.stylize(content, style).images, ours.clamp(0, 1))


def test_alpha_blends_with_the_content_as_its_own_style(published):
    """alpha 0 is the reference code run on (content, content); between, the features blend."""
    _, vgg, transform, decoder, _ = published
    content, style = rand(1, 3, 32, 48, seed=4), rand(1, 3, 32, 32, seed=5)
    with torch.no_grad():
        alone = reference_sanet.stylize(vgg, transform, decoder, content, content)
        ours = loaded(published, alpha=0.0).model(content, style)
        c, s = (reference_sanet.intermediate(vgg, x) for x in (content, style))
        blend = 0.3 * transform(c[3], s[3], c[4], s[4]) + 0.7 * transform(c[3], c[3], c[4], c[4])
        between = loaded(published, alpha=0.3).model(content, style)
    assert close(ours, alone) and close(between, decoder(blend))


def test_sizes_the_reference_code_cannot_take_come_back_at_their_size(published):
    """At 40 px relu4_1 is 5x5 and relu5_1 3x3: the reference code's addition fails there."""
    _, vgg, transform, decoder, _ = published
    method = loaded(published)
    content, style = rand(1, 3, 40, 37, seed=6), rand(1, 3, 24, 30, seed=7)
    with pytest.raises(RuntimeError), torch.no_grad():
        reference_sanet.stylize(vgg, transform, decoder, content, style)
    images = method.stylize(content, style).images
    assert images.shape == content.shape and torch.isfinite(images).all()
    with pytest.raises(ValueError, match="at least 17 px"):
        method.stylize(rand(1, 3, 16, 16, seed=8), style)
    with pytest.raises(ValueError, match="at least 17 px"):
        resolve_config(SANet, {}).check_image_size(16)


def test_the_training_losses_equal_the_reference_codes(published):
    """One step's four loss terms (before the update) against ``Net.forward``."""
    _, vgg, _, _, context = published
    settings = {"preset": "reference", "steps": 1, "batch_size": 4, "image_size": 32}
    method = SANet(resolve_config(SANet, settings), context)
    transform = reference_sanet.Transform(512)
    transform.load_state_dict(method.model.transformer.state_dict())
    decoder = copy.deepcopy(method.model.decoder)
    content, style = rand(4, 3, 32, 32, seed=9), rand(1, 3, 48, 48, seed=10)
    curves = method.prepare(PrepareData(styles=style, training=TensorImages(content)))
    with torch.no_grad():
        theirs = reference_sanet.losses(
            vgg, transform, decoder, content, style.expand(4, -1, -1, -1)
        )
    for name, value in zip(("content", "style", "identity1", "identity2"), theirs, strict=True):
        assert curves[name][0] == pytest.approx(value.item(), rel=1e-5), name
    loss_c, loss_s, l_identity1, l_identity2 = (value.item() for value in theirs)
    total = loss_c + 3 * loss_s + 50 * l_identity1 + l_identity2  # Train.ipynb's weighting
    assert curves["total"][0] == pytest.approx(total, rel=1e-5)
    assert not torch.equal(decoder[1].weight, method.model.decoder[1].weight)  # it trained
    assert not torch.equal(transform.merge_conv.weight, method.model.transformer.merge_conv.weight)


def test_the_normalisation_and_the_attention_by_hand():
    x = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 2, 2)
    assert torch.allclose(mean_variance_norm(x), (x - 2.5) / math.sqrt(1.25 + EPS))
    assert torch.allclose(mean_variance_norm(x, unbiased=True), (x - 2.5) / math.sqrt(5 / 3 + EPS))
    # One channel, identity 1x1 convs: content [0, 2] and style [10, 20] normalise to about
    # [-1, 1]; content position 0 attends to style position 0 with weight sigmoid(2).
    attention = StyleAttention(channels=1, unbiased=False)
    for conv in (attention.f, attention.g, attention.h, attention.out_conv):
        torch.nn.init.ones_(conv.weight)
        torch.nn.init.zeros_(conv.bias)
    content = torch.tensor([0.0, 2.0]).view(1, 1, 1, 2)
    style = torch.tensor([10.0, 20.0]).view(1, 1, 1, 2)
    near, far = 1 / (1 + math.exp(-2)), 1 / (1 + math.exp(2))
    expected = [0 + near * 10 + far * 20, 2 + far * 10 + near * 20]
    with torch.no_grad():
        ours = attention(content, style).flatten().tolist()
    assert ours == pytest.approx(expected, rel=1e-4)


def test_the_published_files_load_strictly_and_a_wrong_file_names_every_key(published):
    folder, _, transform, _, context = published
    state = transform.state_dict()
    state.pop("merge_conv.bias")
    state["sanet4_1.f.weight"] = torch.zeros(512, 512, 3, 3)
    state["sanet4_1.sm.weight"] = torch.zeros(1)
    torch.save(state, folder / "wrong.pth")
    with pytest.raises(CheckpointMismatch) as info:
        read_published(folder / "decoder_iter_500000.pth", folder / "wrong.pth")
    message = str(info.value)
    assert str(folder / "wrong.pth") in message
    assert "missing keys: merge_conv.bias" in message
    assert "unexpected keys: sanet4_1.sm.weight" in message
    assert (
        "shape mismatches: sanet4_1.f.weight (file (512, 512, 3, 3), network (512, 512, 1, 1))"
        in message
    )
    # The decoder file alone as a checkpoint: every key is wrong, and the error says why.
    config = resolve_config(SANet, {"checkpoint": str(folder / "decoder_iter_500000.pth")})
    with pytest.raises(
        CheckpointMismatch,
        match="missing keys: decoder.1.bias, .*unexpected keys: 1.bias, .*read_published",
    ):
        SANet(config, context).prepare(PrepareData(styles=torch.empty(0, 3, 32, 32)))


def test_checkpoint_round_trip(published, tmp_path):
    method = loaded(published, preset="paper")
    torch.save(method.state_dict(), tmp_path / "sanet.pth")
    again = loaded(published, preset="paper", checkpoint=str(tmp_path / "sanet.pth"))
    content, style = rand(1, 3, 32, 32, seed=11), rand(1, 3, 32, 32, seed=12)
    assert torch.equal(again.stylize(content, style).images, method.stylize(content, style).images)


def test_paper_and_reference_presets_differ_only_where_the_codes_do():
    paper, reference = (resolve_config(SANet, {"preset": p}) for p in ("paper", "reference"))
    assert paper.model_dump(exclude={"preset", "unbiased_std"}) == reference.model_dump(
        exclude={"preset", "unbiased_std"}
    )
    assert (paper.unbiased_std, reference.unbiased_std) == (False, True)
    weights = (
        paper.content_weight,
        paper.style_weight,
        paper.identity1_weight,
        paper.identity2_weight,
    )
    assert weights == (1, 3, 50, 1)
    assert (paper.lr, paper.lr_decay, paper.batch_size, paper.image_size) == (1e-4, 5e-5, 5, 256)
    assert paper.steps == 160_000 and "alpha" in paper.inference_only


def test_a_blend_decodes_the_weighted_sum_of_the_attention_outputs(published):
    _, vgg, transform, decoder, _ = published
    method = loaded(published)
    content = rand(2, 3, 32, 32, seed=6)
    parts = (rand(2, 3, 32, 32, seed=7), rand(2, 3, 32, 32, seed=8))
    out = method.stylize_blend(content, StyleBlend(parts, (0.7, 0.3))).images
    with torch.no_grad():
        c, s, t = (reference_sanet.intermediate(vgg, x) for x in (content, *parts))
        mixed = 0.7 * transform(c[3], s[3], c[4], s[4]) + 0.3 * transform(c[3], t[3], c[4], t[4])
        theirs = decoder(mixed)[..., :32, :32].clamp(0, 1)
    assert close(out, theirs)

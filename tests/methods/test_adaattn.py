"""AdaAttN (Liu et al.): equal to the reference code's forward pass and losses on identical weights
(its style-position sampling included), its three published layouts load strictly, the
attention normalisation, the keys and the schedule by hand."""

import copy
import math

import pytest
import torch

from stylebench.methods import adaattn
from stylebench.methods.adaattn import AdaAttN, read_published
from stylebench.methods.base import PrepareData, TensorImages, resolve_config
from stylebench.methods.core.adaptive_attention import (
    attention_key,
    attentive_norm,
    key_width,
    style_positions,
)
from stylebench.methods.core.checkpoints import CheckpointMismatch
from stylebench.methods.core.moments import EPS
from stylebench.methods.core.normalised_vgg import TRUNK, load_normalised_vgg
from stylebench.methods.core.training_loop import periodic_decay_lr
from stylebench.methods.core.weights import WeightsSource
from tests.methods import reference_adaattn, reference_adain
from tests.methods.stubs import context_with
from tests.methods.test_adain import DECODER_PARAMETERS


def conv(cin: int, cout: int, k: int = 1) -> int:
    """Weights in*out*k*k plus out biases."""
    return cin * cout * k * k + cout


#: relu3_1's module: f, g on keys of 64 + 128 + 256 channels, h on relu3_1's 256.
ADAATTN_3_PARAMETERS = 2 * conv(448, 448) + conv(256, 256)
#: relu4_1's module (keys 64 + 128 + 256 + 512), relu5_1's (keys 960 + 512), the 3x3 merge.
TRANSFORMER_PARAMETERS = (
    2 * conv(960, 960) + conv(512, 512) + 2 * conv(1472, 1472) + conv(512, 512) + conv(512, 512, 3)
)
#: AdaIN's decoder, whose first conv after the up-sampling also reads relu3_1's 256 channels.
SKIP_DECODER_PARAMETERS = DECODER_PARAMETERS + 256 * 256 * 9


def rand(*shape: int, seed: int) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def close(ours: torch.Tensor, theirs: torch.Tensor) -> bool:
    """Equal to 1e-5 of the largest value (float rounding of a different summation order)."""
    return (ours - theirs).abs().max().item() <= 1e-5 * theirs.abs().max().item()


FILES = ("latest_net_adaattn_3.pth", "latest_net_transformer.pth", "latest_net_decoder.pth")


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The reference code's four files with seeded random weights, the one checkpoint the three
    trained ones make, and what they load into."""
    folder = tmp_path_factory.mktemp("adaattn")
    vgg = reference_adain.random_vgg(seed=0).eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        nets = [net.eval() for net in reference_adaattn.networks()]
    torch.save(vgg.state_dict(), folder / "vgg_normalised.pth")
    for net, name in zip(nets, FILES, strict=True):
        torch.save(net.state_dict(), folder / name)
    torch.save(read_published(*(folder / name for name in FILES)), folder / "adaattn.pth")
    encoder = load_normalised_vgg(WeightsSource.parse(str(folder / "vgg_normalised.pth")))
    return folder, vgg[:TRUNK], nets, context_with({"vgg_normalised": encoder})


def loaded(published, **settings) -> AdaAttN:
    """AdaAttN with the published networks (the ``reference`` preset unless told)."""
    folder, *_, context = published
    merged = {"preset": "reference", "checkpoint": str(folder / "adaattn.pth"), **settings}
    method = AdaAttN(resolve_config(AdaAttN, merged), context)
    method.prepare(PrepareData(styles=torch.empty(0, 3, 32, 32)))
    return method


def test_the_networks_are_the_reference_codes_layouts_under_three_prefixes(published):
    state = loaded(published).state_dict()
    shapes = {
        f"{part}.{k}": v.shape
        for part, net in zip(adaattn.PARTS, reference_adaattn.networks(), strict=True)
        for k, v in net.state_dict().items()
    }
    assert {k: v.shape for k, v in state.items()} == shapes
    counts = tuple(
        sum(v.numel() for k, v in state.items() if k.startswith(f"{part}."))
        for part in adaattn.PARTS
    )
    assert counts == (ADAATTN_3_PARAMETERS, TRANSFORMER_PARAMETERS, SKIP_DECODER_PARAMETERS)
    assert counts == (468_096, 9_066_752, 4_095_043)
    assert (
        "transformer.attn_adain_5_1.f.weight" in state
        and "decoder.decoder_layer_2.24.bias" in state
    )


def test_the_forward_pass_equals_the_reference_codes(published):
    _, vgg, nets, _ = published
    method = loaded(published)
    content, style = rand(2, 3, 64, 64, seed=2), rand(2, 3, 48, 80, seed=3)
    with torch.no_grad():
        theirs = reference_adaattn.stylize(vgg, *nets, content, style)
        ours = method.model(content, style)
    assert ours.shape == theirs.shape == (2, 3, 64, 64) and close(ours, theirs)
    assert torch.equal(method.stylize(content, style).images, ours.clamp(0, 1))


def test_sampled_style_positions_are_the_reference_codes(published, monkeypatch):
    """With caps below the positions (here 20, where the code's are 64 x 64 and 256 x 256, only
    reached by large images), the same subsets are drawn: forward pass and losses equal."""
    _, vgg, nets, _ = published
    method = loaded(published)
    theirs = [copy.deepcopy(net) for net in nets]
    for module in (
        method.model.adaattn_3,
        method.model.transformer.attn_adain_4_1,
        method.model.transformer.attn_adain_5_1,
        theirs[0],
        theirs[1].attn_adain_4_1,
        theirs[1].attn_adain_5_1,
    ):
        module.max_sample = 20
    monkeypatch.setattr(adaattn, "SHALLOW_SAMPLE", 20)
    content, style = rand(2, 3, 64, 64, seed=4), rand(2, 3, 96, 96, seed=5)
    with torch.no_grad():
        expected = reference_adaattn.stylize(vgg, *theirs, content, style)
        assert close(method.model(content, style), expected)
        mine = method.losses(content, style, seed=123)
        theirs_terms = reference_adaattn.losses(vgg, *theirs, content, style, 123, max_sample=20)
    for name, value in zip(("content", "global", "local"), theirs_terms, strict=True):
        assert mine[name].mean().item() == pytest.approx(value.item(), rel=1e-5), name
    unsampled = reference_adaattn.stylize(vgg, *nets, content, style)
    assert not close(expected, unsampled)  # the sampling did change the result


def test_sizes_the_reference_code_cannot_take_come_back_at_their_size(published):
    """At 40 px relu4_1 is 5x5 and relu5_1 3x3: the reference code's addition fails there."""
    _, vgg, nets, _ = published
    method = loaded(published)
    content, style = rand(1, 3, 40, 37, seed=6), rand(1, 3, 24, 30, seed=7)
    with pytest.raises(RuntimeError), torch.no_grad():
        reference_adaattn.stylize(vgg, *nets, content, style)
    images = method.stylize(content, style).images
    assert images.shape == content.shape and torch.isfinite(images).all()
    with pytest.raises(ValueError, match="at least 17 px"):
        method.stylize(rand(1, 3, 16, 16, seed=8), style)
    with pytest.raises(ValueError, match="at least 17 px"):
        resolve_config(AdaAttN, {}).check_image_size(16)


def test_the_training_losses_equal_the_reference_codes(published):
    """One step's three loss terms (before the update) against ``compute_losses``."""
    _, vgg, _, context = published
    settings = {"preset": "reference", "steps": 1, "batch_size": 4, "image_size": 32}
    method = AdaAttN(resolve_config(AdaAttN, settings), context)
    nets = reference_adaattn.networks()
    for part, net in zip(adaattn.PARTS, nets, strict=True):
        net.load_state_dict(getattr(method.model, part).state_dict())
    content, style = rand(4, 3, 32, 32, seed=9), rand(1, 3, 48, 48, seed=10)
    curves = method.prepare(PrepareData(styles=style, training=TensorImages(content)))
    with torch.no_grad():
        theirs = reference_adaattn.losses(
            vgg, *nets, content, style.expand(4, -1, -1, -1), seed=None
        )
    for name, value in zip(("content", "global", "local"), theirs, strict=True):
        assert curves[name][0] == pytest.approx(value.item(), rel=1e-5), name
    loss_content, loss_global, loss_local = (value.item() for value in theirs)
    total = 0 * loss_content + 10 * loss_global + 3 * loss_local  # train_adaattn.sh's lambdas
    assert curves["total"][0] == pytest.approx(total, rel=1e-5)
    decoder = method.model.decoder.decoder_layer_2[1].weight
    assert not torch.equal(nets[2].decoder_layer_2[1].weight, decoder)  # it trained
    assert not torch.equal(nets[0].f.weight, method.model.adaattn_3.f.weight)


def test_the_paper_preset_reads_the_local_loss_at_the_attended_layers_only(published):
    *_, context = published
    method = AdaAttN(resolve_config(AdaAttN, {"preset": "paper"}), context)
    content, style = rand(2, 3, 32, 32, seed=11), rand(2, 3, 32, 32, seed=12)
    with torch.no_grad():
        terms = method.losses(content, style)
        own, their = method.model.encode(content), method.model.encode(style)
        out = method.model.encode(method.model(content, style))
        local = 0
        for layer in ("relu3_1", "relu4_1", "relu5_1"):
            query, key = (attention_key(x, layer, True, False) for x in (own, their))
            target = attentive_norm(own[layer], query, key, their[layer], unbiased=False)
            local = local + (out[layer] - target).square().flatten(1).mean(1)
    assert torch.allclose(terms["local"], local, rtol=1e-5)


def test_the_attention_normalisation_by_hand():
    # Keys all alike: uniform attention, so each position gets the style's global mean 2 and
    # standard deviation 1 (over positions): AdaIN. Content [0, 2] normalises to [-1, 1].
    content = torch.tensor([0.0, 2.0]).view(1, 1, 1, 2)
    value = torch.tensor([1.0, 3.0]).view(1, 1, 1, 2)
    zeros = torch.zeros(1, 1, 1, 2)
    out = attentive_norm(content, zeros, zeros, value, unbiased=False).flatten().tolist()
    assert out == pytest.approx([2 - 1 / math.sqrt(1 + EPS), 2 + 1 / math.sqrt(1 + EPS)])
    # Query 1 against keys [0, ln 3]: weights [1/4, 3/4] on values [0, 4], mean 3, E[v^2] 12,
    # so standard deviation sqrt(12 - 9); one content position, normalised to 0: the mean.
    query, key = torch.ones(1, 1, 1, 1), torch.tensor([0.0, math.log(3)]).view(1, 1, 1, 2)
    value = torch.tensor([0.0, 4.0]).view(1, 1, 1, 2)
    two = torch.tensor([1.0, 5.0]).view(1, 1, 1, 2)  # two content positions, norm ~ [-1, 1]
    out = attentive_norm(two, torch.ones(1, 1, 1, 2), key, value, unbiased=False).flatten()
    assert out.tolist() == pytest.approx([3 - math.sqrt(3), 3 + math.sqrt(3)], rel=1e-4)
    one = attentive_norm(torch.ones(1, 1, 1, 1), query, key, value, unbiased=False)
    assert one.item() == pytest.approx(3.0)
    # Only the kept style positions count: position 1 alone gives mean 4, deviation 0.
    alone = attentive_norm(two, torch.ones(1, 1, 1, 2), key, value, False, torch.tensor([1]))
    assert alone.flatten().tolist() == pytest.approx([4.0, 4.0])


def test_the_keys_and_the_sampling_by_hand():
    assert [key_width(x, True) for x in ("relu3_1", "relu4_1", "relu5_1")] == [448, 960, 1472]
    assert key_width("relu4_1", False) == 512
    features = {
        "relu1_1": torch.tensor([[1.0, 3.0], [5.0, 7.0]]).view(1, 1, 2, 2),
        "relu2_1": torch.tensor([2.0, 4.0]).view(1, 1, 1, 2),
    }
    key = attention_key(features, "relu2_1", shallow=True, unbiased=False)
    # relu1_1 resized (nearest) to 1 x 2 keeps its first row [1, 3]: normalised, about [-1, 1].
    assert key.shape == (1, 2, 1, 2)
    assert key.flatten().tolist() == pytest.approx([-1, 1, -1, 1], rel=1e-4)
    assert attention_key(features, "relu2_1", shallow=False, unbiased=False).shape[1] == 1
    assert style_positions(10, None, 0) is None and style_positions(10, 10, 0) is None
    torch.manual_seed(5)
    assert torch.equal(style_positions(10, 4, 5), torch.randperm(10)[:4])


def test_the_learning_rate_schedule_by_hand():
    """5 periods of 10 steps: 2 at the full rate, then x0.3 a period (the code's 5 epochs)."""
    optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1.0)
    rates = []
    for step in range(10):
        periodic_decay_lr(optimizer, 2.0, 0.3, 5, 2, step, 10)
        rates.append(optimizer.param_groups[0]["lr"])
    expected = [2, 2, 2, 2, 0.6, 0.6, 0.18, 0.18, 0.054, 0.054]
    assert rates == pytest.approx(expected)


def test_the_published_files_load_strictly_and_a_wrong_file_names_every_key(published):
    folder, _, nets, context = published
    state = nets[1].state_dict()
    state.pop("merge_conv.bias")
    state["attn_adain_4_1.f.weight"] = torch.zeros(512, 512, 1, 1)
    state["attn_adain_4_1.sm.weight"] = torch.zeros(1)
    torch.save(state, folder / "wrong.pth")
    files = [folder / name for name in FILES]
    with pytest.raises(CheckpointMismatch) as info:
        read_published(files[0], folder / "wrong.pth", files[2])
    message = str(info.value)
    assert str(folder / "wrong.pth") in message
    assert "missing keys: merge_conv.bias" in message
    assert "unexpected keys: attn_adain_4_1.sm.weight" in message
    assert (
        "shape mismatches: attn_adain_4_1.f.weight (file (512, 512, 1, 1), "
        "network (960, 960, 1, 1))" in message
    )
    # The decoder file alone as a checkpoint: every key is wrong, and the error says why.
    config = resolve_config(AdaAttN, {"checkpoint": str(files[2])})
    with pytest.raises(
        CheckpointMismatch,
        match="missing keys: adaattn_3.f.bias, .*unexpected keys: decoder_layer_1.1.bias, "
        ".*read_published",
    ):
        AdaAttN(config, context).prepare(PrepareData(styles=torch.empty(0, 3, 32, 32)))


def test_checkpoint_round_trip(published, tmp_path):
    method = loaded(published, preset="paper")
    torch.save(method.state_dict(), tmp_path / "adaattn.pth")
    again = loaded(published, preset="paper", checkpoint=str(tmp_path / "adaattn.pth"))
    content, style = rand(1, 3, 32, 32, seed=13), rand(1, 3, 32, 32, seed=14)
    assert torch.equal(again.stylize(content, style).images, method.stylize(content, style).images)


def test_paper_and_reference_presets_differ_only_where_the_codes_do():
    paper, reference = (resolve_config(AdaAttN, {"preset": p}) for p in ("paper", "reference"))
    differ = {"preset", "lr", "local_layers", "sample_style", "unbiased_std"}
    assert paper.model_dump(exclude=differ) == reference.model_dump(exclude=differ)
    assert (paper.lr, reference.lr) == (1e-4, 2e-4)
    assert paper.local_layers == ("relu3_1", "relu4_1", "relu5_1")
    assert reference.local_layers == ("relu2_1", "relu3_1", "relu4_1", "relu5_1")
    assert (paper.sample_style, paper.unbiased_std) == (False, False)
    assert (reference.sample_style, reference.unbiased_std) == (True, True)
    weights = (paper.content_weight, paper.global_weight, paper.local_weight)
    assert weights == (0, 10, 3)
    assert (paper.batch_size, paper.image_size, paper.steps) == (8, 256, 50_000)
    assert (paper.lr_decay, paper.lr_periods, paper.lr_hold) == (0.3, 5, 2)

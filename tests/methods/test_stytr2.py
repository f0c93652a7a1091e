"""StyTr^2 (Deng et al.): equal to the reference code's forward pass and losses on identical
weights, its three published layouts load strictly, the losses and the schedule by hand."""

import pytest
import torch

from stylebench.methods import stytr2
from stylebench.methods.base import PrepareData, TensorImages, resolve_config
from stylebench.methods.core.checkpoints import CheckpointMismatch
from stylebench.methods.core.identity_losses import LAYERS, identity_losses
from stylebench.methods.core.normalised_vgg import TRUNK, load_normalised_vgg
from stylebench.methods.core.training_loop import warmup_inverse_time_lr
from stylebench.methods.core.weights import WeightsSource
from stylebench.methods.stytr2 import StyTr2, read_published
from tests.methods import reference_adain, reference_stytr2
from tests.methods.stubs import context_with
from tests.methods.test_adain import DECODER_PARAMETERS

#: The 8x8 patch projection, 3 -> 512.
EMBEDDING_PARAMETERS = 3 * 512 * 64 + 512
#: One attention: in_proj (3 x 512 x 512 + 3 x 512) and out_proj (512 x 512 + 512).
ATTENTION = 4 * 512 * 512 + 4 * 512
#: The feed-forward 512 -> 2048 -> 512, and one LayerNorm's weight and bias.
FEED_FORWARD = 2 * 512 * 2048 + 2048 + 512
NORM = 2 * 512
#: Six encoder layers (attention, feed-forward, two norms), three decoder layers (two
#: attentions, feed-forward, three norms), the decoder's final norm, CAPE's 1x1 conv.
TRANSFORMER_PARAMETERS = (
    6 * (ATTENTION + FEED_FORWARD + 2 * NORM)
    + 3 * (2 * ATTENTION + FEED_FORWARD + 3 * NORM)
    + NORM
    + (512 * 512 + 512)
)

FILES = ("embedding_iter_160000.pth", "transformer_iter_160000.pth", "decoder_iter_160000.pth")


def rand(*shape: int, seed: int) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def close(ours: torch.Tensor, theirs: torch.Tensor) -> bool:
    """Equal to 1e-5 of the largest value (float rounding of a different summation order)."""
    return (ours - theirs).abs().max().item() <= 1e-5 * theirs.abs().max().item()


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The reference code's four files with seeded random weights, the one checkpoint the three
    trained ones make, and what they load into."""
    folder = tmp_path_factory.mktemp("stytr2")
    vgg = reference_adain.random_vgg(seed=0).eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        nets = [net.eval() for net in reference_stytr2.networks()]
    torch.save(vgg.state_dict(), folder / "vgg_normalised.pth")
    for net, name in zip(nets, FILES, strict=True):
        torch.save(net.state_dict(), folder / name)
    torch.save(read_published(*(folder / name for name in FILES)), folder / "stytr2.pth")
    encoder = load_normalised_vgg(WeightsSource.parse(str(folder / "vgg_normalised.pth")))
    return folder, vgg[:TRUNK], nets, context_with({"vgg_normalised": encoder})


def loaded(published, **settings) -> StyTr2:
    """StyTr2 with the published networks (the ``reference`` preset unless told)."""
    folder, *_, context = published
    merged = {"preset": "reference", "checkpoint": str(folder / "stytr2.pth"), **settings}
    method = StyTr2(resolve_config(StyTr2, merged), context)
    method.prepare(PrepareData(styles=torch.empty(0, 3, 32, 32)))
    return method


def test_the_networks_are_the_reference_codes_layouts_under_three_prefixes(published):
    state = loaded(published).state_dict()
    shapes = {
        f"{part}.{k}": v.shape
        for part, net in zip(stytr2.PARTS, reference_stytr2.networks(), strict=True)
        for k, v in net.state_dict().items()
    }
    assert {k: v.shape for k, v in state.items()} == shapes
    counts = tuple(
        sum(v.numel() for k, v in state.items() if k.startswith(f"{part}."))
        for part in stytr2.PARTS
    )
    assert counts == (EMBEDDING_PARAMETERS, TRANSFORMER_PARAMETERS, DECODER_PARAMETERS)
    assert counts == (98_816, 31_790_080, 3_505_219)
    assert "transformer.decoder.layers.2.multihead_attn.in_proj_weight" in state
    assert "transformer.new_ps.weight" in state and "decoder.28.bias" in state


def test_the_forward_pass_equals_the_reference_codes(published):
    _, _, nets, _ = published
    method = loaded(published)
    for size, seed in ((32, 2), (64, 3)):
        content, style = rand(2, 3, size, size, seed=seed), rand(2, 3, size, size, seed=seed + 10)
        with torch.no_grad():
            theirs = reference_stytr2.stylize(*nets, content, style)
            ours = method.model(content, style)
        assert ours.shape == theirs.shape == (2, 3, size, size) and close(ours, theirs)
    assert torch.equal(method.stylize(content, style).images, ours.clamp(0, 1))
    # Taller than wide: the code's square fold gives the same grid.
    content, style = rand(1, 3, 48, 32, seed=4), rand(1, 3, 48, 32, seed=5)
    with torch.no_grad():
        assert close(method.model(content, style), reference_stytr2.stylize(*nets, content, style))


def test_a_style_of_another_size_runs_where_the_reference_code_cannot(published):
    """The code scales CAPE to the style's grid and adds it to the content's: sizes must agree.
    Here CAPE follows the content's grid, so the output is the content's size."""
    _, _, nets, _ = published
    method = loaded(published)
    content, style = rand(1, 3, 32, 40, seed=6), rand(1, 3, 48, 24, seed=7)
    with pytest.raises(RuntimeError), torch.no_grad():
        reference_stytr2.stylize(*nets, content, style)
    images = method.stylize(content, style).images
    assert images.shape == content.shape and torch.isfinite(images).all()


def test_sizes_must_be_whole_patches_and_read_relu5_1(published):
    method = loaded(published)
    style = rand(1, 3, 32, 32, seed=8)
    with pytest.raises(ValueError, match="multiples of 8 px"):
        method.stylize(rand(1, 3, 36, 32, seed=9), style)
    with pytest.raises(ValueError, match="multiples of 8 px"):
        method.stylize(style, rand(1, 3, 32, 30, seed=9))
    with pytest.raises(ValueError, match="at least 17 px"):
        method.stylize(rand(1, 3, 16, 16, seed=10), style)
    config = resolve_config(StyTr2, {})
    with pytest.raises(ValueError, match="multiples of 8 px"):
        config.check_image_size(100)
    config.check_image_size(24)


def test_the_training_losses_equal_the_reference_codes(published):
    """One step's four loss terms (before the update) against ``StyTrans.forward``, with dropout
    off in both (it draws its own masks)."""
    _, vgg, _, context = published
    settings = {"preset": "reference", "steps": 1, "batch_size": 4, "image_size": 32, "dropout": 0}
    method = StyTr2(resolve_config(StyTr2, settings), context)
    nets = reference_stytr2.networks(dropout=0.0)
    for part, net in zip(stytr2.PARTS, nets, strict=True):
        net.load_state_dict(getattr(method.model, part).state_dict())
    content, style = rand(4, 3, 32, 32, seed=11), rand(1, 3, 32, 32, seed=12)
    curves = method.prepare(PrepareData(styles=style, training=TensorImages(content)))
    with torch.no_grad():
        theirs = reference_stytr2.losses(vgg, *nets, content, style.expand(4, -1, -1, -1))
    names = ("content", "style", "identity1", "identity2")
    for name, value in zip(names, theirs, strict=True):
        assert curves[name][0] == pytest.approx(value.item(), rel=1e-5), name
    loss_c, loss_s, l1, l2 = (value.item() for value in theirs)
    total = 7 * loss_c + 10 * loss_s + 70 * l1 + 1 * l2  # train.py's weights
    assert curves["total"][0] == pytest.approx(total, rel=1e-5)
    assert not torch.equal(nets[0].proj.weight, method.model.embedding.proj.weight)  # it trained
    assert not torch.equal(nets[1].new_ps.weight, method.model.transformer.new_ps.weight)


def test_the_losses_by_hand():
    """Every layer is the image itself, and G(a, b) = a + 1: the output keeps the content's
    normalised features (content 0) and has the style's moments (style [1, 3] = c + 1: 0); each
    identity image is 1 off (identity1 1 + 1), at each of five layers (identity2 5 x 2)."""
    content = torch.tensor([0.0, 2.0]).view(1, 1, 1, 2)
    style = torch.tensor([1.0, 3.0]).view(1, 1, 1, 2)
    config = resolve_config(StyTr2, {})
    terms = identity_losses(
        lambda x: {name: x for name in LAYERS}, lambda a, b: a[0] + 1, content, style, config
    )
    got = {name: value.item() for name, value in terms.items()}
    assert got == pytest.approx(
        {"content": 0, "style": 0, "identity1": 2, "identity2": 10, "total": 70 * 2 + 10}
    )


def test_the_learning_rate_schedule_by_hand():
    """train.py: 5e-4 x 0.1 x (1 + 3e-4 i) below 10,000, then 2e-4 / (1 + 1e-5 (i - 10,000))."""
    optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1.0)
    rates = []
    for step in (0, 5_000, 9_999, 10_000, 110_000):
        warmup_inverse_time_lr(optimizer, 5e-4, 10_000, 1e-5, step)
        rates.append(optimizer.param_groups[0]["lr"])
    assert rates == pytest.approx([5e-5, 1.25e-4, 5e-5 * (1 + 3e-4 * 9_999), 2e-4, 1e-4])


def test_the_published_files_load_strictly_and_a_wrong_file_names_every_key(published):
    folder, _, nets, context = published
    state = nets[1].state_dict()
    state.pop("new_ps.bias")
    state["new_ps.weight"] = torch.zeros(256, 512, 1, 1)
    state["encoder_c.norm.weight"] = torch.zeros(512)
    torch.save(state, folder / "wrong.pth")
    files = [folder / name for name in FILES]
    with pytest.raises(CheckpointMismatch) as info:
        read_published(files[0], folder / "wrong.pth", files[2])
    message = str(info.value)
    assert str(folder / "wrong.pth") in message
    assert "missing keys: new_ps.bias" in message
    assert "unexpected keys: encoder_c.norm.weight" in message
    assert "shape mismatches: new_ps.weight (file (256, 512, 1, 1), network (512, 512, 1, 1))" in (
        message
    )
    # The embedding file alone as a checkpoint: every key is wrong, and the error says why.
    config = resolve_config(StyTr2, {"checkpoint": str(files[0])})
    with pytest.raises(
        CheckpointMismatch,
        match="missing keys: decoder.1.bias, .*unexpected keys: proj.bias, .*read_published",
    ):
        StyTr2(config, context).prepare(PrepareData(styles=torch.empty(0, 3, 32, 32)))


def test_checkpoint_round_trip(published, tmp_path):
    method = loaded(published, preset="paper")
    torch.save(method.state_dict(), tmp_path / "stytr2.pth")
    again = loaded(published, preset="paper", checkpoint=str(tmp_path / "stytr2.pth"))
    content, style = rand(1, 3, 32, 32, seed=13), rand(1, 3, 32, 32, seed=14)
    assert torch.equal(again.stylize(content, style).images, method.stylize(content, style).images)


def test_paper_and_reference_presets_differ_only_where_the_codes_do():
    paper, reference = (resolve_config(StyTr2, {"preset": p}) for p in ("paper", "reference"))
    differ = {"preset", "unbiased_std"}
    assert paper.model_dump(exclude=differ) == reference.model_dump(exclude=differ)
    assert (paper.unbiased_std, reference.unbiased_std) == (False, True)
    weights = (
        paper.content_weight,
        paper.style_weight,
        paper.identity1_weight,
        paper.identity2_weight,
    )
    assert weights == (7, 10, 70, 1)
    assert (paper.batch_size, paper.image_size, paper.steps) == (8, 256, 160_000)
    assert (paper.lr, paper.warmup_steps, paper.lr_decay, paper.dropout) == (
        5e-4,
        10_000,
        1e-5,
        0.1,
    )

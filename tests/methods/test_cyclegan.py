"""CycleGAN: the reference networks and key layout, its losses, pool and schedule, training
(and resuming it), and loading reference checkpoints strictly."""

import io
import re

import pytest
import torch
from torch import nn

from stylebench.methods.base import PrepareData, TensorImages
from stylebench.methods.core.adversarial import ImagePool, linear_decay, lsgan_loss
from stylebench.methods.core.checkpoints import CheckpointMismatch
from stylebench.methods.core.cyclegan_nets import PatchDiscriminator, ResnetGenerator
from stylebench.methods.cyclegan import CycleGAN, CycleGANConfig
from tests.methods.stubs import context_with

CONTEXT = context_with({})


@pytest.fixture(autouse=True)
def one_thread():
    """These networks are tiny: on a shared CPU, syncing two threads per op costs far more than
    the op (tens of times slower), so these tests run on one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY = {"ngf": 4, "n_blocks": 2, "ndf": 4, "image_size": 32, "pool_size": 3}


def reference_generator_layout(
    ngf: int = 64, n_blocks: int = 9, dropout: bool = False
) -> dict[str, tuple[int, ...]]:
    """Key -> shape of a junyanz/pytorch-CycleGAN-and-pix2pix ``ResnetGenerator`` state dict
    with instance norm, written out by hand from its ``networks.py`` (not from our module):
    pad, conv, norm, relu; 2 x (conv, norm, relu); blocks; 2 x (convT, norm, relu); pad, conv,
    tanh. Norms have no parameters, every conv has a bias."""
    shapes: dict[str, tuple[int, ...]] = {}

    def conv(index: int | str, cin: int, cout: int, k: int, transposed: bool = False) -> None:
        shapes[f"model.{index}.weight"] = (cin, cout, k, k) if transposed else (cout, cin, k, k)
        shapes[f"model.{index}.bias"] = (cout,)

    conv(1, 3, ngf, 7)
    conv(4, ngf, 2 * ngf, 3)
    conv(7, 2 * ngf, 4 * ngf, 3)
    second = 6 if dropout else 5
    for block in range(10, 10 + n_blocks):
        conv(f"{block}.conv_block.1", 4 * ngf, 4 * ngf, 3)
        conv(f"{block}.conv_block.{second}", 4 * ngf, 4 * ngf, 3)
    up = 10 + n_blocks
    conv(up, 4 * ngf, 2 * ngf, 3, transposed=True)
    conv(up + 3, 2 * ngf, ngf, 3, transposed=True)
    conv(up + 7, ngf, 3, 7)
    return shapes


def reference_checkpoint(seed: int = 0, legacy: bool = True, **layout) -> dict[str, torch.Tensor]:
    """Random tensors in the reference layout; ``legacy`` adds old instance-norm statistics."""
    generator = torch.Generator().manual_seed(seed)
    shapes = reference_generator_layout(**layout)
    state = {k: 0.05 * torch.randn(s, generator=generator) for k, s in shapes.items()}
    if legacy:
        ngf = layout.get("ngf", 64)
        for key, channels in [("model.2", ngf), ("model.10.conv_block.2", 4 * ngf)]:
            state[f"{key}.running_mean"] = torch.zeros(channels)
            state[f"{key}.running_var"] = torch.ones(channels)
            state[f"{key}.num_batches_tracked"] = torch.tensor(0)
    return state


def data(n: int = 4, seed: int = 0) -> TensorImages:
    return TensorImages(torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed)))


def train(config: CycleGANConfig, partial=None) -> tuple[CycleGAN, dict[str, list[float]]]:
    method = CycleGAN(config, CONTEXT)
    curves = method.prepare(
        PrepareData(
            styles=torch.empty(0, 3, 32, 32),
            training=data(4, 0),
            style_domain=data(2, 1),
            partial=partial,
        )
    )
    return method, curves


# Networks ---------------------------------------------------------------------------------


def test_parameter_counts_of_the_default_networks():
    assert sum(p.numel() for p in ResnetGenerator().parameters()) == 11_378_179
    assert sum(p.numel() for p in PatchDiscriminator().parameters()) == 2_764_737


@pytest.mark.parametrize(
    ("ngf", "n_blocks", "dropout", "last"),
    [(64, 9, False, 26), (8, 6, False, 23), (4, 2, True, 19)],
)
def test_generator_keys_are_the_reference_layout(ngf, n_blocks, dropout, last):
    net = ResnetGenerator(ngf, n_blocks, dropout)
    layout = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert layout == reference_generator_layout(ngf, n_blocks, dropout)
    assert f"model.{last}.bias" in layout
    assert isinstance(net.model[0], nn.ReflectionPad2d) and isinstance(net.model[-1], nn.Tanh)
    norm = net.model[2]
    assert isinstance(norm, nn.InstanceNorm2d) and not norm.affine
    assert not norm.track_running_stats


def test_discriminator_keys_and_patch_map_size():
    net = PatchDiscriminator(ndf=4)
    assert [k for k in net.state_dict() if k.endswith("weight")] == [
        f"model.{i}.weight" for i in (0, 2, 5, 8, 11)
    ]
    assert tuple(net.model[2].weight.shape) == (8, 4, 4, 4)
    assert net(torch.rand(1, 3, 256, 256)).shape == (1, 1, 30, 30)  # 30x30 patches at 256 px
    assert PatchDiscriminator(ndf=64).model[8].weight.shape == (512, 256, 4, 4)


def test_generator_keeps_any_size_and_range():
    config = CycleGANConfig(**TINY)
    method = CycleGAN(config, CONTEXT)
    for size in (32, 30, 37):
        out = method.stylize(torch.rand(2, 3, size, size)).images
        assert out.shape == (2, 3, size, size) and out.min() >= 0 and out.max() <= 1


def test_config_refuses_crops_too_small_for_the_discriminator_and_bad_decay():
    with pytest.raises(ValueError, match="too small for a 3-layer discriminator"):
        CycleGANConfig(image_size=20)
    CycleGANConfig(image_size=20, n_layers_d=2)
    with pytest.raises(ValueError, match="decay_steps"):
        CycleGANConfig(steps=10, decay_steps=11)
    assert CycleGANConfig(steps=10).decay == 5
    assert CycleGANConfig().steps == 1_257_400 and CycleGANConfig().decay == 628_700


# Losses, pool, schedule -------------------------------------------------------------------


class Shift(nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.value


class Constant(nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0], 1, 2, 2), self.value)


def test_lsgan_loss_by_hand():
    scores = torch.tensor([[0.5, 1.0], [0.0, 2.0]])
    assert lsgan_loss(scores, True).item() == pytest.approx((0.25 + 0 + 1 + 1) / 4)
    assert lsgan_loss(scores, False).item() == pytest.approx((0.25 + 1 + 0 + 4) / 4)


def test_generator_losses_by_hand():
    method = CycleGAN(CycleGANConfig(**TINY, lambda_style=4.0), CONTEXT)
    # G: photo -> style adds 0.5, F: style -> photo subtracts 0.25.
    method.generators = nn.ModuleDict(
        {"photo_to_style": Shift(0.5), "style_to_photo": Shift(-0.25)}
    )
    discriminators = nn.ModuleDict({"style": Constant(0.25), "photo": Constant(1.5)})
    photo, style = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.3)
    terms, fakes = method.generator_losses(photo, style, discriminators)
    expected = {
        "gan_photo_to_style": (0.25 - 1) ** 2,
        "gan_style_to_photo": (1.5 - 1) ** 2,
        "cycle_photo": 10 * 0.25,  # F(G(x)) = x + 0.25
        "cycle_style": 4 * 0.25,  # G(F(y)) = y + 0.25
        "identity_style": 4 * 0.5 * 0.5,  # |G(y) - y| = 0.5, lambda_style x lambda_identity
        "identity_photo": 10 * 0.5 * 0.25,  # |F(x) - x| = 0.25
    }
    assert {k: v.item() for k, v in terms.items() if k != "total"} == pytest.approx(expected)
    assert terms["total"].item() == pytest.approx(sum(expected.values()))
    assert torch.allclose(fakes["fake_style"], photo + 0.5)
    without = CycleGAN(CycleGANConfig(**TINY, lambda_identity=0), CONTEXT)
    without.generators = method.generators
    assert "identity_photo" not in without.generator_losses(photo, style, discriminators)[0]


def test_discriminator_loss_is_half_lsgan_and_does_not_reach_the_generator():
    real = torch.full((1, 1, 2, 2), 0.8)
    source = torch.full((1, 1, 2, 2), 0.2, requires_grad=True)
    loss = CycleGAN.discriminator_loss(nn.Identity(), real, source * 1.0)
    assert loss.item() == pytest.approx(0.5 * ((0.8 - 1) ** 2 + 0.2**2))
    assert not loss.requires_grad  # the fake is detached: no gradient reaches the generator


def test_image_pool_stores_until_full_then_swaps_about_half():
    generator = torch.Generator().manual_seed(0)
    assert torch.equal(ImagePool(0).query(torch.ones(2, 1), generator), torch.ones(2, 1))
    pool = ImagePool(2)
    first = torch.tensor([[1.0], [2.0]])
    assert torch.equal(pool.query(first, generator), first)
    assert [float(i) for i in pool.state()] == [1.0, 2.0]
    swapped = 0
    for value in range(3, 203):
        before = [float(i) for i in pool.state()]
        out = float(pool.query(torch.tensor([[float(value)]]), generator))
        after = [float(i) for i in pool.state()]
        if out == value:  # returned as it is: the pool is unchanged
            assert after == before
        else:  # swapped: an old image comes back and the new one takes its place
            swapped += 1
            assert out in before and value in after and out not in after
            assert sorted([*after, out]) == sorted([*before, value])
    assert 70 < swapped < 130  # probability 1/2 over 200 seeded draws
    restored = ImagePool(2)
    restored.restore(pool.state())
    assert torch.equal(restored.state(), pool.state())


def test_learning_rate_is_constant_then_decays_linearly():
    factors = [linear_decay(step, 10, 4) for step in range(10)]
    assert factors == pytest.approx([1, 1, 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2])
    assert [linear_decay(s, 4, 0) for s in range(4)] == [1, 1, 1, 1]
    _, curves = train(CycleGANConfig(**TINY, steps=6, decay_steps=3, lr=1e-3))
    assert curves["lr"] == pytest.approx([1e-3, 1e-3, 1e-3, 0.75e-3, 0.5e-3, 0.25e-3])


# Training ---------------------------------------------------------------------------------


def test_training_needs_photos_and_a_style_domain():
    method = CycleGAN(CycleGANConfig(**TINY, steps=1), CONTEXT)
    with pytest.raises(ValueError, match="training photos"):
        method.prepare(PrepareData(styles=torch.empty(0, 3, 32, 32), style_domain=data()))
    with pytest.raises(ValueError, match="style domain"):
        method.prepare(PrepareData(styles=torch.rand(2, 3, 32, 32), training=data()))


def test_training_records_every_term_and_lowers_the_generators_objective():
    method, curves = train(CycleGANConfig(**TINY, steps=30))
    assert set(curves) == {
        "gan_photo_to_style",
        "gan_style_to_photo",
        "cycle_photo",
        "cycle_style",
        "identity_style",
        "identity_photo",
        "total",
        "d_style",
        "d_photo",
        "lr",
    }
    assert all(len(values) == 30 for values in curves.values())
    total = curves["total"]
    assert sum(total[-5:]) < 0.95 * sum(total[:5])
    untrained = CycleGAN(CycleGANConfig(**TINY), CONTEXT)
    content = torch.rand(1, 3, 32, 32)
    assert not torch.equal(method.stylize(content).images, untrained.stylize(content).images)


class MemoryStore:
    """A `PartialStore` that keeps its state as bytes written by torch.save and reads them back
    weights-only, as the harness's file does; ``fail_at`` makes the n-th save interrupt."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.saved: bytes | None = None
        self.saves = 0
        self.fail_at = fail_at

    def load(self):
        if self.saved is None:
            return None
        return torch.load(io.BytesIO(self.saved), weights_only=True)

    def save(self, state) -> None:
        self.saves += 1
        if self.saves == self.fail_at:
            raise KeyboardInterrupt("interrupted")
        buffer = io.BytesIO()
        torch.save(state, buffer)
        self.saved = buffer.getvalue()


def test_an_interrupted_training_resumes_exactly_where_it_was():
    config = CycleGANConfig(**TINY, steps=7, decay_steps=3, save_every=2)
    whole, whole_curves = train(config, MemoryStore())
    store = MemoryStore(fail_at=2)
    with pytest.raises(KeyboardInterrupt):
        train(config, store)  # stops at step 4, after the partial state of step 2
    assert torch.load(io.BytesIO(store.saved), weights_only=True)["step"] == 2
    store.fail_at = None
    resumed, resumed_curves = train(config, store)
    assert resumed_curves == whole_curves
    for key, value in whole.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    fresh, _ = train(config.model_copy(update={"save_every": 0}))
    assert all(torch.equal(v, fresh.state_dict()[k]) for k, v in whole.state_dict().items())


# Checkpoints ------------------------------------------------------------------------------


def test_own_checkpoint_holds_both_generators_and_round_trips(tmp_path):
    trained, _ = train(CycleGANConfig(**TINY, steps=2))
    state = trained.state_dict()
    assert {k.split(".")[0] for k in state} == {"photo_to_style", "style_to_photo"}
    assert "photo_to_style.model.1.weight" in state and "style_to_photo.model.19.bias" in state
    torch.save(state, tmp_path / "ours.pth")
    content = torch.rand(1, 3, 32, 32)
    for direction in ("photo_to_style", "style_to_photo"):
        config = CycleGANConfig(**TINY, checkpoint=str(tmp_path / "ours.pth"), direction=direction)
        loaded = CycleGAN(config, CONTEXT)
        assert loaded.prepare(PrepareData(styles=torch.empty(0, 3, 32, 32))) == {}
        expected = trained.generators[direction](content * 2 - 1).add(1).div(2).clamp(0, 1)
        assert torch.allclose(loaded.stylize(content).images, expected, atol=1e-6)
    del state["style_to_photo.model.19.bias"]
    with pytest.raises(CheckpointMismatch, match=r"missing keys: style_to_photo\.model\.19\.bias"):
        CycleGAN(CycleGANConfig(**TINY), CONTEXT).load_state_dict(state)


@pytest.mark.parametrize("direction", ["photo_to_style", "style_to_photo"])
def test_reference_checkpoint_loads_strictly_into_the_chosen_direction(tmp_path, direction):
    state = reference_checkpoint(ngf=8, n_blocks=3)
    path = tmp_path / "latest_net_G.pth"
    torch.save(state, path)
    config = CycleGANConfig(ngf=8, n_blocks=3, checkpoint=str(path), direction=direction)
    method = CycleGAN(config, CONTEXT)
    method.prepare(PrepareData(styles=torch.empty(0, 3, 32, 32)))
    # The reference's own arithmetic: [-1, 1] in, tanh out, mapped back to [0, 1].
    reference = ResnetGenerator(8, 3)
    reference.load_state_dict(
        {k: v for k, v in state.items() if "running" not in k and "num_" not in k}
    )
    content = torch.rand(2, 3, 36, 36, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = (reference(content * 2 - 1) + 1) / 2
    assert torch.allclose(method.stylize(content, None).images, expected, atol=1e-6)
    # What the driver ships to workers: the one generator, in the reference's keys.
    shipped = method.state_dict()
    assert set(shipped) == set(reference_generator_layout(8, 3))
    worker = CycleGAN(CycleGANConfig(ngf=8, n_blocks=3, direction=direction), CONTEXT)
    worker.load_state_dict(shipped)
    assert torch.equal(worker.stylize(content).images, method.stylize(content).images)


def test_a_wrong_reference_file_lists_missing_unexpected_and_mis_shaped_keys(tmp_path):
    state = reference_checkpoint(legacy=False, ngf=8, n_blocks=3)
    del state["model.11.conv_block.5.weight"]
    state["model.11.conv_block.6.weight"] = torch.zeros(32, 32, 3, 3)
    state["model.20.weight"] = torch.zeros(3, 8, 3, 3)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    method = CycleGAN(CycleGANConfig(ngf=8, n_blocks=3, checkpoint=str(path)), CONTEXT)
    with pytest.raises(CheckpointMismatch) as error:
        method.prepare(PrepareData(styles=torch.empty(0, 3, 32, 32)))
    message = str(error.value)
    assert str(path) in message
    assert "missing keys: model.11.conv_block.5.weight" in message
    assert "unexpected keys: model.11.conv_block.6.weight" in message
    assert "model.20.weight (file (3, 8, 3, 3), network (3, 8, 7, 7))" in message
    wide = reference_checkpoint(legacy=False)  # the published layout: ngf 64, 9 blocks
    narrow = CycleGAN(CycleGANConfig(ngf=8, n_blocks=9), CONTEXT)
    with pytest.raises(CheckpointMismatch, match=re.escape("model.1.weight (file (64, 3, 7, 7)")):
        narrow.load_state_dict(wide, "style_monet.pth")
    CycleGAN(CycleGANConfig(), CONTEXT).load_state_dict(wide, "style_monet.pth")

"""Arbitrary style (Ghiasi et al.): Inception-v3 style prediction, 100-d bottleneck, unseen styles."""

import pytest
import torch
from torchvision import models

from stylebench.methods.base import PrepareData, StyleBlend, TensorImages
from stylebench.methods.core.inception_trunk import load_inception
from stylebench.methods.core.weights import PRETRAINED_URLS, WeightsSource, state_dict_sha256
from stylebench.methods.ghiasi import Ghiasi, GhiasiConfig
from tests.methods.stubs import IdentityEncoder, context_with

SMALL = {"steps": 10, "batch_size": 2, "image_size": 32, "style_size": 80, "lr": 1e-3}
STYLES = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
CONTENT = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))


@pytest.fixture(scope="module")
def trained(context):
    method = Ghiasi(GhiasiConfig(**SMALL), context)
    data = TensorImages(torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    curves = method.prepare(PrepareData(styles=STYLES, training=data))
    return method, curves


def test_inception_trunk_stops_at_mixed_6e_with_torchvision_names(tmp_path):
    trunk = load_inception(WeightsSource.parse("random", seed=3))
    names = {key.split(".")[0] for key in trunk.state_dict()}
    assert "Mixed_6e" in names and "Mixed_7a" not in names and "fc" not in names
    assert trunk(torch.rand(1, 3, 80, 80)).shape == (1, 768, 3, 3)
    assert trunk.identity.is_random
    assert load_inception(WeightsSource.parse("random", seed=3)).identity == trunk.identity
    with pytest.raises(ValueError, match="at least 75 px"):
        trunk(torch.rand(1, 3, 64, 64))
    # A local torchvision checkpoint is used as it is; the identity names the trunk's part.
    full = models.inception_v3(weights=None, aux_logits=True, init_weights=False)
    torch.save(full.state_dict(), tmp_path / "inception.pth")
    local = load_inception(WeightsSource.parse(str(tmp_path / "inception.pth")))
    part = {k: v for k, v in full.state_dict().items() if k.split(".")[0] in names}
    assert local.identity.sha256 == state_dict_sha256(part) and not local.identity.is_random
    assert PRETRAINED_URLS["inception_v3"].endswith("inception_v3_google-0cc3c7bd.pth")


def test_style_prediction_gives_2758_numbers_through_a_100d_bottleneck(trained):
    method, curves = trained
    predictor = method.model.predictor
    with torch.no_grad():
        assert predictor.embedding(torch.rand(2, 3, 80, 80)).shape == (2, 100, 1, 1)
        params = predictor(torch.rand(2, 3, 80, 80))
    assert len(params) == 13
    assert sum(g.shape[1] + b.shape[1] for g, b in params) == 2 * (10 * 128 + 64 + 32 + 3)
    assert sum(curves["total"][-3:]) < sum(curves["total"][:3])


def test_unseen_styles_stylize_and_the_style_matters(trained):
    method, _ = trained
    unseen = torch.rand(2, 3, 50, 50, generator=torch.Generator().manual_seed(9))
    out = method.stylize(CONTENT, unseen).images
    assert out.shape == CONTENT.shape and out.min() >= 0 and out.max() <= 1
    other = method.stylize(CONTENT, unseen.flip(0)).images
    assert not torch.allclose(out, other)


def test_checkpoint_round_trip(trained, context, tmp_path):
    method, _ = trained
    torch.save(method.state_dict(), tmp_path / "ghiasi.pth")
    loaded = Ghiasi(GhiasiConfig(**{**SMALL, "checkpoint": str(tmp_path / "ghiasi.pth")}), context)
    loaded.prepare(PrepareData(styles=STYLES))
    assert torch.equal(
        loaded.stylize(CONTENT, STYLES).images, method.stylize(CONTENT, STYLES).images
    )


def test_total_variation_matches_magentas_definition(context):
    encoders = {"vgg16": IdentityEncoder(), "inception_v3": context.encoder("inception_v3")}
    method = Ghiasi(GhiasiConfig(), context_with(encoders))
    images = torch.rand(2, 3, 5, 7, generator=torch.Generator().manual_seed(4))
    tv = method.loss(images, method.loss.targets(None, None))["tv"]
    # magenta: (l2_loss(dy) / y_size + l2_loss(dx) / x_size) / batch * 1e4, l2_loss = sum / 2.
    dy = images[:, :, 1:, :] - images[:, :, :-1, :]
    dx = images[:, :, :, 1:] - images[:, :, :, :-1]
    magenta = ((dy.pow(2).sum() / 2) / dy[0].numel() + (dx.pow(2).sum() / 2) / dx[0].numel()) / 2
    assert tv.mean().item() == pytest.approx(1e4 * magenta.item(), rel=1e-5)


def test_a_blend_stylizes_with_the_weighted_sum_of_the_predicted_codes(trained):
    method, _ = trained
    parts = tuple(
        torch.rand(2, 3, 50, 50, generator=torch.Generator().manual_seed(s)) for s in (3, 4)
    )
    out = method.stylize_blend(CONTENT, StyleBlend(parts, (0.7, 0.3))).images
    with torch.no_grad():
        codes = [method.model.predictor(method._style_input(part)) for part in parts]
        mixed = [
            (0.7 * a[0] + 0.3 * b[0], 0.7 * a[1] + 0.3 * b[1]) for a, b in zip(*codes, strict=True)
        ]
        expected = method.model.net(CONTENT, mixed).clamp(0, 1)
    assert (out - expected).abs().max() < 1e-5
    alone = method.stylize(CONTENT, parts[0]).images
    assert not torch.allclose(out, alone)

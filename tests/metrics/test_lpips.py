"""LPIPS: our metric equals the `lpips` package built the package's own way, on the same weights."""

from __future__ import annotations

import lpips
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import models, transforms

from stylebench.methods.core import weights as weights_module
from stylebench.methods.core.encoders import load_vgg
from stylebench.methods.core.weights import WeightsSource, WeightsUnavailable, hub_cache_dir
from stylebench.metrics.base import MetricContext
from stylebench.metrics.perceptual_distance import LPIPS, LPIPSVGG, LPIPSGray, pil_luma


def images(seed: int, n: int = 3, size: int = 48) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def package_lpips(net: str, features: dict, monkeypatch) -> lpips.LPIPS:
    """The package's LPIPS as it builds itself with pretrained trunk weights, except that
    torchvision hands it ``features`` instead of downloading ImageNet weights."""
    arch = {"alex": "alexnet", "vgg": "vgg16"}[net]
    original = getattr(models, arch)

    def with_our_weights(*args, **kwargs):
        model = original(weights=None)
        model.features.load_state_dict(features)
        return model

    monkeypatch.setattr(models, arch, with_our_weights)
    return lpips.LPIPS(net=net, version="0.1", verbose=False).eval()


@pytest.fixture(scope="module")
def built(metric_context):
    """Each LPIPS metric built once (the VGG trunk takes seconds to initialise)."""
    return {cls.info.name: cls(metric_context) for cls in (LPIPS, LPIPSVGG)}


@pytest.mark.parametrize("metric_cls", [LPIPS, LPIPSVGG])
def test_equals_the_lpips_package_on_the_same_weights(metric_cls, built, monkeypatch):
    ours = built[metric_cls.info.name]
    features = {
        k.split(".", 1)[1]: v
        for k, v in ours.model.net.state_dict().items()  # the trunk we loaded, by features index
    }
    reference = package_lpips(metric_cls.net, features, monkeypatch)
    content, output = images(1), images(2)
    expected_pm1 = reference(output * 2 - 1, content * 2 - 1).flatten()
    expected_01 = reference(output, content, normalize=True).flatten()
    got = ours(output, content, images(3))
    assert got.shape == (3,)
    torch.testing.assert_close(got, expected_pm1, rtol=1e-5, atol=0)
    torch.testing.assert_close(got, expected_01, rtol=1e-5, atol=0)
    # A wrong input range would give a different number: the mapping matters and is right.
    assert not torch.allclose(reference(output, content).flatten(), got, rtol=1e-3)


def test_trunk_weights_are_the_resolved_ones_not_the_packages(metric_context, built):
    encoder = metric_context.encoder("vgg16")
    torch.testing.assert_close(
        built["lpips_vgg"].model.net.slice1[0].weight, encoder.layers[0].weight, rtol=0, atol=0
    )
    alex = built["lpips"]
    seeded = LPIPS(metric_context)
    other_seed = LPIPS(
        MetricContext(
            device=metric_context.device,
            weights=WeightsSource.parse("random", seed=1),
            encoder=metric_context.encoder,
            cache=metric_context.cache,
        )
    )
    assert alex.identities[0].sha256 == seeded.identities[0].sha256
    assert alex.identities[0].sha256 != other_seed.identities[0].sha256
    assert alex.identities[0].is_random and alex.identities[0].network == "lpips-alex-v0.1"


def test_identical_images_score_zero_and_direction_is_declared(built):
    x = images(4)
    assert torch.equal(built["lpips"](x, x, x), torch.zeros(3))
    assert LPIPS.info.higher_is_better is False and LPIPS.info.needs == ("content",)
    assert LPIPSVGG.info.name == "lpips_vgg"


def test_pretrained_alexnet_comes_from_the_hub_cache_without_network(
    metric_context, tmp_path, monkeypatch
):
    """With ``pretrained``, the backbone is the file in torch's hub cache: nothing downloads."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    pretrained = WeightsSource.parse("pretrained")
    with pytest.raises(WeightsUnavailable, match="--weights random"):
        monkeypatch.setitem(
            weights_module.PRETRAINED_URLS, "alexnet", "http://127.0.0.1:9/alexnet-owt-7be5be79.pth"
        )
        LPIPS.preflight(pretrained)  # the driver stops before any compute, with what to do

    with torch.random.fork_rng():
        torch.manual_seed(5)
        cached = models.alexnet(weights=None).features.state_dict()
    hub_cache_dir().mkdir(parents=True, exist_ok=True)
    torch.save(cached, hub_cache_dir() / "alexnet-owt-7be5be79.pth")

    def no_network(*args, **kwargs):
        raise AssertionError("LPIPS tried to download weights")

    monkeypatch.setattr(torch.hub, "urlopen", no_network)
    LPIPS.preflight(pretrained)
    context = MetricContext(
        device=metric_context.device,
        weights=pretrained,
        encoder=lambda arch: load_vgg(arch, WeightsSource.parse("random")),
        cache=metric_context.cache,
    )
    metric = LPIPS(context)
    torch.testing.assert_close(
        metric.model.net.slice1[0].weight, cached["0.weight"], rtol=0, atol=0
    )
    assert metric.identities[0].source.startswith("pretrained:alexnet-owt-7be5be79.pth")
    assert not metric.identities[0].is_random


def test_scores_do_not_depend_on_the_batch(built):
    content, output = images(5), images(6)
    batched = built["lpips"](output, content, content)
    single = torch.cat(
        [built["lpips"](output[i : i + 1], content[i : i + 1], content) for i in range(3)]
    )
    torch.testing.assert_close(batched, single, rtol=1e-5, atol=1e-7)


def test_pil_luma_is_pillows_greyscale_exactly():
    pixels = torch.randint(0, 256, (2, 3, 17, 23), generator=torch.Generator().manual_seed(4))
    ours = pil_luma(pixels.float() / 255)
    for i in range(2):
        array = pixels[i].permute(1, 2, 0).numpy().astype(np.uint8)
        grey = np.asarray(Image.fromarray(array).convert("L"), dtype=np.float32) / 255
        assert np.array_equal(ours[i, 0].numpy(), grey)


def test_lpips_gray_equals_styleid_s_on_the_package(metric_context, monkeypatch):
    """StyleID's LPIPS_gray: torchvision's Grayscale() of the PNG files (one channel, which the
    package's input scaling spreads over three), then the package's LPIPS (AlexNet)."""
    ours = LPIPSGray(metric_context)
    features = {k.split(".", 1)[1]: v for k, v in ours.model.net.state_dict().items()}
    reference = package_lpips("alex", features, monkeypatch)
    content, output = images(5), images(6)
    as_png = [
        [Image.fromarray((x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)) for x in t]
        for t in (output, content)
    ]
    to_grey = transforms.Compose([transforms.Grayscale(), transforms.ToTensor()])
    grey_out, grey_content = (torch.stack([to_grey(im) for im in t]) for t in as_png)
    assert grey_out.shape[1] == 1
    expected = reference(grey_out * 2 - 1, grey_content * 2 - 1).flatten()
    torch.testing.assert_close(ours(output, content, None), expected, rtol=1e-5, atol=0)
    assert not torch.allclose(
        ours(output, content, None), LPIPS(metric_context)(output, content, None)
    )

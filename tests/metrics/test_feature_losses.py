"""Evaluation content/style loss: zero on identical inputs, fixed spec, per-image values."""

import pytest
import torch

from stylebench.metrics.base import StyleDomain
from stylebench.metrics.feature_losses import (
    EVALUATION_SPEC,
    ContentLoss,
    StyleLoss,
    evaluation_description,
)


def test_identical_inputs_score_zero(metric_context):
    content = torch.rand(2, 3, 32, 32)
    style = torch.rand(2, 3, 32, 32)
    assert torch.equal(ContentLoss(metric_context)(content, content, style), torch.zeros(2))
    assert torch.equal(StyleLoss(metric_context)(style, content, style), torch.zeros(2))


def test_scores_are_per_image_and_positive_when_different(metric_context):
    a, b = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    both = StyleLoss(metric_context)(a, a, b)
    first = StyleLoss(metric_context)(a[:1], a[:1], b[:1])
    assert both.shape == (2,) and (both > 0).all()
    assert torch.allclose(both[:1], first, rtol=1e-5)


def test_the_spec_is_fixed_and_described():
    description = evaluation_description()
    assert description["content"]["layers"] == list(EVALUATION_SPEC.content_layers) == ["relu4_2"]
    assert description["network"] == "vgg19"
    assert ContentLoss.info.higher_is_better is False and StyleLoss.info.needs == ("style",)


def test_content_and_style_loss_equal_a_plain_torchvision_computation(tmp_path):
    """Independent reference: torchvision's VGG-19 run by index, Grams and MSEs in float64."""
    import torchvision

    from stylebench.methods.core.encoders import load_encoder
    from stylebench.methods.core.weights import WeightsSource
    from stylebench.metrics.base import MetricContext
    from stylebench.paths import cache_dir

    torch.manual_seed(3)
    vgg = torchvision.models.vgg19().eval()
    torch.save(vgg.state_dict(), tmp_path / "vgg19.pth")
    source = WeightsSource.parse(str(tmp_path / "vgg19.pth"), seed=0)
    encoder = load_encoder("vgg19", source)
    ours = MetricContext(torch.device("cpu"), source, lambda arch: encoder, cache_dir())
    out, content, style = torch.rand(3, 2, 3, 48, 48)

    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def features(image: torch.Tensor) -> dict[int, torch.Tensor]:
        found, x = {}, (image - mean) / std
        with torch.no_grad():
            for index, layer in enumerate(vgg.features[:30]):
                x = layer(x)
                found[index] = x.double()
        return found

    def gram(f: torch.Tensor) -> torch.Tensor:
        b, c, h, w = f.shape
        flat = f.reshape(b, c, h * w)
        return flat @ flat.transpose(1, 2) / (c * h * w)

    fo, fc, fs = features(out), features(content), features(style)
    content_ref = ((fo[22] - fc[22]) ** 2).mean(dim=(1, 2, 3))  # relu4_2
    style_ref = sum(
        ((gram(fo[i]) - gram(fs[i])) ** 2).mean(dim=(1, 2))
        for i in (1, 6, 11, 20, 29)  # relu1_1, relu2_1, relu3_1, relu4_1, relu5_1
    )
    assert torch.allclose(ContentLoss(ours)(out, content, style).double(), content_ref, rtol=1e-4)
    assert torch.allclose(StyleLoss(ours)(out, content, style).double(), style_ref, rtol=1e-4)


def test_domain_style_loss_compares_with_the_mean_gram_of_the_style_set(metric_context):
    """Checked against Gram matrices and their set mean computed here, in float64."""
    metric = StyleLoss(metric_context)
    outputs = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    styles = torch.rand(11, 3, 32, 32, generator=torch.Generator().manual_seed(2))  # > a batch
    layers = list(EVALUATION_SPEC.style_layers)
    encoder = metric_context.encoder("vgg19")

    def grams(images):
        with torch.no_grad():
            features = encoder(images, layers)
        result = {}
        for layer, f in features.items():
            b, c, h, w = f.shape
            flat = f.double().reshape(b, c, h * w)
            result[layer] = flat @ flat.transpose(1, 2) / (c * h * w)
        return result

    set_mean = {layer: gram.mean(0) for layer, gram in grams(styles).items()}
    expected = sum(
        ((g - set_mean[layer]) ** 2).mean(dim=(1, 2)) for layer, g in grams(outputs).items()
    )
    got = metric.score_domain(outputs, outputs, StyleDomain("eleven", styles))
    assert got.shape == (2,)
    assert torch.allclose(got.double(), expected, rtol=1e-4, atol=0)  # values are ~1e-9
    one = metric.score_domain(outputs, outputs, StyleDomain("one", styles[:1]))
    assert torch.allclose(
        one, metric(outputs, outputs, styles[:1].expand(2, -1, -1, -1)), rtol=1e-5, atol=0
    )
    assert not torch.allclose(one, got, rtol=1e-2, atol=0)
    with pytest.raises(ValueError, match="needs a style image"):
        metric(outputs, outputs, None)


def test_metrics_without_a_style_score_domain_outputs_as_usual(metric_context):
    content, outputs = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    domain = StyleDomain("d", torch.rand(2, 3, 32, 32))
    metric = ContentLoss(metric_context)
    assert torch.equal(
        metric.score_domain(outputs, content, domain), metric(outputs, content, None)
    )


def test_a_blends_style_loss_is_against_the_weighted_gram_matrices(metric_context):
    """style_loss of a blend cell: MSE to 0.7 G(a) + 0.3 G(b), summed over the layers; the
    histogram loss: Hellinger distance to the weighted mixture of the parts' histograms."""
    from stylebench.methods.base import StyleBlend
    from stylebench.methods.core.perceptual_loss import Targets
    from stylebench.metrics.color_histogram import HistogramLoss, hellinger, rgb_uv_histogram

    out, a, b = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    metric = StyleLoss(metric_context)
    blend = StyleBlend((a, b), (0.7, 0.3))
    ga, gb = metric.loss.style_targets(a), metric.loss.style_targets(b)
    by_hand = Targets(content={}, style={k: 0.7 * ga[k] + 0.3 * gb[k] for k in ga})
    expected = metric.loss(out, by_hand)["style"]
    assert torch.allclose(metric.score_blend(out, out, blend), expected, rtol=1e-5, atol=0)
    assert not torch.allclose(expected, metric(out, out, a), rtol=1e-3, atol=0)
    histogram = HistogramLoss(metric_context)
    mixed = 0.7 * rgb_uv_histogram(a) + 0.3 * rgb_uv_histogram(b)
    wanted = hellinger(rgb_uv_histogram(torch.round(out * 255) / 255), mixed)
    assert torch.allclose(histogram.score_blend(out, out, blend), wanted)
    # A style metric without a weighted target of its own: the weighted average over the parts.
    from stylebench.metrics.base import ImageMetric

    assert torch.allclose(
        ImageMetric.score_blend(histogram, out, out, blend),
        0.7 * histogram(out, out, a) + 0.3 * histogram(out, out, b),
    )

"""Evaluation content/style loss: zero on identical inputs, fixed spec, per-image values."""

import torch

from metrics.perceptual import EVALUATION_SPEC, ContentLoss, StyleLoss, evaluation_description


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

"""Semantic style transfer: presets, automatic maps, real doodle pairs, coarse-to-fine phases."""

import pytest
import torch

from stylebench.images import load_image
from stylebench.methods.base import Guides, resolve_config
from stylebench.methods.core.segment import complete_maps, joint_maps, map_in_palette, map_palette
from stylebench.methods.semantic import Semantic


def test_presets_follow_paper_and_code():
    paper = resolve_config(Semantic, {})
    assert paper.matching == "concat" and paper.style_layers == ["relu3_1", "relu4_1"]
    assert (paper.content_weight, paper.style_weight, paper.semantic_weight) == (10, 25, 10)
    assert (paper.phases, paper.steps, paper.patch_size, paper.pooling) == (3, 100, 3, "avg")
    assert resolve_config(Semantic, {"preset": "reference"}).matching == "split"
    with pytest.raises(ValueError, match="relu3_1"):
        resolve_config(Semantic, {"style_layers": ["pool3"]})


def two_region_image(left, right, size=8):
    image = torch.empty(3, size, size)
    image[:, :, : size // 2] = torch.tensor(left).view(3, 1, 1)
    image[:, :, size // 2 :] = torch.tensor(right).view(3, 1, 1)
    return image


def test_a_missing_map_is_made_in_the_palette_of_the_provided_one():
    # Style: dark left half is "red" in its map, bright right half is "blue".
    style = two_region_image([0.1, 0.1, 0.1], [0.9, 0.9, 0.9])
    style_map = two_region_image([1.0, 0.0, 0.0], [0.0, 0.0, 1.0])
    assert sorted(map_palette(style_map).tolist()) == [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    # Content: bright left, dark right -> blue left, red right.
    content = two_region_image([0.8, 0.8, 0.7], [0.2, 0.1, 0.1])
    made = map_in_palette(content, style, style_map)
    torch.testing.assert_close(made, two_region_image([0.0, 0.0, 1.0], [1.0, 0.0, 0.0]))
    _, kept, note = complete_maps(content, style, None, style_map, 4, seed=0)
    assert torch.equal(kept, style_map) and "style map provided" in note
    with pytest.raises(ValueError, match="flat colours"):
        map_palette(torch.rand(3, 16, 16))


def test_joint_maps_give_the_same_class_to_the_same_colour_in_both_images():
    content = two_region_image([0.9, 0.1, 0.1], [0.1, 0.1, 0.9])
    style = two_region_image([0.1, 0.1, 0.9], [0.1, 0.8, 0.1])
    a, b = joint_maps(content, style, classes=3, seed=5)
    assert a.shape == (3, 8, 8) and b.shape == (3, 8, 8)
    assert torch.equal(a.sum(0), torch.ones(8, 8))  # one-hot
    # content's right half and style's left half share the blue colour, so the same class
    assert torch.equal(a[:, 0, -1], b[:, 0, 0])
    assert not torch.equal(a[:, 0, 0], a[:, 0, -1]) and not torch.equal(b[:, 0, 0], b[:, 0, -1])
    again, _ = joint_maps(content, style, classes=3, seed=5)
    assert torch.equal(a, again)
    _, _, note = complete_maps(content, style, None, None, 3, seed=5)
    assert note.startswith("automatic content and style maps")


@pytest.fixture(scope="module")
def seth_and_gogh(shared_images):
    """The doodle portrait pair of neural-doodle's README, at 48 px (two phases reach 24 px)."""

    def load(path):
        return load_image(shared_images / path, 48)[None]

    return (
        load("semantic/Seth.jpg"),
        load("style/vangogh_self_portrait_doodle_sample.jpg"),
        Guides(content=load("semantic/Seth_sem.png"), style=load("semantic/Gogh_sem.png")),
    )


@pytest.mark.parametrize("preset", ["paper", "reference"])
def test_real_portrait_pair_with_provided_maps(context, seth_and_gogh, preset):
    content, style, guides = seth_and_gogh
    config = resolve_config(Semantic, {"preset": preset, "steps": 6, "phases": 2})
    method = Semantic(config, context)
    guided = method.stylize(content, style, guides=guides, seeds=[1])
    assert guided.images.shape == content.shape
    assert guided.notes == {"guides": ["content and style maps provided"]}
    total = guided.curves["total"][0]
    assert len(total) == 12  # 2 phases x 6 evaluations
    assert total[5] < total[0] and total[-1] < total[6]
    automatic = method.stylize(content, style, seeds=[1])
    assert automatic.notes["guides"][0].startswith("automatic content and style maps")
    assert not torch.equal(guided.images, automatic.images)


def test_too_many_phases_for_the_image_size_is_a_clear_error(context):
    method = Semantic(resolve_config(Semantic, {"steps": 2, "phases": 3}), context)
    images = torch.rand(1, 3, 64, 64)
    with pytest.raises(ValueError, match="coarsest image 16x16 px, smaller than the 24 px"):
        method.stylize(images, images, seeds=[0])

"""Suites: built-in, YAML and folder suites, overrides, and errors that name the key."""

import shutil

import pytest
import yaml

from stylebench.errors import BenchError
from stylebench.plan import PlanError, cell_seed, make_plan, method_class
from stylebench.registry import METHODS, UnknownName
from stylebench.suites import procedural
from stylebench.suites.load import load_suite
from stylebench.training_jobs import missing_training_sources
from tests.conftest import write_tiny_suite


def test_smoke_is_procedural_deterministic_and_random_weights(tmp_path):
    suite = load_suite("smoke")
    assert suite.spec.weights == "random" and suite.source == "builtin:smoke"
    again = procedural.generate("scenes", 2, tmp_path)
    assert [p.read_bytes() for p in again] == [r.path.read_bytes() for r in suite.content]
    assert suite.content[0].sha256 != suite.content[1].sha256
    # Both ways for cyclegan: its paintings -> photo entry on paintings 3-4, never trained on.
    plan = make_plan(suite, ["cyclegan"])
    assert list(plan.methods) == ["cyclegan", "cyclegan_reverse"]
    back = [c.content for c in plan.cells if c.method == "cyclegan_reverse"]
    assert back == ["rc-painting_03", "rc-painting_04"]
    with pytest.raises(PlanError, match="cyclegan_reverse is planned from cyclegan"):
        make_plan(suite, ["cyclegan_reverse"])
    with pytest.raises(PlanError, match=r"methods.cyclegan.direction: the suite's reverse set"):
        make_plan(load_suite("smoke", ["cyclegan.direction=style_to_photo"]), ["cyclegan"])


def test_folder_suite_uses_content_and_style_and_every_method_it_can_run(shared_images):
    suite = load_suite(str(shared_images), ["image_size=32", "semantic.phases=1"])
    assert len(suite.content) == 11 and len(suite.style) == 11
    assert suite.spec.image_size == 32
    plan = make_plan(suite)
    untrained = [m for m in METHODS.names() if not METHODS.get(m).needs.training]
    assert list(plan.methods) == untrained  # nothing to train the trained methods on
    assert len(plan.cells) == 11 * 11 * len(untrained)
    assert missing_training_sources(plan) == []


def test_folder_suite_with_training_photos_runs_every_method(shared_images, tmp_path):
    for sub, names in (("content", ["amber.jpg"]), ("style", ["mondrian_cropped.jpg"])):
        (tmp_path / sub).mkdir()
        for name in names:
            shutil.copy(shared_images / sub / name, tmp_path / sub / name)
    (tmp_path / "training").mkdir()
    for name in ("chicago.jpg", "flowers.jpg"):
        shutil.copy(shared_images / "content" / name, tmp_path / "training" / name)
    suite = load_suite(str(tmp_path), ["image_size=32", "semantic.phases=1"])
    assert [ref.path.name for ref in suite.training_content] == ["chicago.jpg", "flowers.jpg"]
    plan = make_plan(suite)
    domain = [m for m in plan.methods if METHODS.get(m).needs.style == "domain"]
    assert list(plan.methods) == METHODS.names() and "cyclegan" in domain
    assert len(plan.cells) == len(plan.methods)  # 1 x 1, domain methods once per content
    assert missing_training_sources(plan) == []


def test_overrides_reach_method_settings_and_change_the_config_hash(tmp_path):
    path = write_tiny_suite(tmp_path)
    base = make_plan(load_suite(str(path)))
    changed = make_plan(load_suite(str(path), ["gatys.steps=5", "seed=3"]))
    assert changed.methods["gatys"].steps == 5 and changed.suite.spec.seed == 3
    assert base.config_hash != changed.config_hash
    assert base.config_hash == make_plan(load_suite(str(path))).config_hash


def test_keys_are_unique_and_file_name_safe(tmp_path):
    for folder in ("content", "style"):
        (tmp_path / folder).mkdir()
    shutil.copy(
        procedural.generate("scenes", 1, tmp_path / "gen")[0], tmp_path / "content" / "a b.png"
    )
    shutil.copy(
        procedural.generate("scenes", 1, tmp_path / "gen")[0], tmp_path / "content" / "a b.jpg"
    )
    shutil.copy(
        procedural.generate("paintings", 1, tmp_path / "gen")[0], tmp_path / "style" / "<x>.png"
    )
    suite = load_suite(str(tmp_path))
    assert [r.key for r in suite.content] == ["c-a_b", "c-a_b-2"]
    assert suite.style[0].key == "s-x" and suite.style[0].name == "<x>.png"


def test_cell_seeds_do_not_depend_on_order():
    assert cell_seed(0, "gatys/a/b") == cell_seed(0, "gatys/a/b") != cell_seed(1, "gatys/a/b")


@pytest.mark.parametrize(
    "change,message",
    [
        ({"imagesize": 3}, "imagesize: Extra inputs are not permitted"),
        ({"image_size": 2}, "image_size: Input should be greater than or equal to 16"),
        ({"content": {"folder": "x", "files": ["y"]}}, "exactly one of"),
        ({"content": {"folder": "nowhere"}}, "content.folder: .*nowhere is not a folder"),
        ({"style": {"files": ["missing.png"]}}, "style.files: .*missing.png does not exist"),
    ],
)
def test_invalid_suites_name_the_key(tmp_path, change, message):
    path = write_tiny_suite(tmp_path)
    spec = yaml.safe_load(path.read_text())
    spec.update(change)
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(BenchError, match=message):
        load_suite(str(path))


def test_unknown_names_suggest_the_closest():
    with pytest.raises(UnknownName, match="did you mean 'smoke'"):
        load_suite("smok")
    with pytest.raises(UnknownName, match="unknown method 'gatis': did you mean 'gatys'"):
        make_plan(load_suite("smoke"), ["gatis"])


def test_bad_method_settings_name_the_key(tmp_path):
    path = write_tiny_suite(tmp_path, methods={"gatys": {"steps": -1}})
    with pytest.raises(BenchError, match=r"methods\.gatys\.steps"):
        make_plan(load_suite(str(path)))
    path = write_tiny_suite(tmp_path, metrics=["content_los"])
    with pytest.raises(UnknownName, match="did you mean 'content_loss'"):
        make_plan(load_suite(str(path)))


def test_bad_overrides(tmp_path):
    with pytest.raises(BenchError, match="expected key=value"):
        load_suite("smoke", ["image_size"])


def test_reference_and_training_splits_resolve_and_enter_the_file_hash(tmp_path):
    plain = write_tiny_suite(tmp_path / "a")
    split = write_tiny_suite(
        tmp_path / "b",
        reference={"generate": "paintings", "count": 3, "first": 10},
        training={"content": {"generate": "scenes", "count": 4, "first": 100}},
    )
    a, b = load_suite(str(plain)), load_suite(str(split))
    assert a.reference_set == a.style and a.training_content == ()
    assert len(b.reference_set) == 3 and b.reference_set[0].name == "painting_10.png"
    assert [r.key for r in b.training_content][:2] == ["tc-scene_100", "tc-scene_101"]
    assert not {r.sha256 for r in b.training_content} & {r.sha256 for r in b.content}
    assert a.file_list_hash != b.file_list_hash


def _user_suite(folder, **sets):
    """A YAML suite in ``folder`` with two procedural images copied beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    for kind in ("scenes", "paintings"):
        shutil.copy(procedural.generate(kind, 1, folder / "gen")[0], folder / f"{kind}.png")
    spec = {
        "name": "mine",
        "version": 1,
        "image_size": 32,
        "weights": "random",
        "content": {"files": ["scenes.png"]},
        "style": {"files": ["paintings.png"]},
        "methods": {"gatys": {"steps": 2}},
        **sets,
    }
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_user_suite_paths_resolve_against_the_yaml_and_may_not_climb_out(tmp_path):
    outside = procedural.generate("paintings", 1, tmp_path / "elsewhere")[0]
    path = _user_suite(
        tmp_path / "suite",
        style={"files": ["paintings.png", "gen/../scenes.png", str(outside)]},
        reference={"folder": "gen/paintings-v1"},
        training={"content": {"folder": "gen/scenes-v1"}, "style": {"files": ["paintings.png"]}},
    )
    suite = load_suite(str(path))
    assert [r.path for r in suite.style] == [
        tmp_path / "suite" / "paintings.png",
        tmp_path / "suite" / "scenes.png",
        outside,
    ]
    assert suite.reference_set[0].name == "painting_00.png"
    assert len(suite.training_content) == 1 and len(suite.training_style) == 1
    for escape in (
        {"style": {"files": ["../elsewhere/paintings-v1/painting_00.png"]}},
        {"style": {"files": ["gen/../../x.png"]}},
        {"reference": {"folder": ".."}},
        {"training": {"content": {"folder": "../elsewhere"}}},
    ):
        escaping = _user_suite(tmp_path / "suite", **escape)
        with pytest.raises(BenchError, match="climbs out of the suite's folder") as caught:
            load_suite(str(escaping))
        assert str(escaping) in str(caught.value)


@pytest.mark.parametrize(
    "sets,message",
    [
        ({"content": {"files": ["scenes.png"], "recursive": True}}, "content.recursive: Extra"),
        ({"training": {"contents": {"folder": "gen"}}}, "training.contents: Extra inputs"),
        ({"reference": {"folder": "nowhere"}}, r"reference.folder: .*nowhere is not a folder"),
        ({"style": {"files": ["paintings.png", "./paintings.png"]}}, "lists a file twice"),
        ({"style": {"files": []}}, "style.files: is empty"),
        ({"content": {"files": ["a.png"], "every": 2}}, "'every' goes with 'dataset'"),
        ({"content": {"folder": "gen", "first": 1}}, "'count' and 'first' go with"),
        ({"content": {"folder": "gen", "split": "testA"}}, "'split' goes with 'dataset'"),
    ],
)
def test_user_suite_errors_name_the_file_and_the_key(tmp_path, sets, message):
    path = _user_suite(tmp_path, **sets)
    with pytest.raises(BenchError, match=message) as caught:
        load_suite(str(path))
    assert str(path) in str(caught.value)


def test_cells_start_longest_first():
    plan = make_plan(load_suite("smoke", ["gatys.steps=5", "semantic.steps=50"]))
    ordered = plan.longest_first(list(plan.cells))
    first = list(dict.fromkeys(c.method for c in ordered))
    # semantic 50 steps x 1 phase, improved_gatys 10 x 2, gatys 5; feed-forward methods last.
    assert first[:3] == ["semantic", "improved_gatys", "gatys"]
    assert sorted(ordered, key=lambda c: c.id) == sorted(plan.cells, key=lambda c: c.id)
    trained = [m for m in first if not method_class(m).iterative]
    assert first[3:] == trained == [m for m in plan.methods if m in trained]


def test_a_preset_override_replaces_the_suite_s_budget_for_that_method(tmp_path):
    """A suite's listed budget belongs to the preset it was written for: asking for the smoke
    preset used to keep the suite's 40,000 steps (and warned of a paper budget)."""
    path = write_tiny_suite(tmp_path, {"johnson": {"steps": 40000, "batch_size": 4}})
    plan = make_plan(load_suite(str(path), ["johnson.preset=smoke"]))
    smoke = dict(METHODS.get("johnson").presets["smoke"])
    assert plan.methods["johnson"].steps == smoke["steps"] != 40000
    tuned = make_plan(load_suite(str(path), ["johnson.steps=7", "johnson.preset=smoke"]))
    assert tuned.methods["johnson"].steps == 7 and tuned.methods["johnson"].preset == "smoke"


def _blend_suite(tmp_path, blends, **extra):
    return write_tiny_suite(
        tmp_path,
        methods={"gatys": {"steps": 3}, "semantic": {"steps": 3, "phases": 1}},
        style={"generate": "paintings", "count": 2, "blends": blends},
        **extra,
    )


def test_blends_are_styles_of_their_own_run_by_the_methods_that_can_blend(tmp_path):
    images = ["painting_00.png", "painting_01.png"]
    path = _blend_suite(tmp_path / "a", [{"images": images, "weights": [7, 3]}])
    suite = load_suite(str(path))
    (blend,) = suite.blends
    assert blend.key == "b-painting_00_painting_01" and blend.name == "painting_00+painting_01"
    assert blend.parts == ("s-painting_00", "s-painting_01")
    assert blend.weights == pytest.approx((0.7, 0.3))  # divided by their sum
    assert suite.blend(blend.key) == blend and suite.blend("s-painting_00") is None
    plan = make_plan(suite)
    styles = {m: {c.style for c in plan.cells if c.method == m} for m in plan.methods}
    assert styles["gatys"] == {"s-painting_00", "s-painting_01", blend.key}
    assert styles["semantic"] == {"s-painting_00", "s-painting_01"}  # it cannot blend
    assert not method_class("semantic").needs.blends and method_class("gatys").needs.blends
    # Parts and weights enter the file-list hash (and so the config hash).
    other = _blend_suite(tmp_path / "b", [{"images": images, "weights": [1, 1], "name": "even"}])
    again = load_suite(str(other))
    assert again.blends[0].key == "b-even" and again.file_list_hash != suite.file_list_hash


@pytest.mark.parametrize(
    "blends,message",
    [
        ([{"images": ["painting_00.png"], "weights": [1]}], r"style\.blends\.0\.images: List"),
        (
            [{"images": ["painting_00.png", "painting_01.png"], "weights": [1]}],
            r"style\.blends\.0: Value error, 'weights' needs one weight per image \(2\), got 1",
        ),
        (
            [{"images": ["painting_00.png", "painting_01.png"], "weights": [1, 0]}],
            r"'weights' must all be positive numbers",
        ),
        (
            [{"images": ["painting_00.png", "painting_00.png"], "weights": [1, 1]}],
            r"'images' names an image twice",
        ),
        (
            [{"images": ["painting_00.png", "nope.png"], "weights": [1, 1]}],
            r"style\.blends\.0\.images: 'nope\.png' is not one of the suite's style images",
        ),
        (
            [{"images": ["painting_00.png", "painting_01.png"], "weights": [1, 1], "name": "x"}]
            * 2,
            r"style\.blends\.1\.name: 'x' names two blends",
        ),
        (
            [{"images": ["painting_00.png", "painting_01.png"], "weights": [1, 1], "mix": 1}],
            r"style\.blends\.0\.mix: Extra inputs",
        ),
    ],
)
def test_invalid_blends_name_the_key(tmp_path, blends, message):
    with pytest.raises(BenchError, match=message):
        load_suite(str(_blend_suite(tmp_path, blends)))

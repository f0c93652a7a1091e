"""Semantic maps in suites: matching rules, errors that name the files, worker plumbing."""

import numpy as np
import pytest
import yaml
from PIL import Image

from stylebench.errors import BenchError
from stylebench.plan import Cell
from stylebench.suites.guides import guide_key
from stylebench.suites.load import load_suite
from stylebench.worker import CellRunner, WorkerSettings
from tests.conftest import write_tiny_suite


def test_folder_suite_picks_up_the_shared_doodle_maps(shared_images):
    suite = load_suite(str(shared_images), ["image_size=32"])
    assert suite.spec.guides is not None and suite.spec.guides.folder == "semantic"
    matched = {suite.image(key).name: ref.name for key, ref in suite.guides.items()}
    assert matched == {
        "vangogh_self_portrait_doodle_sample.jpg": "Gogh_sem.png",
        "monet_doodle_sample.jpg": "Monet_sem.png",  # not monet_water_lilies_1919 (other size)
        "renoir_doodle_sample.jpg": "Renoir_sem.png",
    }
    assert all(ref.key == guide_key(key) for key, ref in suite.guides.items())


def test_yaml_suite_with_stem_rule_and_explicit_files(tmp_path, shared_images):
    spec = {
        "name": "doodle",
        "version": 1,
        "image_size": 32,
        "weights": "random",
        "content": {"files": [str(shared_images / "semantic" / "Seth.jpg")]},
        "style": {"files": [str(shared_images / "style/vangogh_self_portrait_doodle_sample.jpg")]},
        "guides": {
            "folder": str(shared_images / "semantic"),
            "files": {"vangogh_self_portrait_doodle_sample.jpg": "Gogh_sem.png"},
        },
        "methods": {"semantic": {"steps": 2, "phases": 1}},
    }
    path = tmp_path / "doodle.yaml"
    path.write_text(yaml.safe_dump(spec))
    suite = load_suite(str(path))
    assert {suite.image(k).name: r.name for k, r in suite.guides.items()} == {
        "Seth.jpg": "Seth_sem.png",
        "vangogh_self_portrait_doodle_sample.jpg": "Gogh_sem.png",
    }


def write_png(path, width, height, value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width, 3), value, dtype=np.uint8)).save(path)


def folder_suite(tmp_path, content, style, maps):
    for name, size in content.items():
        write_png(tmp_path / "content" / name, *size)
    for name, size in style.items():
        write_png(tmp_path / "style" / name, *size, value=200)
    for name, (size, value) in maps.items():
        write_png(tmp_path / "semantic" / name, *size, value=value)
    return tmp_path


@pytest.mark.parametrize(
    "maps,message",
    [
        ({"photo_sem.png": ((10, 20), 0)}, r"photo_sem.png is \(10, 20\) px but its image"),
        (
            {"ab_sem.png": ((20, 20), 0), "b_sem.png": ((20, 20), 9)},
            "several maps fit xabx.png",
        ),
    ],
)
def test_bad_maps_are_errors_that_name_the_files(tmp_path, maps, message):
    folder = folder_suite(tmp_path, {"photo.png": (20, 20)}, {"xabx.png": (20, 20)}, maps)
    with pytest.raises(BenchError, match=message):
        load_suite(str(folder))


def test_listed_maps_must_exist_and_belong_to_an_image(tmp_path):
    path = write_tiny_suite(tmp_path, guides={"folder": ".", "files": {"nope.png": "x.png"}})
    with pytest.raises(BenchError, match="guides.files: 'nope.png' is not a content or style"):
        load_suite(str(path))
    name = load_suite(str(write_tiny_suite(tmp_path))).content[0].name
    path = write_tiny_suite(tmp_path, guides={"folder": ".", "files": {name: "missing.png"}})
    with pytest.raises(BenchError, match=f"guides.files.{name}: map .*missing.png does not exist"):
        load_suite(str(path))
    path = write_tiny_suite(tmp_path, guides={"folder": "nowhere"})
    with pytest.raises(BenchError, match="guides.folder: .*nowhere is not a folder"):
        load_suite(str(path))


def test_maps_enter_the_file_list_hash(tmp_path):
    folder = folder_suite(
        tmp_path, {"photo.png": (20, 20)}, {"art.png": (20, 20)}, {"art_sem.png": ((20, 20), 5)}
    )
    before = load_suite(str(folder))
    assert [before.image(k).name for k in before.guides] == ["art.png"]
    write_png(folder / "semantic" / "art_sem.png", 20, 20, value=6)
    assert load_suite(str(folder)).file_list_hash != before.file_list_hash


def test_the_worker_passes_the_suites_maps_and_returns_the_methods_notes():
    settings = WorkerSettings(
        weights="random",
        seed=0,
        methods={"semantic": {"preset": "paper", "steps": 2, "phases": 1}},
        metrics=("latency",),
    )
    rng = np.random.default_rng(0)
    content, style = (rng.integers(0, 255, (32, 32, 3), dtype=np.uint8) for _ in range(2))
    halves = np.zeros((32, 32, 3), dtype=np.uint8)
    halves[:, :16, 0], halves[:, 16:, 2] = 255, 255
    images = {"c-a": content, "s-b": style}
    cell = Cell("semantic/c-a/s-b", "semantic", "c-a", "s-b", 1)
    runner = CellRunner(settings, dict(images))
    automatic = runner.run(cell, ["s-b"])
    assert automatic.status == "ok", automatic.traceback
    assert automatic.notes["guides"].startswith("automatic content and style maps")
    provided = {**images, guide_key("c-a"): halves, guide_key("s-b"): halves}
    result = CellRunner(settings, provided).run(cell, ["s-b"])
    assert result.status == "ok", result.traceback
    assert result.notes == {"guides": "content and style maps provided"}
    only_style = {**images, guide_key("s-b"): halves}
    result = CellRunner(settings, only_style).run(cell, ["s-b"])
    assert result.notes["guides"].startswith("style map provided; automatic content map")

"""The built-in monet suite against a monet2photo-shaped copy with the real split counts."""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from stylebench.cli import app
from stylebench.data.catalog import DATASETS
from stylebench.data.store import verify
from stylebench.errors import BenchError
from stylebench.methods.core.weights import WeightsSource
from stylebench.plan import is_domain, make_plan
from stylebench.record_builder import build_record
from stylebench.suites import MONET
from stylebench.suites.load import load_suite
from stylebench.suites.pin import pin_suite
from stylebench.training_jobs import plan_training
from tests.bench.data.conftest import tiny_jpeg

#: The version the repository ships (bumped whenever the suite changes what a run computes).
SHIPPED_VERSION = yaml.safe_load(MONET.read_text())["version"]


def names(split: str, indices) -> list[str]:
    return [f"{split}/{i:05d}.jpg" for i in indices]


@pytest.fixture(scope="module")
def monet_root(tmp_path_factory) -> Path:
    """A copy with monet2photo's real counts: one tiny JPEG, made unique by trailing bytes
    (decoders stop at the end-of-image marker)."""
    root = tmp_path_factory.mktemp("data")
    jpeg = tiny_jpeg(0)
    for split, count in DATASETS["monet2photo"].splits.items():
        folder = root / "monet2photo" / split
        folder.mkdir(parents=True)
        for index in range(count):
            (folder / f"{index:05d}.jpg").write_bytes(jpeg + f"{split} {index}".encode())
    verify("monet2photo", root)
    return root


def test_monet_picks_its_images_by_the_documented_rule(monet_root):
    suite = load_suite("monet", data_dir=monet_root)
    assert [r.name for r in suite.content] == names("testB", range(0, 751, 75))[:10]
    assert [r.name for r in suite.style] == names("trainA", range(0, 1072, 214))[:5]
    assert [r.name for r in suite.reference_set] == names("testA", range(121))
    assert len(suite.training_content) == 6287 and len(suite.training_style) == 1072
    assert suite.training_content[0].name == "trainB/00000.jpg"
    assert suite.content[0].key == "c-00000" and suite.style[0].key == "s-00000"
    identity = suite.datasets["monet2photo"]
    manifest = verify("monet2photo", monet_root).manifest
    assert identity == {
        "files_sha256": manifest["files_sha256"],
        "archive_sha256": None,
        "url": None,
    }
    spec = suite.spec
    assert (spec.name, spec.version, spec.image_size, spec.weights) == (
        "monet",
        SHIPPED_VERSION,
        256,
        "pretrained",
    )
    plan = make_plan(suite)
    assert plan.methods["gatys"].steps == 500
    domain = [m for m in plan.methods if is_domain(m)]
    assert plan.methods["cyclegan"].steps == 1_257_400
    assert domain == ["cyclegan", "cyclegan_reverse"]
    # Per-pair methods: 10 photos x 5 paintings; cyclegan once per photo, and back once per
    # held-out painting.
    assert len(plan.cells) == 10 * 5 * (len(plan.methods) - 2) + 10 + 10
    record = build_record(plan, "id", "key", "commit", WeightsSource.parse("random"), [], "now")
    assert record.suite.datasets == suite.datasets and record.suite.version == SHIPPED_VERSION
    assert [c.name for c in record.suite.content] == [r.name for r in suite.content]


def test_monet_plans_cyclegan_both_ways_from_one_training(monet_root):
    suite = load_suite("monet", data_dir=monet_root)
    plan = make_plan(suite)
    paintings = names("testA", range(0, 121, 12))[:10]
    assert [r.name for r in suite.reverse_content] == paintings
    assert [r.name for r in suite.reverse_reference] == names("testB", range(751))
    cells = {m: [c for c in plan.cells if c.method == m] for m in ("cyclegan", "cyclegan_reverse")}
    assert [c.content for c in cells["cyclegan"]] == [r.key for r in suite.content]
    assert [c.content for c in cells["cyclegan_reverse"]] == [r.key for r in suite.reverse_content]
    assert [c.id for c in cells["cyclegan_reverse"]][:2] == [
        "cyclegan_reverse/rc-00000/domain",
        "cyclegan_reverse/rc-00012/domain",
    ]
    assert (plan.direction("cyclegan"), plan.direction("cyclegan_reverse")) == (
        "photo_to_style",
        "style_to_photo",
    )
    assert [r.name for r in plan.reference_set("cyclegan")] == names("testA", range(121))
    assert plan.reference_set("cyclegan_reverse") == suite.reverse_reference
    settings = plan.methods["cyclegan_reverse"].model_dump()
    assert settings == {**plan.methods["cyclegan"].model_dump(), "direction": "style_to_photo"}
    # One training job (direction is not in its key): both directions use its checkpoint.
    training = plan_training(plan, defaultdict(lambda: "weights"))
    (job,) = [j for j in training.jobs.values() if j.method == "cyclegan"]
    assert {training.cell_jobs[c.id] for m in cells for c in cells[m]} == {job.key}
    record = build_record(plan, "id", "key", "commit", WeightsSource.parse("random"), [], "now")
    back = record.methods["cyclegan_reverse"]
    assert (back.method, back.direction, back.cells_planned) == ("cyclegan", "style_to_photo", 10)
    assert record.methods["cyclegan"].direction == "photo_to_style"
    assert [r.name for r in record.suite.reverse_content] == paintings
    directions = record.evaluation["domain"]["directions"]
    assert directions["style_to_photo"]["methods"] == ["cyclegan_reverse"]
    assert directions["style_to_photo"]["reference_images"] == 751
    assert directions["photo_to_style"]["reference_images"] == 121


def test_validate_reports_the_sets_and_the_dataset(monet_root):
    # Offline tests: random weights, since validate loads the weights a run would (pretrained).
    result = CliRunner().invoke(
        app, ["validate", "monet", "--data-dir", str(monet_root), "--weights", "random"]
    )
    assert result.exit_code == 0, result.output
    assert f"suite monet v{SHIPPED_VERSION}: 10 content x 5 style at 256 px" in result.output
    assert "reference set 121 images; training 6287 content, 1072 style images" in result.output
    assert "dataset monet2photo: file list sha256" in result.output
    assert "reverse (style -> photo): 10 style-domain images in, reference set 751 photos" in (
        result.output
    )
    assert "cyclegan_reverse: the style_to_photo generator of cyclegan's training" in result.output


def test_the_reference_can_be_test_and_train_paintings(monet_root):
    both = load_suite("monet", ["reference.split=[testA,trainA]"], data_dir=monet_root)
    assert len(both.reference_set) == 121 + 1072
    assert both.reference_set[121].name == "trainA/00000.jpg"
    assert len({r.key for r in both.reference_set}) == 1193
    plain = load_suite("monet", data_dir=monet_root)
    assert both.file_list_hash != plain.file_list_hash


@pytest.mark.parametrize(
    "override,message",
    [
        ("content.split=testC", r"content.split: 'testC' is not a split of monet2photo"),
        ("style.dataset=monet", "unknown dataset 'monet'"),
        (
            "content.count=20",
            r"content: first=0, every=75, count=20 picks 11 of the 751 images in testB",
        ),
        ("content.files=[nope.jpg]", r"content.files: the pinned names are not the ones"),
        ("reference.every=0", r"reference.every: Input should be greater than or equal to 1"),
        ("reference.split=[]", r"'split' names at least one split"),
        ("content.folder=x", r"give exactly one of"),
    ],
)
def test_dataset_set_errors_name_the_key(monet_root, override, message):
    with pytest.raises(BenchError, match=message):
        load_suite("monet", [override], data_dir=monet_root)


def test_listed_names_must_exist_in_the_split(monet_root, tmp_path):
    suite = {
        **yaml.safe_load(MONET.read_text()),
        "content": {"dataset": "monet2photo", "split": "testB", "files": ["00003.jpg"]},
    }
    path = tmp_path / "listed.yaml"
    path.write_text(yaml.safe_dump(suite))
    assert [r.name for r in load_suite(str(path), data_dir=monet_root).content] == [
        "testB/00003.jpg"
    ]
    suite["content"]["files"] = ["00003.jpg", "missing.jpg"]
    path.write_text(yaml.safe_dump(suite))
    with pytest.raises(BenchError, match="content.files: testB/missing.jpg is not an image"):
        load_suite(str(path), data_dir=monet_root)


def test_pin_lists_the_names_and_guards_them(monet_root, tmp_path):
    suite = tmp_path / "monet.yaml"
    shutil.copy(MONET, suite)
    pinned = pin_suite(str(suite), data_dir=monet_root)
    assert pinned.changed == ["content", "style", "reverse.content"]
    assert pinned.version == SHIPPED_VERSION
    text = suite.read_text()
    assert "# The headline suite" in text and '- "00075.jpg"' in text  # comments stay
    loaded = load_suite(str(suite), data_dir=monet_root)
    assert loaded.spec.content.files == [f"{i:05d}.jpg" for i in range(0, 751, 75)][:10]
    assert [r.name for r in loaded.style] == names("trainA", range(0, 1072, 214))[:5]
    assert pin_suite(str(suite), data_dir=monet_root).changed == []
    assert suite.read_text() == text

    # Another copy whose sorted listing differs: the pinned names are refused, not replaced.
    other = tmp_path / "other"
    shutil.copytree(monet_root, other)
    (other / "monet2photo" / "testB" / "00000.jpg").rename(
        other / "monet2photo" / "testB" / "99999.jpg"
    )
    (other / "monet2photo" / "stylebench-manifest.json").unlink()
    with pytest.raises(BenchError, match="content.files: the pinned names are not the ones"):
        load_suite(str(suite), data_dir=other)
    repinned = pin_suite(str(suite), data_dir=other)
    assert repinned.changed == ["content"] and repinned.version == SHIPPED_VERSION + 1
    assert yaml.safe_load(suite.read_text())["version"] == SHIPPED_VERSION + 1
    assert load_suite(str(suite), data_dir=other).content[0].name == "testB/00001.jpg"


def test_pin_refuses_suites_it_cannot_edit(monet_root, tmp_path):
    suite = tmp_path / "flow.yaml"
    raw = yaml.safe_load(MONET.read_text())
    suite.write_text(yaml.safe_dump(raw, default_flow_style=True))
    with pytest.raises(BenchError, match="must be written as a block mapping"):
        pin_suite(str(suite), data_dir=monet_root)
    assert yaml.safe_load(suite.read_text()) == raw
    with pytest.raises(BenchError, match="folder suite"):
        pin_suite(str(tmp_path), data_dir=monet_root)

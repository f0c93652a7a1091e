"""CycleGAN through the real CLI with real Ray and MLflow: ``bench run --methods cyclegan``
trains it as a Ray task on the suite's training split, stylizes each content image once and
scores it against the style set, and (as ``cyclegan_reverse``, from the same training)
translates the reverse set's paintings to photos, scored against its photos; a reference-format
generator that does not fit the network is
refused with the keys that do not fit."""

from __future__ import annotations

import json

import torch
from mlflow.tracking import MlflowClient

from tests.conftest import write_tiny_suite
from tests.methods.test_cyclegan import reference_checkpoint
from tests.test_end_to_end import bench

CYCLEGAN = {"steps": 6, "image_size": 32, "ngf": 4, "n_blocks": 2, "ndf": 4, "pool_size": 2}
# Content metrics all take the same path for domain outputs (vs the content image): one suffices.
METRICS = ["content_loss", "style_loss", "fid", "latency", "throughput"]


def test_train_stylize_score_and_load_a_reference_generator(tmp_path):
    suite = write_tiny_suite(
        tmp_path,
        methods={"cyclegan": dict(CYCLEGAN)},
        style={"generate": "paintings", "count": 2},
        reference={"generate": "paintings", "count": 3, "first": 10},
        training={
            "content": {"generate": "scenes", "count": 3, "first": 50},
            "style": {"generate": "paintings", "count": 2, "first": 20},
        },
        reverse={
            "content": {"generate": "paintings", "count": 2, "first": 30},
            "reference": {"generate": "scenes", "count": 4, "first": 60},
        },
        metrics=METRICS,
    )
    out = tmp_path / "out"
    run = bench("run", "--suite", str(suite), "--out", str(out), "--methods", "cyclegan",
                "--workers", "1", cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "trained cyclegan/2 training styles" in run.stderr
    assert "training 1 network(s)" in run.stderr  # both directions from one training

    run_dir = next(out.glob("tiny-*"))
    record = json.loads((run_dir / "record.json").read_text())
    cells = [c for c in record["cells"] if c["method"] == "cyclegan"]
    assert [(c["content"], c["style"]) for c in cells] == [
        ("c-scene_00", "domain"),
        ("c-scene_01", "domain"),
    ]  # once per content image, not per style
    assert all(c["status"] == "ok" and c["style_split"] is None for c in cells)
    assert (run_dir / "images/cyclegan/c-scene_00/domain.png").is_file()
    assert set(cells[0]["scores"]) == {"content_loss", "style_loss", "latency"}
    domain = record["evaluation"]["domain"]
    assert domain["style_set"] == "reference" and domain["style_set_images"] == 3
    summary = record["methods"]["cyclegan"]
    assert summary["needs"]["style"] == "domain" and summary["cells_planned"] == 2
    assert summary["set_scores"]["fid"]["n"] == 2
    assert summary["set_scores"]["fid"]["n_reference"] == 3
    assert summary["throughput"] > 0, summary["throughput_details"]
    (job,) = summary["training"]
    assert job["source"] == "trained" and job["resumed_from_step"] == 0
    assert len(job["curves"]["cycle_photo"]) == 6 and "d_style" in job["curves"]
    assert summary["direction"] == "photo_to_style"

    # Monet -> photo: the paintings of the reverse set in, the photos as the reference set.
    back = record["methods"]["cyclegan_reverse"]
    assert (back["method"], back["direction"]) == ("cyclegan", "style_to_photo")
    assert back["config"]["direction"] == "style_to_photo"
    photos = record["suite"]["reverse_reference"]
    assert [p["name"] for p in photos] == [f"scene_{i:02d}.png" for i in range(60, 64)]
    for photo in photos:  # the photos on disk, as the run saw them
        assert (run_dir / photo["input"]).is_file() and photo["input"].startswith("inputs/reverse_")
    assert back["set_scores"]["fid"]["n"] == 2 and back["set_scores"]["fid"]["n_reference"] == 4
    assert back["training"] == summary["training"]  # the one checkpoint, listed by both
    paintings = [p["key"] for p in record["suite"]["reverse_content"]]
    assert paintings == ["rc-painting_30", "rc-painting_31"]
    reverse_cells = [c for c in record["cells"] if c["method"] == "cyclegan_reverse"]
    assert [(c["content"], c["status"]) for c in reverse_cells] == [(k, "ok") for k in paintings]
    assert (run_dir / "images/cyclegan_reverse/rc-painting_30/domain.png").is_file()
    assert (run_dir / "inputs/reverse_content/rc-painting_30.png").is_file()
    directions = record["evaluation"]["domain"]["directions"]
    assert directions["style_to_photo"]["reference_images"] == 4

    report = (run_dir / "report.html").read_text()
    assert report.count('<td class="domain" rowspan="2">') == 2 * 2  # both columns, photo rows
    assert report.count('alt="cyclegan_reverse: painting_30.png → photo"') == 1
    assert "vs style set" in report

    client = MlflowClient(tracking_uri=record["tracking"]["uri"])
    child = client.get_run(record["tracking"]["children"]["cyclegan"])
    assert {"style_loss", "content_loss", "fid", "throughput"} <= set(child.data.metrics)
    history = client.get_metric_history(child.info.run_id, "train/cyclegan/2 training styles/total")
    assert [m.step for m in history] == list(range(1, 7))
    reverse_run = client.get_run(record["tracking"]["children"]["cyclegan_reverse"])
    assert {"style_loss", "content_loss", "fid"} <= set(reverse_run.data.metrics)
    assert reverse_run.data.params["direction"] == "style_to_photo"
    assert child.data.params["direction"] == "photo_to_style"
    (model,) = client.search_registered_models()
    assert model.name.startswith("stylebench.cyclegan.")

    # A reference-format generator that does not fit: refused before any compute, keys listed.
    # (One that fits is loaded on the driver and stylizes on a worker: tests/bench/test_domain.py.)
    state = reference_checkpoint(ngf=4, n_blocks=2)
    del state["model.10.conv_block.5.bias"]
    torch.save(state, tmp_path / "broken.pth")
    broken = bench("run", "--suite", str(suite), "--out", str(out), "--methods", "cyclegan",
                   "--checkpoint", f"cyclegan={tmp_path / 'broken.pth'}", cwd=tmp_path)  # fmt: skip
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
    assert "missing keys: model.10.conv_block.5.bias" in broken.stderr

"""CycleGAN through the real CLI with real Ray and MLflow: ``bench run --methods cyclegan``
trains it as a Ray task on the suite's training split, stylizes each content image once and
scores it against the style set; a reference-format generator that does not fit the network is
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
        metrics=METRICS,
    )
    out = tmp_path / "out"
    run = bench("run", "--suite", str(suite), "--out", str(out), "--methods", "cyclegan",
                "--workers", "1", cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "trained cyclegan/2 training styles" in run.stderr

    run_dir = next(out.glob("tiny-*"))
    record = json.loads((run_dir / "record.json").read_text())
    cells = record["cells"]
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
    report = (run_dir / "report.html").read_text()
    assert report.count('<td class="domain" rowspan="2">') == 2
    assert "vs style set" in report

    client = MlflowClient(tracking_uri=record["tracking"]["uri"])
    child = client.get_run(record["tracking"]["children"]["cyclegan"])
    assert {"style_loss", "content_loss", "fid", "throughput"} <= set(child.data.metrics)
    history = client.get_metric_history(child.info.run_id, "train/cyclegan/2 training styles/total")
    assert [m.step for m in history] == list(range(1, 7))
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

"""Trained methods through the real CLI with real Ray and MLflow: ``bench train`` trains and
registers; ``bench run`` then reuses that checkpoint (training nothing for it), trains what is
missing as a Ray task, and loads a public-format checkpoint given with ``--checkpoint``."""

from __future__ import annotations

import json

import torch
from mlflow.tracking import MlflowClient

from tests.conftest import write_tiny_suite
from tests.methods.test_johnson import public_checkpoint
from tests.test_end_to_end import bench

TINY = {"steps": 2, "batch_size": 2, "image_size": 32}
METHODS = {
    "johnson": dict(TINY),
    "cin": dict(TINY),
    "ghiasi": {**TINY, "style_size": 80, "lr": 1e-3},
}


def test_train_register_reuse_and_load_a_public_checkpoint(tmp_path):
    suite = write_tiny_suite(
        tmp_path,
        methods=METHODS,
        style={"generate": "paintings", "count": 2},
        training={
            "content": {"generate": "scenes", "count": 3, "first": 50},
            "style": {"generate": "paintings", "count": 2, "first": 1},
        },
    )
    out = tmp_path / "out"
    trained = bench("train", "cin", "--suite", str(suite), "--out", str(out), cwd=tmp_path)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "trained cin/2 styles" in trained.stderr and "reused" not in trained.stderr
    assert "registry stylebench.cin." in trained.stdout

    torch.save(public_checkpoint(), tmp_path / "candy.pth")
    run = bench(
        "run",
        "--suite",
        str(suite),
        "--out",
        str(out),
        "--checkpoint",
        f"johnson={tmp_path / 'candy.pth'}",
        "--workers",
        "1",
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "reused cin/2 styles" in run.stderr and "trained cin" not in run.stderr
    assert "trained ghiasi/2 training styles" in run.stderr
    assert "loaded johnson/candy.pth" in run.stderr

    record = json.loads(next(out.glob("tiny-*/record.json")).read_text())
    assert record["status"] == "complete" and len(record["cells"]) == 12
    methods = record["methods"]
    assert [t["source"] for t in methods["cin"]["training"]] == ["cache"]
    assert methods["cin"]["prepare_time"] == methods["cin"]["training"][0]["seconds"] > 0
    assert [t["source"] for t in methods["ghiasi"]["training"]] == ["trained"]
    assert methods["johnson"]["training"][0]["source"] == "file"
    splits = {c["style"]: c["style_split"] for c in record["cells"] if c["method"] == "ghiasi"}
    assert splits == {"s-painting_00": "heldout", "s-painting_01": "train"}
    assert {w["network"] for w in record["weights"]["networks"]} >= {
        "vgg16",
        "vgg19",
        "inception_v3",
        "inception_v3_fid",
    }
    for name in ("johnson", "cin", "ghiasi"):  # set metrics and throughput, like every method
        assert methods[name]["throughput"] > 0, methods[name]["throughput_details"]
        assert methods[name]["set_scores"]["fid"]["n"] == 4
    report = next(out.glob("tiny-*/report.html")).read_text()
    assert "Training styles vs held-out styles" in report

    client = MlflowClient(tracking_uri=record["tracking"]["uri"])
    models = sorted(m.name.split(".")[1] for m in client.search_registered_models())
    assert models == ["cin", "ghiasi"]  # a checkpoint file is not a trained checkpoint
    ghiasi = client.get_run(record["tracking"]["children"]["ghiasi"])
    assert "split/heldout/style_loss" in ghiasi.data.metrics
    assert "split/train/style_loss" in ghiasi.data.metrics
    assert "stylebench.ghiasi." in ghiasi.data.tags["stylebench.checkpoints"]
    curve = client.get_metric_history(ghiasi.info.run_id, "train/ghiasi/2 training styles/total")
    assert [m.step for m in curve] == [1, 2]

    state = public_checkpoint(legacy=False)
    del state["in3.bias"]
    torch.save(state, tmp_path / "broken.pth")
    broken = bench(
        "run", "--suite", str(suite), "--out", str(out), "--methods", "johnson",
        "--checkpoint", f"johnson={tmp_path / 'broken.pth'}", cwd=tmp_path,
    )  # fmt: skip
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
    assert "missing keys: in3.bias" in broken.stderr

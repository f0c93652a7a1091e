"""The real ``bench`` CLI on tiny suites, with real Ray and a real MLflow sqlite store."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient
from PIL import Image

from stylebench.images import open_rgb
from stylebench.methods.core.weights import WeightsSource
from stylebench.metrics.distances import fid
from stylebench.metrics.fid_features import InceptionFeatures
from stylebench.suites import procedural
from stylebench.tracking import experiment_page
from tests.browser import page_text_after, runs_table_text, visit
from tests.conftest import write_tiny_suite
from tests.servers import free_port, wait_for_http

BENCH = str(Path(sys.executable).with_name("bench"))


def bench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [BENCH, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_run_records_tracks_reports_and_resumes(tmp_path):
    reference = {"generate": "paintings", "count": 3, "first": 10}
    suite = write_tiny_suite(tmp_path, reference=reference)
    out = tmp_path / "out"
    first = bench("run", "--suite", str(suite), "--out", str(out), "--workers", "2", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Traceback" not in first.stderr
    assert "RANDOM WEIGHTS" in first.stdout
    assert "[2/2]" in first.stderr  # progress, one line per cell off a terminal
    assert " INFO mlflow" not in first.stderr  # MLflow's chatter stays out of bench's output
    run_dir = next(out.glob("tiny-*"))
    record = json.loads((run_dir / "record.json").read_text())
    assert f"Report:       {run_dir / 'report.html'}" in first.stdout
    assert "bench ui" in first.stdout and f"sqlite:///{out / 'mlflow.db'}" in first.stdout

    # The record carries everything a report or comparison needs.
    assert record["status"] == "complete" and len(record["cells"]) == 2
    assert record["weights"]["random"] is True
    networks = {w["network"]: w for w in record["weights"]["networks"]}
    assert set(networks) == {
        "vgg19",
        "vgg16",
        "lpips-alex-v0.1",
        "lpips-vgg-v0.1",
        "inception_v3_fid",
    }
    assert all(len(w["sha256"]) == 64 and w["random"] for w in networks.values())
    assert record["environment"]["packages"]["torch"] and record["environment"]["git_commit"]
    assert record["suite"]["file_list_hash"] and record["config_hash"]
    with Image.open(run_dir / "grid.png") as grid:
        assert grid.getpixel((2, 2)) == (176, 0, 32)  # the RANDOM WEIGHTS banner
    for cell in record["cells"]:
        assert cell["status"] == "ok" and (run_dir / cell["output"]).is_file()
        with Image.open(run_dir / cell["output"]) as output:
            assert output.text["stylebench:random-weights"].startswith("yes")
        per_image = {m for m, info in record["metrics"].items() if info["per"] == "image"}
        assert set(cell["scores"]) == per_image >= {"lpips", "cfsd", "latency", "content_loss"}
        assert len(cell["curves"]["total"]) == 3
    gatys = record["methods"]["gatys"]
    assert gatys["prepare_time"] is not None and gatys["throughput"] > 0
    assert gatys["throughput_details"]["batch_size"] == 2 and gatys["iterative"] is True

    # Set metrics: 2 outputs against the suite's 3 reference images, with N and settings.
    scores = gatys["set_scores"]
    assert scores["fid"]["n"] == 2 and scores["fid"]["n_reference"] == 3
    assert scores["fid"]["value"] > 0 and scores["fid"]["warnings"]
    assert scores["kid"]["details"]["subset_size"] == 2 and scores["kid"]["std"] is not None
    assert scores["artfid"]["value"] > 1
    assert (
        scores["fid_infinity"]["value"] is None and "at least 3" in scores["fid_infinity"]["error"]
    )
    sets = record["evaluation"]["sets"]
    assert sets["reference_role"] == "reference" and len(sets["reference_images"]) == 3
    assert sets["weights"]["network"] == "inception_v3_fid" and "299" in sets["resize"]
    # Workers embed outputs cell by cell; FID is still that of the files on disk.
    inception = InceptionFeatures(
        WeightsSource.parse("random", seed=record["suite"]["seed"]), tmp_path, torch.device("cpu")
    )
    assert inception.identity.sha256 == networks["inception_v3_fid"]["sha256"]
    pngs = [run_dir / cell["output"] for cell in record["cells"]]
    references = sorted((run_dir / "inputs" / "reference").glob("*.png"))
    on_disk = fid(*(inception(np.stack([open_rgb(p) for p in ps])) for ps in (pngs, references)))
    assert on_disk == pytest.approx(scores["fid"]["value"], rel=1e-4)

    # MLflow: one experiment per suite, a parent run, a child run per method.
    client = MlflowClient(tracking_uri=record["tracking"]["uri"])
    experiment = client.get_experiment_by_name("stylebench/tiny")
    runs = client.search_runs([experiment.experiment_id])
    parent = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent[0].info.run_id]
    assert len(parent) == 1 and [c.data.tags["stylebench.method"] for c in children] == ["gatys"]
    child = children[0]
    assert child.data.params["method.steps"] == "3"
    assert child.data.tags["stylebench.random_weights"] == "true"
    means = [c["scores"]["style_loss"] for c in record["cells"]]
    assert child.data.metrics["style_loss"] == pytest.approx(sum(means) / 2)
    assert child.data.metrics["fid"] == pytest.approx(scores["fid"]["value"])
    assert child.data.metrics["fid_n"] == 2 and "kid_std" in child.data.metrics
    assert child.data.metrics["throughput"] == pytest.approx(gatys["throughput"])
    low, high = child.data.metrics["lpips_ci95_low"], child.data.metrics["lpips_ci95_high"]
    assert low <= child.data.metrics["lpips"] <= high
    curve_key = f"curves/{record['cells'][0]['content']}/{record['cells'][0]['style']}/total"
    assert len(client.get_metric_history(child.info.run_id, curve_key)) == 3
    parent_files = {f.path for f in client.list_artifacts(parent[0].info.run_id)}
    assert {"report.html", "grid.png", "record.json", "inputs"} <= parent_files
    assert [f.path for f in client.list_artifacts(child.info.run_id)] == ["outputs"]
    # ... stored under --out, with well-formed file:/// URIs (checked on disk, not only read
    # back through MLflow, which resolved a malformed URI to a folder at the file-system root).
    artifacts = out / "mlartifacts" / "tiny"
    assert experiment.artifact_location == artifacts.as_uri()
    for run in (parent[0], child):
        assert run.info.artifact_uri == f"{artifacts.as_uri()}/{run.info.run_id}/artifacts"
    assert (artifacts / parent[0].info.run_id / "artifacts" / "report.html").is_file()
    assert any((artifacts / child.info.run_id / "artifacts" / "outputs").iterdir())

    # The report: self-contained, rendered in a real browser, images showing.
    page = visit(
        (run_dir / "report.html").as_uri(),
        """({outputs: [...document.querySelectorAll('.grid img.output')].map(i => i.naturalWidth),
             banner: !!document.getElementById('random-weights'),
             warnings: document.getElementById('set-warnings')?.textContent || '',
             details: [...document.querySelectorAll('.leaderboard .detail')].map(d => d.textContent),
             methods: [...document.querySelectorAll('.leaderboard tbody td:first-child')].map(t => t.textContent),
             speed: document.querySelector('#speed-chart svg')?.getAttribute('aria-label') || '',
             curves: document.querySelectorAll('#curves svg').length})""",
    )
    assert page.console_errors == [] and page.dialogs == []
    assert all(url.startswith(("file:", "data:")) for url in page.requests)
    assert (
        page.facts["outputs"] == [32, 32]
        and page.facts["banner"]
        and page.facts["methods"] == ["gatys"]
    )
    assert "2,048" in page.facts["warnings"] and "N=2 vs 3" in page.facts["details"]
    assert any(d.startswith("±") for d in page.facts["details"])  # bootstrap intervals
    assert page.facts["speed"].startswith("artfid vs latency") and page.facts["curves"] == 1

    # The child run lasts as long as its cells, not the whole invocation: it is created (so
    # that the UI shows it live) when its first cell is back, with that cell's start, and ends
    # with its last cell. (MLflow fixes a run's start when it is created: a cell still running
    # on another worker may have started earlier, under load by a second or so.)
    ends = [datetime.fromisoformat(c["finished"]).timestamp() for c in record["cells"]]
    earliest = min(record["cells"], key=lambda c: c["finished"])
    finished = datetime.fromisoformat(earliest["finished"]).timestamp()
    start = finished - sum(earliest["timings"].values())
    assert child.info.start_time == round(start * 1000)
    assert child.info.end_time == round(max(ends) * 1000) < parent[0].info.end_time
    assert child.data.tags["stylebench.commit"] == record["environment"]["git_commit"]

    # The MLflow UI, started by `bench ui`, opens the experiment on its runs table (not the
    # GenAI traces page), with the method's child run, and shows the run's metrics.
    port = free_port()
    ui = subprocess.Popen(
        [BENCH, "ui", "--tracking-uri", record["tracking"]["uri"], "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health")
        landing = f"http://127.0.0.1:{port}/{experiment_page(experiment.experiment_id)}"
        assert experiment_page(experiment.experiment_id) in first.stdout  # bench run links it
        text = runs_table_text(landing, record["run_id"], "gatys")
        assert "Run Name" in text and "Duration" in text  # the runs table, not GenAI traces
        runs_page = f"http://127.0.0.1:{port}/#/experiments/{experiment.experiment_id}/runs"
        text = page_text_after(f"{runs_page}/{child.info.run_id}", ["Metrics ("])
        assert "gatys" in text and "content_loss" in text and "style_loss" in text
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        ui.wait(timeout=30)

    # Rerunning the same config into the same folder computes nothing and duplicates nothing.
    journal = (run_dir / "journal.jsonl").read_text()
    method_journal = (run_dir / "methods.jsonl").read_text()
    second = bench("run", "--suite", str(suite), "--out", str(out), cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert (run_dir / "journal.jsonl").read_text() == journal
    assert (run_dir / "methods.jsonl").read_text() == method_journal
    live = client.search_runs([experiment.experiment_id])
    assert len(live) == 2


def test_a_blend_runs_through_ray_and_mlflow_and_shows_in_the_report(tmp_path):
    """A suite's blend is a style of its own: gatys runs it, semantic (cannot blend) does not;
    the record, MLflow and the report show its parts and weights."""
    blend = {"images": ["painting_00.png", "painting_01.png"], "weights": [7, 3], "name": "mix"}
    suite = write_tiny_suite(
        tmp_path,
        methods={"gatys": {"steps": 2}, "semantic": {"steps": 2, "phases": 1}},
        content={"generate": "scenes", "count": 1},
        style={"generate": "paintings", "count": 2, "blends": [blend]},
        metrics=["content_loss", "style_loss", "histogram_loss"],
    )
    out = tmp_path / "out"
    result = bench("run", "--suite", str(suite), "--out", str(out), "--workers", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = next(out.glob("tiny-*"))
    record = json.loads((run_dir / "record.json").read_text())
    described = "0.7 x painting_00.png + 0.3 x painting_01.png"
    (entry,) = record["suite"]["blends"]
    assert entry["key"] == "b-mix" and [p["weight"] for p in entry["parts"]] == [0.7, 0.3]
    (cell,) = [c for c in record["cells"] if c["style"] == "b-mix"]
    assert cell["method"] == "gatys" and cell["status"] == "ok" and cell["style_split"] is None
    assert (run_dir / cell["output"]).is_file() and cell["scores"]["style_loss"] > 0
    assert len(record["cells"]) == 2 + 2 + 1  # both methods on both paintings, gatys on the blend
    assert record["evaluation"]["blends"]["not_blending"] == ["semantic"]
    client = MlflowClient(tracking_uri=record["tracking"]["uri"])
    runs = client.search_runs([client.get_experiment_by_name("stylebench/tiny").experiment_id])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    gatys = next(r for r in runs if r.data.tags.get("stylebench.method") == "gatys")
    assert parent.data.params["blend.b-mix"] == gatys.data.params["blend.b-mix"] == described
    assert gatys.data.metrics["blend/b-mix/style_loss"] == pytest.approx(
        cell["scores"]["style_loss"]
    )
    report = (run_dir / "report.html").read_text()
    assert f"mix: {described}" in report and 'id="blend-b-mix"' in report
    assert "Not run on this blend (they cannot blend styles): semantic." in report


def test_one_broken_image_fails_only_its_cells(tmp_path):
    for sub in ("content", "style"):
        (tmp_path / "suite" / sub).mkdir(parents=True)
    shutil.copy(
        procedural.generate("scenes", 1, tmp_path)[0], tmp_path / "suite" / "content" / "good.png"
    )
    (tmp_path / "suite" / "content" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    shutil.copy(
        procedural.generate("paintings", 1, tmp_path)[0], tmp_path / "suite" / "style" / "art.png"
    )
    result = bench(
        "run",
        "--suite",
        str(tmp_path / "suite"),
        "--methods",
        "gatys",
        "--weights",
        "random",
        "--set",
        "image_size=32",
        "--set",
        "gatys.steps=2",
        "--out",
        str(tmp_path / "out"),
        cwd=tmp_path,
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "1 cell(s) failed" in result.stderr and "Traceback" not in result.stderr
    record = json.loads(next((tmp_path / "out").glob("suite-*/record.json")).read_text())
    by_status = {c["content"]: c for c in record["cells"]}
    assert by_status["c-good"]["status"] == "ok"
    assert (
        by_status["c-broken"]["status"] == "failed"
        and "broken.jpg" in by_status["c-broken"]["error"]
    )
    assert record["status"] == "partial"


def test_semantic_uses_a_folder_suites_maps_through_ray(tmp_path):
    from PIL import Image

    suite = tmp_path / "doodles"
    for role, kind in (("content", "scenes"), ("style", "paintings")):
        (suite / role).mkdir(parents=True)
        shutil.copy(procedural.generate(kind, 1, tmp_path)[0], suite / role / f"{role}.png")
    (suite / "semantic").mkdir()
    size = Image.open(suite / "content" / "content.png").size
    halves = Image.new("RGB", size, (255, 0, 0))
    halves.paste((0, 0, 255), (size[0] // 2, 0, size[0], size[1]))
    halves.save(suite / "semantic" / "content_sem.png")  # style.png has no map: automatic
    result = bench(
        "run", "--suite", str(suite), "--methods", "semantic", "--weights", "random",
        "--set", "image_size=32", "--set", "semantic.steps=2", "--set", "semantic.phases=1",
        "--out", str(tmp_path / "out"), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = next((tmp_path / "out").glob("doodles-*"))
    record = json.loads((run_dir / "record.json").read_text())
    guide = record["suite"]["content"][0]["guide"]
    assert guide["name"] == "content_sem.png" and (run_dir / guide["input"]).is_file()
    assert record["suite"]["style"][0]["guide"] is None
    (cell,) = record["cells"]
    assert cell["status"] == "ok"
    assert cell["notes"]["guides"].startswith("content map provided; automatic style map")

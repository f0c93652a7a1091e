"""Fault injection with real Ray and real MLflow: dying workers, Ctrl-C and resume, a tracking
server that goes away, and an existing Ray cluster started with `ray start`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

from stylebench.plan import cell_seed
from tests.conftest import REPO, write_tiny_suite
from tests.servers import MlflowServer, RayHead

BENCH = str(Path(sys.executable).with_name("bench"))
FAULTY = "tests.faulty:Faulty"


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", **extra}


def bench(*args: str, cwd: Path, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BENCH, *args], cwd=cwd, env=env(**extra), capture_output=True, text=True, timeout=600
    )


def interruptible() -> None:
    """Give the child the SIGINT of a terminal's foreground process. A shell without job control
    starts a background command (``nohup .ci/run &``) with SIGINT ignored, every descendant
    inherits that, and Python then never raises KeyboardInterrupt: Ctrl-C would go unheard."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def journal_lines(run_dir: Path) -> list[dict]:
    path = run_dir / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def faulty_suite(folder: Path, count: int, set_metrics: tuple = (), **settings) -> Path:
    """``set_metrics``: added with a reference set of 2 paintings (they need 2)."""
    reference = {"reference": {"generate": "paintings", "count": 2, "first": 10}}
    return write_tiny_suite(
        folder,
        methods={FAULTY: settings},
        content={"generate": "scenes", "count": count},
        metrics=["content_loss", "latency", *set_metrics],
        **(reference if set_metrics else {}),
    )


def start_run(suite: Path, out: Path, cwd: Path, *args: str) -> subprocess.Popen:
    """`bench run` on one worker in the background, with a terminal's SIGINT."""
    return subprocess.Popen(
        [BENCH, "run", "--suite", str(suite), "--out", str(out), "--workers", "1", *args],
        cwd=cwd,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )


def wait_for_first_cell(process: subprocess.Popen, out: Path, timeout_s: float = 240) -> Path:
    """The run folder, once its first cell is in the journal (the run still going)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not any(journal_lines(d) for d in out.glob("tiny-*")):
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    return next(out.glob("tiny-*"))


def test_dead_workers_are_retried_and_a_cell_that_keeps_killing_them_fails_alone(tmp_path):
    doomed = f"{FAULTY}/c-scene_02/s-painting_00"
    suite = faulty_suite(
        tmp_path, 3, die_once_dir=str(tmp_path), die_always_seeds=[cell_seed(0, doomed)]
    )
    result = bench("run", "--suite", str(suite), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert (tmp_path / "died").exists()  # one worker really died once
    run_dir = next((tmp_path / "out").glob("tiny-*"))
    lines = journal_lines(run_dir)
    assert sorted(line["id"] for line in lines) == sorted({line["id"] for line in lines})
    status = {line["id"]: line["status"] for line in lines}
    assert len(status) == 3 and status.pop(doomed) == "failed"
    assert set(status.values()) == {"ok"}
    failed = next(line for line in lines if line["id"] == doomed)
    assert "worker died 3 times" in failed["error"]
    assert "1 cell(s) failed" in result.stderr and "Traceback" not in result.stderr


def test_ctrl_c_keeps_finished_cells_and_resume_computes_only_the_rest(tmp_path):
    suite = faulty_suite(tmp_path, 4, set_metrics=("kid",), sleep_s=2.0)
    out = tmp_path / "out"
    process = start_run(suite, out, tmp_path)
    wait_for_first_cell(process, out)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    run_dir = next(out.glob("tiny-*"))
    before = journal_lines(run_dir)
    assert 1 <= len(before) < 4
    assert not list(run_dir.rglob("*.tmp*"))  # no half-written image or record

    resumed = bench("run", "--resume", str(run_dir), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    after = journal_lines(run_dir)
    assert after[: len(before)] == before
    assert sorted(line["id"] for line in after) == sorted({line["id"] for line in after})
    assert len(after) == 4
    record = json.loads((run_dir / "record.json").read_text())
    client = MlflowClient(record["tracking"]["uri"])
    runs = client.search_runs([record["tracking"]["experiment_id"]])
    assert len(runs) == 2  # one parent, one child: resuming created no duplicates
    child = record["tracking"]["children"][FAULTY]
    assert client.get_run(child).data.metrics["cells_ok"] == 4
    assert [m.value for m in client.get_metric_history(child, "cells_ok")] == [4.0]
    # Set metrics use the Inception features every cell stored, before and after the interrupt.
    kid = record["methods"][FAULTY]["set_scores"]["kid"]
    assert kid["n"] == 4 and kid["value"] is not None
    assert len(list((run_dir / "features").rglob("*.npy"))) == 4

    # A features file lost from the folder fails the method's set metrics with its path, only.
    lost = run_dir / after[0]["features"]
    lost.unlink()
    (run_dir / "methods.jsonl").unlink()
    again = bench("run", "--resume", str(run_dir), cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    record = json.loads((run_dir / "record.json").read_text())
    method = record["methods"][FAULTY]
    assert str(lost) in method["method_error"] and "new --out folder" in method["method_error"]
    assert method["set_scores"] == {} and journal_lines(run_dir) == after


def test_unreachable_tracking_server_is_reported_before_compute(tmp_path):
    start = time.monotonic()
    result = bench(
        "run",
        "--suite",
        str(faulty_suite(tmp_path, 1)),
        "--out",
        str(tmp_path / "out"),
        "--tracking-uri",
        "http://127.0.0.1:9",
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "unreachable" in result.stderr
    assert time.monotonic() - start < 60
    assert not list((tmp_path / "out").glob("tiny-*/journal.jsonl"))


def test_tracking_server_outage_then_sync_uploads_exactly_once(tmp_path):
    server = (
        MlflowServer(tmp_path / "mlflow").start() if (tmp_path / "mlflow").mkdir() is None else None
    )
    try:
        suite = faulty_suite(tmp_path, 3, sleep_s=1.5)
        out = tmp_path / "out"
        process = start_run(suite, out, tmp_path, "--tracking-uri", server.uri)
        wait_for_first_cell(process, out)
        server.stop()
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 4, stderr
        assert "bench sync" in stderr
        run_dir = next(out.glob("tiny-*"))
        assert len(journal_lines(run_dir)) == 3  # compute went on; nothing lost

        server.start()
        synced = bench("sync", str(run_dir), cwd=tmp_path)
        assert synced.returncode == 0, synced.stderr
        again = bench("sync", str(run_dir), cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        client = MlflowClient(server.uri)
        experiment = client.get_experiment_by_name("stylebench/tiny")
        runs = client.search_runs([experiment.experiment_id])
        assert len(runs) == 2
        child = next(r for r in runs if "mlflow.parentRunId" in r.data.tags)
        assert child.data.metrics["cells_ok"] == 3
        assert len(client.get_metric_history(child.info.run_id, "cells_ok")) == 1
        outputs = client.list_artifacts(child.info.run_id, "outputs")
        assert len(outputs) == 3  # one folder per content image, each logged once
    finally:
        server.stop()


def test_joins_an_existing_ray_cluster_and_leaves_it_running(tmp_path):
    head = RayHead(tmp_path / "home").start()
    try:
        suite = write_tiny_suite(tmp_path, methods={"gatys": {"steps": 2}})
        result = bench(
            "run",
            "--suite",
            str(suite),
            "--out",
            str(tmp_path / "out"),
            cwd=tmp_path,
            RAY_ADDRESS=head.address,
            **head.env,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert head.alive()
    finally:
        head.stop()
    # The dead cluster is still recorded as "current" on this machine; a run with no address
    # must start its own local instance rather than try to join it.
    alone = bench("run", "--suite", str(suite), "--out", str(tmp_path / "alone"), cwd=tmp_path)
    assert alone.returncode == 0, alone.stdout + alone.stderr


def test_ray_failing_to_start_is_one_line_with_its_reason_and_logs(tmp_path):
    not_a_folder = tmp_path / "ray-tmp"
    not_a_folder.write_text("")
    result = bench(
        "run",
        "--suite",
        str(faulty_suite(tmp_path, 1)),
        "--out",
        str(tmp_path / "out"),
        cwd=tmp_path,
        RAY_TMPDIR=str(not_a_folder),
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "could not start a local Ray instance" in error[0]
    assert "Not a directory" in error[0] and f"{not_a_folder}/ray/session_latest/logs" in error[0]

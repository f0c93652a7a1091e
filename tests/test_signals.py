"""Signals a scheduler sends (SIGTERM from timeout, Slurm, Kubernetes, systemd; SIGHUP when a
terminal closes; SIGKILL after a grace period), with real Ray and a real MLflow store."""

from __future__ import annotations

import ipaddress
import json
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from mlflow.tracking import MlflowClient

from tests.test_resilience import (
    BENCH,
    env,
    faulty_suite,
    journal_lines,
    start_run,
    wait_for_first_cell,
)


def _start(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    out = tmp_path / "out"
    process = start_run(faulty_suite(tmp_path, 4, sleep_s=2.0), out, tmp_path)
    return process, wait_for_first_cell(process, out)


def _descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def _still_running(processes: list[psutil.Process], timeout_s: float) -> list[str]:
    """Those of ``processes`` still alive (not zombies) after waiting up to ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    alive = processes
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.5)
    return [f"{p.pid} {' '.join(p.cmdline()[:3])}" for p in alive]


def _loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def _statuses(run_dir: Path) -> dict[str, str]:
    ledger = json.loads((run_dir / "tracking.json").read_text())
    client = MlflowClient(ledger["uri"])
    runs = {"parent": ledger["parent"], **ledger["children"]}
    return {name: client.get_run(run_id).info.status for name, run_id in runs.items()}


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_stop_like_ctrl_c_and_close_the_mlflow_runs(tmp_path, sig, code):
    process, run_dir = _start(tmp_path)
    ray_processes = _descendants(process.pid)
    assert ray_processes, "the local Ray instance runs under bench"
    if sig == signal.SIGTERM:
        # Nothing of the local Ray instance listens beyond this machine.
        listening = [
            (p.pid, c.laddr.ip)
            for p in [psutil.Process(process.pid), *ray_processes]
            for c in p.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]
        assert listening and all(_loopback(ip) for _, ip in listening), listening
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert "SIGTERM received" not in stderr and "*** " not in stderr  # no native stack dump
    assert _still_running(ray_processes, timeout_s=30) == []
    before = journal_lines(run_dir)
    assert 1 <= len(before) < 4
    statuses = _statuses(run_dir)
    assert set(statuses.values()) == {"KILLED"}, statuses

    resumed = subprocess.run(
        [BENCH, "run", "--resume", str(run_dir)],
        cwd=tmp_path,
        env=env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert len(journal_lines(run_dir)) == 4
    assert set(_statuses(run_dir).values()) == {"FINISHED"}


def test_no_ray_process_outlives_a_killed_driver(tmp_path):
    process, _ = _start(tmp_path)
    ray_processes = _descendants(process.pid)
    process.kill()
    process.communicate(timeout=60)
    assert _still_running(ray_processes, timeout_s=60) == []

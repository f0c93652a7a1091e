"""``bench ui``: a port in use is an error, the URL is printed once the server answers, and
SIGTERM leaves no MLflow server behind."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from tests.servers import free_port

BENCH = str(Path(sys.executable).with_name("bench"))


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [BENCH, "ui", "--out", str(tmp_path), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "http://" not in result.stdout
    assert f"port {port}" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_url_answers_when_printed_and_sigterm_leaves_no_server(tmp_path):
    port = free_port()
    ui = subprocess.Popen(
        [BENCH, "ui", "--out", str(tmp_path), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = ui.stdout.readline()  # blocks until bench ui prints the URL
        url = f"http://127.0.0.1:{port}"
        assert url in line, line
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
            assert response.status == 200
        server = psutil.Process(ui.pid).children(recursive=True)
        assert server
        ui.send_signal(signal.SIGTERM)
        ui.wait(timeout=60)
    finally:
        if ui.poll() is None:
            ui.kill()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(p.is_running() for p in server):
        time.sleep(0.5)
    assert [p.pid for p in server if p.is_running() and p.status() != "zombie"] == []
    # The port is free again: a new `bench ui` on it starts (its check is not fooled by the
    # closed connections of the last one), and is stopped the same way.
    again = subprocess.Popen(
        [BENCH, "ui", "--out", str(tmp_path), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert f"http://127.0.0.1:{port}" in again.stdout.readline()
        again.send_signal(signal.SIGTERM)
        assert again.wait(timeout=60) == 143
    finally:
        if again.poll() is None:
            again.kill()

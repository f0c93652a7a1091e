"""Real servers for tests, bound to 127.0.0.1: an MLflow tracking server and a Ray head node."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

BIN = Path(sys.executable).parent


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def served_folder(folder: Path) -> Iterator[str]:
    """The files of ``folder`` over HTTP on 127.0.0.1 (a published download, in tests); yields
    the base URL."""
    handler = functools.partial(_QuietFiles, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout_s: float = 240) -> None:
    """Wait until ``url`` answers 200, or fail the test."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s")


class MlflowServer:
    """``mlflow server`` on a sqlite store in ``folder``; stop() and start() again on the same port."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 240) -> MlflowServer:
        command = [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{self.folder / 'mlflow.db'}",
            "--artifacts-destination",
            str(self.folder / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
        ]
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        log = (self.folder / "server.log").open("a")
        self.process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_for_http(f"{self.uri}/health", timeout_s)
        except RuntimeError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


class RayHead:
    """A Ray cluster started with ``ray start --head`` (as a user would), in its own process group.

    Token authentication is on, as for any shared cluster: clients need ``env`` (the mode, the
    cluster's token, and a HOME without another cluster's ``~/.ray/auth_token``) to join. Stopping
    it kills only its own processes, never other Ray instances on the machine.
    """

    def __init__(self, home: Path) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        home.mkdir(parents=True, exist_ok=True)
        self.env = {
            "HOME": str(home),
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(32),
        }
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 180) -> RayHead:
        command = [
            str(BIN / "ray"),
            "start",
            "--head",
            "--block",
            "--node-ip-address",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--num-cpus",
            "2",
            "--include-dashboard",
            "false",
            "--disable-usage-stats",
        ]
        self.process = subprocess.Popen(
            command,
            env={**os.environ, **self.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.alive():
                return self
            time.sleep(1)
        self.stop()
        raise RuntimeError("ray start --head did not come up")

    def alive(self) -> bool:
        status = subprocess.run(
            [str(BIN / "ray"), "status", "--address", self.address],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **self.env},
        )
        return status.returncode == 0

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

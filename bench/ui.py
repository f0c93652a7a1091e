"""``bench ui``: the MLflow UI on a tracking store, as a well-behaved foreground process.

The port is checked before the server starts (MLflow would otherwise log a bind error and the
user would be left with a URL that answers nothing); the URL is printed only once the server
answers; the server runs in its own process group, and every way this process is stopped
(Ctrl-C, SIGTERM, SIGHUP) stops that whole group, so no MLflow server is left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable

from stylebench.errors import BenchError

START_TIMEOUT_S = 180.0
STOP_GRACE_S = 10.0


class UiError(BenchError):
    """The UI cannot be started."""


def check_port(host: str, port: int) -> None:
    """Fail at once, naming the port, if another process listens on it."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As servers bind: connections of a UI just stopped (TIME_WAIT) do not hold the port.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UiError(
                f"cannot serve the MLflow UI on {host} port {port}: {exc.strerror}. Another "
                "server (an MLflow UI already open?) holds it; pass --port with another number"
            ) from None


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _stop(server: subprocess.Popen) -> None:
    """SIGTERM the server's process group; SIGKILL what is left after a grace period."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)  # workers that outlived their parent


def serve(uri: str, host: str, port: int, on_ready: Callable[[str], None]) -> int:
    """Run the MLflow UI on ``uri`` until it exits or this process is stopped; calls
    ``on_ready`` with the URL once the server answers. Returns the server's exit code."""
    check_port(host, port)
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    # A personal viewer: one worker and no background job runners start in a fraction of the time.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    # The server's messages go to stderr, so stdout holds the URL line alone (for scripts).
    server = subprocess.Popen(command, env=env, stdout=sys.stderr, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(url):
            if server.poll() is not None:
                raise UiError(
                    f"the MLflow UI server exited with code {server.returncode} before it "
                    "answered; its messages are above"
                )
            if time.monotonic() > deadline:
                raise UiError(f"the MLflow UI server did not answer at {url} within 180 s")
            time.sleep(0.3)
        on_ready(url)
        return server.wait()
    finally:
        _stop(server)

"""How bench starts Ray: a driver launched with `uv run` (as the README's commands are) keeps its
workers in the environment that is installed, instead of Ray rebuilding one per session."""

import json
import os
import shutil
import subprocess

import pytest

from tests.conftest import REPO

PROBE = """
import json, sys
import stylebench.execute
import ray
stylebench.execute.connect(None)
worker = ray.get(ray.remote(lambda: sys.executable).options(num_cpus=0).remote())
print(json.dumps({"driver": sys.executable, "worker": worker,
                  "runtime_env": dict(ray.get_runtime_context().runtime_env)}))
ray.shutdown()
"""


@pytest.mark.skipif(shutil.which("uv") is None, reason="needs the uv command")
def test_workers_of_a_uv_run_driver_use_the_installed_environment():
    env = {k: v for k, v in os.environ.items() if k != "RAY_ENABLE_UV_RUN_RUNTIME_ENV"}
    done = subprocess.run(
        ["uv", "run", "--no-sync", "python", "-c", PROBE],
        cwd=REPO,  # where the README's `uv run bench run` starts
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["worker"] == facts["driver"] == str(REPO / ".venv" / "bin" / "python")
    assert "py_executable" not in facts["runtime_env"]
    assert "working_dir" not in facts["runtime_env"]

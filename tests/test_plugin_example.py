"""The worked example (examples/reinhard, a separate package installed by tests/run.sh) runs
end to end as a plugin: listed, planned, stylized on Ray workers, scored, tracked, reported; and
the suite it ships is listed and planned by name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import write_tiny_suite

BENCH = str(Path(sys.executable).with_name("bench"))
INSTALL = "uv pip install -e examples/reinhard (tests/run.sh does)"


@pytest.fixture(scope="module", autouse=True)
def installed():
    try:
        import stylebench_reinhard  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail(f"the example plugin is not installed: {INSTALL}")
        pytest.skip(f"the example plugin is not installed: {INSTALL}")


def bench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([BENCH, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_the_example_plugin_is_listed_with_its_origin(tmp_path):
    listing = bench("ls", "methods", cwd=tmp_path)
    row = next(line for line in listing.stdout.splitlines() if line.split()[:1] == ["reinhard"])
    assert "stylebench-reinhard==0.1.0" in row and "built-in" not in row


def test_the_suite_the_example_ships_is_listed_and_plans_by_name(tmp_path):
    listing = bench("ls", "suites", cwd=tmp_path)
    row = next(line for line in listing.stdout.splitlines() if "reinhard-demo" in line)
    assert "stylebench-reinhard==0.1.0" in row and "built-in" not in row
    checked = bench("validate", "reinhard-demo", cwd=tmp_path)  # what `bench run` plans with
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "suite reinhard-demo v1: 2 content x 2 style" in checked.stdout
    assert "methods reinhard, 4 cells" in checked.stdout


def test_the_example_plugin_runs_through_ray_mlflow_and_the_report(tmp_path):
    suite = write_tiny_suite(tmp_path, methods={"gatys": {"steps": 3}})
    out = tmp_path / "out"
    result = bench(
        "run", "--suite", str(suite), "--methods", "reinhard,gatys", "--out", str(out), cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reinhard: preset paper" in result.stderr  # its budget, printed before compute
    run_dir = next(out.glob("tiny-*"))
    record = json.loads((run_dir / "record.json").read_text())
    cells = [c for c in record["cells"] if c["method"] == "reinhard"]
    assert len(cells) == 2 and all(c["status"] == "ok" for c in cells)
    assert all("lpips" in c["scores"] and "style_loss" in c["scores"] for c in cells)
    assert record["methods"]["reinhard"]["paper"].startswith("Reinhard, Ashikhmin")
    assert ">reinhard</td>" in (run_dir / "report.html").read_text()
    client = MlflowClient(record["tracking"]["uri"])
    child = client.get_run(record["tracking"]["children"]["reinhard"])
    assert child.data.tags["stylebench.method"] == "reinhard" and "lpips" in child.data.metrics

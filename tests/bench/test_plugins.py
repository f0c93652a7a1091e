"""Plugins through entry points: what is loaded is checked, and a broken plugin costs its own
row in ``bench ls`` and a warning, never another command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stylebench.methods.base import contract_problems as method_problems
from stylebench.metrics.base import contract_problems as metric_problems
from stylebench.registry import METHODS, METRICS

BENCH = str(Path(sys.executable).with_name("bench"))

ENTRY_POINTS = """\
[stylebench.methods]
missing = no_such_module_anywhere:Thing
careless = careless_plugin:Careless

[stylebench.metrics]
not_a_metric = careless_plugin:NotAMetric
"""


@pytest.fixture
def broken_plugins(tmp_path) -> dict[str, str]:
    """An installed distribution (a dist-info folder on the path) with three broken entries."""
    site = tmp_path / "site"
    dist = site / "careless_plugins-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: careless-plugins\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    (site / "careless_plugin.py").write_text(
        "class Careless:\n    name = 'careless'\n    summary = 'forgot the rest'\n\n"
        "class NotAMetric:\n    pass\n"
    )
    return {**os.environ, "PYTHONPATH": str(site)}


def bench(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BENCH, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("name", METHODS.builtin_names())
def test_every_built_in_method_honours_the_contract(name):
    assert method_problems(METHODS.get(name)) == []


@pytest.mark.parametrize("name", METRICS.builtin_names())
def test_every_built_in_metric_honours_the_contract(name):
    assert metric_problems(METRICS.get(name)) == []


def test_a_class_missing_declarations_is_named_with_each_problem():
    class Careless:
        name = "careless"

    problems = method_problems(Careless)
    assert "class attribute 'iterative' must be a bool" in problems
    assert any("'Config' must be a subclass" in p for p in problems)
    assert "method stylize() is missing" in problems


def test_bench_ls_shows_origins_and_a_row_for_each_broken_plugin(broken_plugins, tmp_path):
    methods = bench("ls", "methods", env=broken_plugins, cwd=tmp_path)
    assert methods.returncode == 0 and "Traceback" not in methods.stderr, methods.stderr
    lines = {line.split()[0]: line for line in methods.stdout.splitlines() if line.strip()}
    assert "built-in" in lines["gatys"]
    # The table folds long cells onto more lines (off a terminal it is a fixed width): read the
    # text without the table's rules and line breaks.
    text = " ".join(re.sub(r"[│┃]", " ", methods.stdout).split())
    assert "careless-plugins==0.1" in lines["missing"] and "failed to load" in text
    assert "ModuleNotFoundError" in text and "does not honour" in text
    metrics = bench("ls", "metrics", env=broken_plugins, cwd=tmp_path)
    assert metrics.returncode == 0 and "not_a_metric" in metrics.stdout
    assert "'info' must be a" in metrics.stdout


def test_a_broken_plugin_never_breaks_another_command(broken_plugins, tmp_path):
    from stylebench.suites import procedural

    for sub, draw in (("content", procedural.scene), ("style", procedural.painting)):
        (tmp_path / "folder" / sub).mkdir(parents=True)
        draw(0, 32).save(tmp_path / "folder" / sub / "one.png")
    folder = bench(
        "validate",
        str(tmp_path / "folder"),
        "--weights",
        "random",
        env=broken_plugins,
        cwd=tmp_path,
    )
    assert folder.returncode == 0, folder.stdout + folder.stderr  # every method that loads
    assert folder.stderr.count("left out") == 3 and "methods gatys," in folder.stdout
    named = bench("validate", "smoke", "--methods", "careless", env=broken_plugins, cwd=tmp_path)
    assert named.returncode == 2 and "Traceback" not in named.stderr
    assert (
        "entry point careless = careless_plugin:Careless of careless-plugins==0.1" in named.stderr
    )
    assert "iterative" in named.stderr


def test_bench_ls_reads_declarations_without_importing_torch(tmp_path):
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from stylebench.cli import app\n"
        "for what in ('methods', 'metrics', 'encoders', 'suites'):\n"
        "    assert CliRunner().invoke(app, ['ls', what]).exit_code == 0\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_declarations_read_from_source_equal_the_imported_classes():
    from dataclasses import asdict

    methods, broken = METHODS.declared(("paper", "summary", "needs"))
    assert broken == {}
    for name in METHODS.builtin_names():
        cls = METHODS.get(name)
        expected = {"paper": cls.paper, "summary": cls.summary, "needs": asdict(cls.needs)}
        assert {**expected, "needs": {**expected["needs"], **methods[name]["needs"]}} == {
            **methods[name],
            "needs": {**expected["needs"], **methods[name]["needs"]},
        }
        assert all(asdict(cls.needs)[k] == v for k, v in methods[name]["needs"].items())
    metrics, _ = METRICS.declared(("info",))
    for name in METRICS.builtin_names():
        info = METRICS.get(name).info.as_dict()
        assert {k: info[k] for k in metrics[name]["info"]} == {
            k: tuple(v) if isinstance(v, list) else v for k, v in metrics[name]["info"].items()
        }

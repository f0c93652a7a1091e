"""One import namespace: every package folder is installed under ``stylebench``, and a user's
own ``bench.py``, ``methods.py``, ``metrics.py`` or ``reports.py`` never shadows it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import REPO, write_tiny_suite

BENCH = str(Path(sys.executable).with_name("bench"))
FOLDERS = {"bench": "stylebench", "methods": "stylebench.methods"}
FOLDERS |= {"metrics": "stylebench.metrics", "reports": "stylebench.reports"}


def test_every_package_folder_is_installed_under_stylebench():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert {config["package-dir"][name]: name for name in config["package-dir"]} == FOLDERS
    found = set()
    for folder, package in FOLDERS.items():
        for init in (REPO / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(REPO / folder).parts
            found.add(".".join((package, *parts)))
    assert sorted(config["packages"]) == sorted(found)


def test_a_folder_holding_modules_named_like_stylebench_packages_runs_normally(tmp_path):
    """Most research repositories have a metrics.py; Ray puts the driver's working folder on
    every worker's path, where it replaced stylebench's own package before."""
    for name in ("bench", "methods", "metrics", "reports"):
        (tmp_path / f"{name}.py").write_text(f"raise ImportError('the user\\'s own {name}.py')\n")
    suite = write_tiny_suite(tmp_path / "suite")
    result = subprocess.run(
        [BENCH, "run", "--suite", str(suite), "--out", str(tmp_path / "out"), "--workers", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the user's own" not in result.stderr and "(2 cells, 0 failed)" in result.stdout

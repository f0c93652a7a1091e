"""Facts about where a run happened: code version, packages, device."""

from __future__ import annotations

import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGES = (
    "stylebench",
    "torch",
    "torchvision",
    "numpy",
    "pillow",
    "ray",
    "mlflow",
    "torchmetrics",
    "torch-fidelity",
    "lpips",
    "pandas",
    "pydantic",
    "typer",
)


def git_commit() -> str:
    """The commit of the stylebench checkout, with ``-dirty`` for uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if commit.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return commit.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def git_log(base: str, candidate: str, limit: int = 50) -> list[str] | None:
    """``git log --oneline`` from one recorded commit to another in the stylebench checkout, so a
    comparison can say what code changed (None: no checkout, or it lacks either commit)."""
    root = Path(__file__).resolve().parent.parent
    base, candidate = base.removesuffix("-dirty"), candidate.removesuffix("-dirty")
    if "unknown" in (base, candidate):
        return None
    try:
        log = subprocess.run(
            ["git", "-C", str(root), "log", "--oneline", f"-n{limit}", f"{base}..{candidate}"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return log.stdout.splitlines() if log.returncode == 0 else None


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()

"""The real ``bench`` CLI against real file systems: the modes of what a run writes, a torn
journal line, a read-only or unwritable ``--out``, a disk that fills mid-run (a small tmpfs)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from stylebench.records import read_journal
from tests import unprivileged
from tests.conftest import REPO
from tests.test_resilience import (
    BENCH,
    bench,
    env,
    faulty_suite,
    journal_lines,
    start_run,
    wait_for_first_cell,
)


def run_dir_of(out: Path) -> Path:
    return next(out.glob("tiny-*"))


def one_line_error(result: subprocess.CompletedProcess, path: Path) -> str:
    """The run's error: one ``error:`` line naming ``path`` (or a file in it), no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def tmpfs() -> Iterator[callable]:
    """Mount small tmpfs file systems (root only); unmounted afterwards."""
    mounted: list[Path] = []

    def mount(folder: Path, options: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_every_file_a_run_writes_follows_the_umask(tmp_path):
    """They were created 0600 by mkstemp whatever the umask; colleagues could not read them."""
    suite = faulty_suite(tmp_path, 2, set_metrics=("kid",))
    out = tmp_path / "out"
    result = subprocess.run(
        [BENCH, "run", "--suite", str(suite), "--out", str(out)],
        cwd=tmp_path,
        env=env(),
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=lambda: os.umask(0o022),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    run_dir = run_dir_of(out)
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"record.json", "invocation.json", "tracking.json", "report.html", "grid.png"} <= names
    assert any(p.suffix == ".npy" for p in files) and any(p.parent.name == "content" for p in files)
    modes = {str(p.relative_to(run_dir)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {"0o644"}, modes


def test_a_torn_journal_line_does_not_stop_a_resume(tmp_path):
    """A kill or a full disk mid-append leaves half a line; the next appends were glued to it
    and the resumed run died on 'line N is corrupt' after computing every cell."""
    suite = faulty_suite(tmp_path, 3)
    out = tmp_path / "out"
    first = bench("run", "--suite", str(suite), "--out", str(out), cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    run_dir = run_dir_of(out)
    journal = run_dir / "journal.jsonl"
    lines = journal.read_text().splitlines()
    journal.write_text(lines[0] + "\n" + lines[1][:40])  # killed while writing the second
    (run_dir / "record.json").unlink()

    resumed = bench("run", "--resume", str(run_dir), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    (aside,) = run_dir.glob("journal.jsonl.torn-*")
    assert aside.read_text() == lines[1][:40] and str(aside) in resumed.stderr
    entries = journal_lines(run_dir)
    assert len(entries) == 3 and {e["status"] for e in entries} == {"ok"}
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == "complete" and len(record["cells"]) == 3


def test_a_read_only_out_folder_is_a_one_line_error(tmp_path, tmpfs):
    suite = faulty_suite(tmp_path, 1)
    read_only = tmpfs(tmp_path / "ro", "ro,size=1m")
    result = bench("run", "--suite", str(suite), "--out", str(read_only / "out"), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    line = one_line_error(result, read_only / "out")
    assert "read-only" in line and "--out" in line


def test_an_out_folder_the_user_cannot_write_is_a_one_line_error():
    """Run as an ordinary user (root ignores permissions) with a temporary HOME."""
    user_home = unprivileged.home()
    try:
        suite = faulty_suite(user_home / "suite", 1)
        locked = user_home / "locked"  # root's, 0755: the user may read it, not write it
        locked.mkdir()
        argv = [BENCH, "run", "--suite", str(suite), "--out", str(locked / "out")]
        result = subprocess.run(
            unprivileged.command(argv, user_home),
            cwd=user_home,
            env=unprivileged.environment(user_home, PYTHONPATH=str(REPO)),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 2, result.stdout + result.stderr
        line = one_line_error(result, locked / "out")
        assert "permission" in line.lower() and "--out" in line
    finally:
        shutil.rmtree(user_home, ignore_errors=True)


def _fill(folder: Path) -> Path:
    """Write a file in ``folder`` until the disk is full."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def test_a_disk_that_fills_mid_run_stops_with_one_line_and_a_rerun_resumes(tmp_path, tmpfs):
    suite = faulty_suite(tmp_path, 4, sleep_s=1.5)
    disk = tmpfs(tmp_path / "disk", "size=4m")
    out = disk / "out"
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"  # the store elsewhere: only results fill
    process = start_run(suite, out, tmp_path, "--tracking-uri", tracking)
    wait_for_first_cell(process, out)
    filler = _fill(disk)
    stdout, stderr = process.communicate(timeout=300)
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    assert result.returncode == 2, stdout + stderr
    run_dir = run_dir_of(out)
    line = one_line_error(result, run_dir)
    assert "no space left" in line and "free" in line
    kept = list(read_journal(run_dir / "journal.jsonl").values())
    assert 1 <= len(kept) < 4 and {e["status"] for e in kept} == {"ok"}
    assert not list(run_dir.rglob("*.tmp*"))  # no half-written file left behind

    filler.unlink()
    again = bench(
        "run", "--suite", str(suite), "--out", str(out), "--tracking-uri", tracking, cwd=tmp_path
    )
    assert again.returncode == 0, again.stdout + again.stderr
    entries = list(read_journal(run_dir / "journal.jsonl").values())
    assert len(entries) == 4 and entries[: len(kept)] == kept
    assert json.loads((run_dir / "record.json").read_text())["status"] == "complete"

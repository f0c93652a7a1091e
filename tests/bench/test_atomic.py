"""The one atomic writer: unique temp names, umask-respecting modes, cleanup, concurrent writers;
and no other writer in the packages (checked on the source)."""

from __future__ import annotations

import ast
import errno
import os
import stat
import sys
import threading
from pathlib import Path

import pytest

from stylebench.atomic import atomic_file, write_bytes_atomic, write_text_atomic
from stylebench.errors import disk_error
from stylebench.reports.html import write_trend
from tests.conftest import REPO

PACKAGES = ("bench", "methods", "metrics", "reports")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("umask", "expected"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_get_the_mode_the_umask_gives(tmp_path, umask, expected):
    old = os.umask(umask)
    try:
        write_bytes_atomic(tmp_path / "a.bin", b"x")
        write_text_atomic(tmp_path / "b.json", "{}")
    finally:
        os.umask(old)
    assert mode(tmp_path / "a.bin") == expected
    assert mode(tmp_path / "b.json") == expected


def test_replaces_the_target_and_leaves_nothing_beside_it(tmp_path):
    target = tmp_path / "record.json"
    write_text_atomic(target, "old")
    write_text_atomic(target, "new ü")
    assert target.read_text(encoding="utf-8") == "new ü"
    assert list(tmp_path.iterdir()) == [target]


def test_an_error_while_writing_keeps_the_old_file_and_removes_the_temp_file(tmp_path):
    target = tmp_path / "report.html"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError), atomic_file(target, "w") as handle:
        handle.write("half")
        raise RuntimeError("disk went away")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_concurrent_writers_never_leave_a_temp_file_or_a_mixed_file(tmp_path):
    """Two writers of one report (e.g. `bench compare --html` twice at once)."""
    target = tmp_path / "trend.html"
    contents = {name: name * 200_000 for name in "ab"}
    errors: list[BaseException] = []
    seen: set[str] = set()

    def write(name: str) -> None:
        try:
            for _ in range(15):
                write_text_atomic(target, contents[name])
        except BaseException as exc:  # a writer's failure is the test's failure
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in contents]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        if target.exists():
            seen.add(target.read_text())
    for thread in threads:
        thread.join()
    assert not errors
    assert seen <= set(contents.values())
    assert list(tmp_path.iterdir()) == [target]


def test_two_trend_pages_written_at_once_both_succeed(tmp_path):
    """reports/ used one fixed temp name: the second rename found it gone."""
    target = tmp_path / "trend.html"
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(40):
                write_trend([], target)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert list(tmp_path.iterdir()) == [target]
    assert mode(target) == 0o666 & ~_umask()


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


# --- the source: one writer ------------------------------------------------------------------

#: Calls that write a file (or move one into place) outside the one writer.
WRITER_CALLS = {"mkstemp", "NamedTemporaryFile", "fsync", "write_text", "write_bytes"}
#: Modules allowed one of them, and why.
ALLOWED = {
    ("bench/records.py", "fsync"): "the journal is appended to, not replaced",
    ("bench/data/download.py", "replace"): "a verified download is moved into place",
    ("bench/data/download.py", "write_text"): "a download's resume state, rewritten each try",
    ("bench/data/store.py", "replace"): "an extracted dataset folder is moved into place",
    ("bench/suites/pin.py", "write_text"): "the user's own suite file is edited in place",
}


def _writer_calls(tree: ast.AST) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name = node.func.attr
        moves = name in ("replace", "rename") and (
            (isinstance(node.func.value, ast.Name) and node.func.value.id == "os")
            or len(node.args) == 1  # Path.replace(target); str.replace takes two
        )
        if name in WRITER_CALLS or moves:
            found.append((name, node.lineno))
    return found


def test_no_module_but_bench_atomic_writes_files_its_own_way():
    offenders = []
    for package in PACKAGES:
        for file in sorted((REPO / package).rglob("*.py")):
            rel = file.relative_to(REPO).as_posix()
            if rel == "bench/atomic.py":
                continue
            for name, line in _writer_calls(ast.parse(file.read_text())):
                if (rel, name) not in ALLOWED:
                    offenders.append(f"{rel}:{line} {name}")
    assert not offenders, "write through bench.atomic instead: " + ", ".join(offenders)


def _top_level_imports(path) -> set[str]:
    tree = ast.parse(path.read_text())
    imported = set()
    for node in tree.body:  # what importing the module runs (not imports inside functions)
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    return imported


def test_bench_atomic_imports_only_the_standard_library():
    stdlib = sys.stdlib_module_names | {"__future__"}
    assert _top_level_imports(REPO / "bench" / "atomic.py") <= stdlib
    # The package itself (its API is imported on first use): importing it is free.
    assert _top_level_imports(REPO / "bench" / "__init__.py") <= stdlib


def test_an_error_that_names_no_file_is_given_the_target_s_name(tmp_path):
    """A write to a full disk raises ENOSPC without a file name; the user's error needs one."""
    target = tmp_path / "images" / "out.png"
    with pytest.raises(OSError) as raised, atomic_file(target, "wb"):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert raised.value.filename == str(target)
    assert disk_error(raised.value).args[0].startswith(f"{target}: no space left on the device;")

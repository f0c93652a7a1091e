"""Nightly baselines and history, then the real `bench nightly` / `bench compare` CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stylebench.errors import BenchError
from stylebench.nightly import HISTORY, pick_baseline, read_history
from tests.conftest import write_tiny_suite

BENCH = str(Path(sys.executable).with_name("bench"))


def entry(run_id: str, good: bool = True, tags: tuple[str, ...] = ()) -> dict:
    return {"run_id": run_id, "record": f"/runs/{run_id}/record.json", "good": good, "tags": tags}


def test_last_good_skips_regressed_nights_and_the_run_itself():
    history = [entry("a"), entry("b", good=False), entry("c")]
    assert pick_baseline(history, "last-good", "d") == Path("/runs/c/record.json")
    assert pick_baseline(history, "last-good", "c") == Path("/runs/a/record.json")
    assert pick_baseline([entry("c")], "last-good", "c") is None


def test_tagged_and_named_baselines(tmp_path):
    history = [entry("a", tags=("release-1",)), entry("b")]
    assert pick_baseline(history, "tag:release-1", "c") == Path("/runs/a/record.json")
    with pytest.raises(BenchError, match="no nightly is tagged 'nope'; tags: release-1"):
        pick_baseline(history, "tag:nope", "c")
    assert pick_baseline(history, str(tmp_path), "c") == tmp_path
    with pytest.raises(BenchError, match="--baseline missing"):
        pick_baseline(history, "missing", "c")


def test_history_keeps_the_newest_line_of_a_rerun_and_names_a_bad_line(tmp_path):
    lines = [entry("a", good=False), entry("b"), entry("a")]
    (tmp_path / HISTORY).write_text("".join(json.dumps(e) + "\n" for e in lines))
    assert [(e["run_id"], e["good"]) for e in read_history(tmp_path)] == [("b", True), ("a", True)]
    with (tmp_path / HISTORY).open("a") as handle:
        handle.write("{oops\n")
    with pytest.raises(BenchError, match="history.jsonl line 4 is not JSON"):
        read_history(tmp_path)


def bench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([BENCH, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_nightly_gates_on_a_regression_and_compare_agrees(tmp_path):
    suite = write_tiny_suite(tmp_path, metrics=["content_loss", "style_loss", "latency"])
    history = tmp_path / "nightly"
    first = bench("nightly", "--suite", str(suite), "--history", str(history), "--tag", "v1",
                  cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0, first.stdout + first.stderr
    assert "no baseline yet" in first.stdout
    run_dir = next((history / "runs").glob("tiny-*"))
    assert (history / "trend.html").is_file() and (run_dir / "regressions.txt").read_text() == ""

    # A baseline that was better on every image: tonight's identical run regressed against it.
    better = tmp_path / "better"
    shutil.copytree(run_dir, better)
    record = json.loads((better / "record.json").read_text())
    record["run_id"] = "tiny-better"
    for cell in record["cells"]:
        cell["scores"]["content_loss"] *= 0.5
    (better / "record.json").write_text(json.dumps(record))
    second = bench("nightly", "--suite", str(suite), "--history", str(history),
                   "--baseline", str(better), cwd=tmp_path)  # fmt: skip
    assert second.returncode == 1, second.stdout + second.stderr
    assert "REGRESSED" in second.stderr and "Traceback" not in second.stderr
    assert (run_dir / "regressions.txt").read_text().startswith("gatys content_loss:")
    assert (history / "regressions.txt").read_text() == (run_dir / "regressions.txt").read_text()
    comparison = json.loads((run_dir / "comparison.json").read_text())
    assert comparison["baseline"] == "tiny-better" and comparison["regressed"] == 1
    assert 'id="comparison"' in (run_dir / "report.html").read_text()
    nights = read_history(history)
    assert [n["good"] for n in nights] == [False]  # the rerun replaced its first line
    third = bench("nightly", "--suite", str(suite), "--history", str(history),
                  "--baseline", "tag:v1", cwd=tmp_path)  # fmt: skip
    assert third.returncode == 2 and "no nightly is tagged 'v1'" in third.stderr

    same = bench("compare", str(run_dir), str(run_dir), "--format", "json", cwd=tmp_path)
    assert same.returncode == 0 and json.loads(same.stdout)["regressed"] == 0
    assert json.loads(same.stdout)["what_changed_text"][0].endswith("; nothing else differs")
    worse = bench("compare", str(better), str(run_dir), "--fail-on-regression",
                  "--format", "markdown", "--html", str(tmp_path / "c.html"), cwd=tmp_path)  # fmt: skip
    assert worse.returncode == 1 and "| gatys | content_loss ↓ |" in worse.stdout
    assert worse.stdout.index("**What changed**") < worse.stdout.index("| method |")
    assert "regressed" in (tmp_path / "c.html").read_text()
    assert 'id="what-changed"' in (tmp_path / "c.html").read_text()
    table = bench("compare", str(better), str(run_dir), cwd=tmp_path)  # into a pipe, as in CI
    row = next(line for line in table.stdout.splitlines() if "content_loss" in line)
    assert "│ gatys" in row and "regressed" in row and "…" not in table.stdout
    assert table.stdout.startswith("What changed:\n  commit ")
    bad = bench("compare", str(better), str(run_dir), "--threshold", "lpips", cwd=tmp_path)
    assert bad.returncode == 2 and "METRIC=FRACTION" in bad.stderr


def test_each_night_measures_afresh_and_compares_with_the_night_before(tmp_path):
    """Two nights on one commit and one config: the second night is its own run (every cell
    computed again), compared with the first (identical config: nothing regressed, and what
    changed says so), and the history holds one line per night, also after a rerun."""
    metrics = ["content_loss", "style_loss", "latency", "peak_memory", "throughput",
               "prepare_time"]  # fmt: skip
    suite = write_tiny_suite(tmp_path, metrics=metrics)
    history = tmp_path / "nightly"
    nights = {}
    # A loaded CI machine can slow one night's cells several-fold: this test is about measuring
    # afresh, not about latency noise (tests/reports/test_gate_statistics.py is), so latency
    # gets a wide threshold.
    for night in ("2030-01-01", "2030-01-02"):
        done = bench("nightly", "--suite", str(suite), "--history", str(history),
                     "--night", night, "--threshold", "latency=10", cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        nights[night] = done.stdout
    assert "no baseline yet" in nights["2030-01-01"]
    second = nights["2030-01-02"]
    assert "no baseline yet" not in second
    assert "0 regressed" in second and "nothing else differs" in second
    runs = sorted((history / "runs").glob("tiny-*"))
    assert len(runs) == 2
    for run in runs:  # both nights computed both cells, each into its own journal
        assert len((run / "journal.jsonl").read_text().splitlines()) == 2
    first_id = json.loads((runs[0] / "record.json").read_text())["run_id"]
    entries = read_history(history)
    assert [e["night"] for e in entries] == ["2030-01-01", "2030-01-02"]
    assert entries[1]["baseline"] in {r.name for r in runs} - {entries[1]["run_id"]}
    assert first_id in {e["run_id"] for e in entries}
    rerun = bench("nightly", "--suite", str(suite), "--history", str(history),
                  "--night", "2030-01-02", "--threshold", "latency=10", cwd=tmp_path)  # fmt: skip
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert len((history / HISTORY).read_text().splitlines()) == 2
    comparison = json.loads(
        (history / "runs" / entries[1]["run_id"] / "comparison.json").read_text()
    )
    assert comparison["regressed"] == 0
    once = {
        c["metric"]: c
        for c in comparison["changes"]
        if c["metric"] in ("throughput", "prepare_time")
    }
    assert {c["verdict"] for c in once.values()} == {"not compared"}

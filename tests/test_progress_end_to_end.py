"""`bench run` never goes silent: plain lines in a log, live bars on a terminal (real Ray)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time

from tests.conftest import write_tiny_suite
from tests.test_end_to_end import BENCH

STEPS = 150  # about 15 s of training at 32 px on an idle 2-core CPU, 1-3 minutes when loaded
#: The longest a log may stay silent: progress prints a status line whenever nothing was
#: printed for 5 s (`bench.progress.PLAIN_INTERVAL_S`, checked every second), doubled for a
#: shared 2-core machine where the driver competes with the Ray workers for the CPU.
MAX_GAP_S = 12.0


def _suite(tmp_path):
    return write_tiny_suite(
        tmp_path,
        methods={
            "gatys": {"steps": 3},
            "johnson": {"steps": STEPS, "batch_size": 2, "image_size": 32},
        },
        training={"content": {"generate": "scenes", "count": 3, "first": 50}},
    )


def test_a_log_gets_training_progress_with_an_eta_and_never_a_long_silence(tmp_path):
    suite = _suite(tmp_path)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [BENCH, "run", "--suite", str(suite), "--out", str(tmp_path / "out")]
    start = time.monotonic()
    process = subprocess.Popen(
        [*command, "--workers", "2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []  # (seconds since start, line), timed as each line arrives through the pipe
    assert process.stderr is not None
    for line in process.stderr:
        lines.append((time.monotonic() - start, line.rstrip("\n")))
    assert process.wait(timeout=60) == 0, "\n".join(text for _, text in lines)
    text = [line for _, line in lines]
    log = "\n".join(f"{t:6.1f} {line}" for t, line in lines)

    assert not any("Token authentication" in line for line in text), log
    trained = next(i for i, line in enumerate(text) if line.startswith("trained johnson/"))
    steps = [
        re.fullmatch(rf"training johnson/\S+: step (\d+)/{STEPS}, loss \S+, ETA (\S+)", line)
        for line in text[:trained]
    ]
    steps = [m for m in steps if m]
    assert steps, f"no training progress before the training finished:\n{log}"
    early = [m for m in steps if int(m[1]) <= STEPS // 2]
    assert any(re.fullmatch(r"\d+:\d\d:\d\d", m[2]) for m in early), log
    assert any(line.startswith("[4/4] ") for line in text)  # the last cell, always printed
    gaps = [b - a for (a, _), (b, _) in zip([(0.0, ""), *lines], lines, strict=False)]
    assert max(gaps) <= MAX_GAP_S, log


def test_a_terminal_gets_a_bar_per_training_job_and_a_cells_bar(tmp_path):
    suite = _suite(tmp_path)
    log = tmp_path / "terminal.log"
    command = shlex.join(
        [BENCH, "run", "--suite", str(suite), "--out", str(tmp_path / "out"), "--retrain"]
    )
    subprocess.run(
        ["script", "-qec", command, str(log)],
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "140", "TERM": "xterm"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        check=True,
        timeout=600,
    )
    screen = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", log.read_text(errors="replace"))
    frames = re.split(r"[\r\n]", screen)
    bar = "━"
    training = [f for f in frames if "johnson/" in f and bar in f and " step " in f]
    assert any(re.search(rf"step \d+/{STEPS}, loss \S+ ETA \d+:\d\d:\d\d", f) for f in training)
    assert any(f.lstrip(" ⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏").startswith("cells") and bar in f for f in frames)
    assert any("starting Ray" in f and bar in f for f in frames)  # the live status line

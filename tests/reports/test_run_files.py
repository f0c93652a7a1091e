"""Reports read only files inside the run folder: a record that names anything else (an absolute
path, ``..``, a symlink out) gets a warning, and the rest of the report still renders."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from stylebench.reports.html import write_report
from tests.reports.records import synthetic_record, typed

BENCH = str(Path(sys.executable).with_name("bench"))


def embedded(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def hand_edited(run_dir: Path, secret: Path) -> tuple[dict, list[str]]:
    """A record of 4 cells whose first three outputs and one input lead outside ``run_dir``."""
    record = synthetic_record(run_dir, ["a.png", "b.png"], ["s.png"], {"m": 0.1, "n": 0.2})
    Image.fromarray(np.full((16, 16, 3), 7, np.uint8)).save(secret)
    (run_dir / "images" / "link.png").symlink_to(secret)
    names = ["/etc/passwd", f"../{secret.name}", "images/link.png", str(secret)]
    for cell, name in zip(record["cells"][:3], names[:3], strict=True):
        cell["output"] = name
    record["suite"]["style"][0]["input"] = names[3]
    return record, names


def test_a_report_embeds_only_files_inside_the_run_folder(tmp_path, capsys):
    run_dir = tmp_path / "run"
    record, names = hand_edited(run_dir, tmp_path / "secret.png")
    kept = run_dir / record["cells"][3]["output"]
    html = write_report(typed(record), run_dir).read_text()
    assert embedded(tmp_path / "secret.png") not in html
    assert embedded(Path("/etc/passwd")) not in html
    assert embedded(kept) in html  # the rest of the report is there
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning:" in line]
    assert len(warnings) == len(names)  # once each, though the grid and the page both look
    for name in names:
        (line,) = [line for line in warnings if f" names {name}, " in line]
        assert str(run_dir / "record.json") in line and "outside the run folder" in line
    assert "outside the run folder" in html  # the reader of the report is told too


def test_compare_html_with_a_hand_edited_record_warns_and_writes_the_report(tmp_path):
    base = tmp_path / "base"
    write = synthetic_record(base, ["a.png", "b.png"], ["s.png"], {"m": 0.1, "n": 0.2})
    (base / "record.json").write_text(json.dumps(write))
    cand = tmp_path / "cand"
    record, names = hand_edited(cand, tmp_path / "secret.png")
    (cand / "record.json").write_text(json.dumps(record))
    report = tmp_path / "report.html"
    result = subprocess.run(
        [BENCH, "compare", str(base), str(cand), "--html", str(report)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert all(name in result.stderr for name in names)
    assert embedded(tmp_path / "secret.png") not in report.read_text()

"""The built-in styleid suite through the real CLI, Ray and MLflow, on a copy of the StyleID
protocol's real inputs (passed with --data-dir, as a user with a copy would), shrunk by --set
to a few pairs at 64 px so that it runs in a test; README gives the full command."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from stylebench.data.styleid_files import FILES
from tests.conftest import REPO
from tests.test_end_to_end import bench

SHARED = REPO.parent / "shared" / "styleid"


def test_styleid_runs_from_a_local_copy_and_records_the_protocol_inputs(tmp_path):
    if not (SHARED / "cnt").is_dir():
        pytest.skip(f"the StyleID inputs are not at {SHARED}")
    data = tmp_path / "data"
    for path in FILES:
        (data / "styleid" / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SHARED / path, data / "styleid" / path)
    out = tmp_path / "out"
    result = bench(
        "run", "--suite", "styleid", "--data-dir", str(data), "--weights", "random",
        "--methods", "gatys,adain", "--out", str(out), "--workers", "2",
        "--set", "content.count=2", "--set", "style.count=2", "--set", "image_size=64",
        "--set", "training.content.count=4", "--set", "training.style.count=4",
        "--set", "gatys.steps=2", "--set", "adain.preset=smoke",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "adain: preset smoke, steps 10" in result.stderr  # the smoke budget, not monet's
    (record_file,) = out.glob("styleid-*/record.json")
    record = json.loads(record_file.read_text())
    assert (record["suite"]["name"], record["suite"]["version"]) == ("styleid", 2)
    assert record["suite"]["datasets"]["styleid"]["files_sha256"]
    names = [(image["name"], image["sha256"]) for image in record["suite"]["content"]]
    assert names == [(path, FILES[path]) for path in ("cnt/00.png", "cnt/01.png")]
    assert record["status"] == "complete" and len(record["cells"]) == 8
    fid = record["methods"]["adain"]["set_scores"]["fid"]
    assert (fid["n"], fid["n_reference"]) == (4, 2) and fid["interval"]["resamples"] == 100
    # The protocol's variants, named apart: each output paired with its own style image.
    scores = record["methods"]["gatys"]["set_scores"]
    fid_styleid, artfid_styleid = scores["fid_styleid"], scores["artfid_styleid"]
    assert (fid_styleid["n"], fid_styleid["n_reference"]) == (4, 4)
    assert fid_styleid["details"]["variant"] == "styleid" and fid_styleid["value"] > 0
    assert artfid_styleid["details"]["fid"] == fid_styleid["value"]
    lpips = [
        cell["scores"]["lpips_styleid"] for cell in record["cells"] if cell["method"] == "gatys"
    ]
    assert artfid_styleid["details"]["lpips_mean"] == pytest.approx(sum(lpips) / 4)
    networks = record["weights"]["networks"]
    assert any(w["network"] == "art_inception" and w["random"] for w in networks)
    run_dir = record_file.parent
    pairs = [
        np.load(run_dir / "features" / f"{c['id']}.art_inception.npy") for c in record["cells"]
    ]
    assert all(p.shape == (2, 2048) and np.isfinite(p).all() for p in pairs)
    # art-fid reads images at their own size: 64 px is below Inception's 75, so its variant
    # is an error that says so, and every cell still finished.
    assert "at least 75 px" in scores["fid_reference"]["error"]
    assert scores["artfid_reference"]["value"] is None

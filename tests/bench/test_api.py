"""The Python API: its docstring examples run, and each function gives what the CLI gives."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys

import torch

import stylebench
from stylebench import api
from stylebench.suites import procedural
from tests.conftest import write_tiny_suite


def test_the_docstring_examples_run():
    failures, tried = doctest.testmod(api, optionflags=doctest.ELLIPSIS)
    assert tried >= 4 and failures == 0


def test_importing_a_method_does_not_import_the_harness():
    script = "import sys, stylebench.methods.gatys; print('stylebench.api' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr


def test_stylize_and_score_match_the_methods_and_metrics_used_directly(context):
    content = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    style = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    out = stylebench.stylize(content, style, "gatys", {"steps": 3}).images
    assert out.shape == content.shape and out.min() >= 0 and out.max() <= 1
    trained = stylebench.stylize(
        content, style[:1].expand(2, -1, -1, -1), "johnson", {"preset": "smoke"}, training=content
    )
    assert trained.images.shape == content.shape
    assert stylebench.score(out, content, style, "style_loss").shape == (2,)


def test_set_scores_of_two_folders(tmp_path):
    for sub, draw in (("out", procedural.painting), ("ref", procedural.scene)):
        (tmp_path / sub).mkdir()
        for i in range(3):
            draw(i, 48).save(tmp_path / sub / f"{i}.png")
    scores = stylebench.set_scores(tmp_path / "out", tmp_path / "ref", ("fid", "kid"), size=32)
    assert scores["fid"].value > 0 and scores["fid"].n == 3 and scores["kid"].n_reference == 3
    artfid = stylebench.set_scores(
        tmp_path / "out", tmp_path / "ref", ("artfid",), content=tmp_path / "ref", size=32
    )["artfid"]
    assert artfid.value is not None and artfid.value > 1


def test_run_returns_the_typed_record_of_the_run_folder(tmp_path):
    from stylebench.record_model import RunRecord

    suite = write_tiny_suite(tmp_path, {"gatys": {"steps": 2}}, metrics=["content_loss"])
    record = stylebench.run(str(suite), out=tmp_path / "out", workers=1)
    assert isinstance(record, RunRecord) and record.status == "complete"
    (run_dir,) = (tmp_path / "out").glob("tiny-*")
    on_disk = json.loads((run_dir / "record.json").read_text())
    assert [c.scores for c in record.cells] == [c["scores"] for c in on_disk["cells"]]
    assert record.methods["gatys"].cells_ok == 2 and record.tracking is not None

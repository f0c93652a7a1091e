"""``bench data fetch | verify`` as a user runs them (in-process, against 127.0.0.1)."""

from __future__ import annotations

import dataclasses
import socket

from typer.testing import CliRunner

from stylebench.cli import app
from stylebench.data import catalog

runner = CliRunner()


def test_fetch_then_verify_by_suite_or_dataset_name(tiny_monet, tmp_path):
    fetched = runner.invoke(app, ["data", "fetch", "monet"])
    assert fetched.exit_code == 0, fetched.output
    assert f"monet2photo ready: {tmp_path / 'data' / 'monet2photo'}" in fetched.output
    assert "(recorded, not pinned)" in fetched.output and "testB" in fetched.output
    verified = runner.invoke(app, ["data", "verify", "monet2photo"])
    assert verified.exit_code == 0 and "monet2photo verified" in verified.output
    elsewhere = runner.invoke(app, ["data", "verify", "monet", "--data-dir", str(tmp_path)])
    assert elsewhere.exit_code == 2 and f"monet2photo is not in {tmp_path}" in elsewhere.output


def test_offline_and_unknown_names_are_one_clear_line(tiny_monet, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spec = dataclasses.replace(catalog.DATASETS["monet2photo"], url=f"http://127.0.0.1:{port}/")
    monkeypatch.setitem(catalog.DATASETS, "monet2photo", spec)
    for args in (["data", "fetch", "monet"], ["validate", "monet"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert "could not be downloaded" in result.output
        assert "run `bench data fetch monet2photo`" in result.output
    unknown = runner.invoke(app, ["data", "fetch", "monet3photo"])
    assert unknown.exit_code == 2 and "did you mean 'monet2photo'" in unknown.output
    smoke = runner.invoke(app, ["data", "fetch", "smoke"])
    assert smoke.exit_code == 2 and "suite smoke reads no dataset" in smoke.output

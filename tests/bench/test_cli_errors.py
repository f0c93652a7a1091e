"""Bad input gets one clear message and a non-zero exit, never a traceback."""

import os
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from typer.testing import CliRunner

from stylebench.cli import app
from stylebench.methods.core.weights import PRETRAINED_URLS
from tests.conftest import write_tiny_suite

runner = CliRunner()


def bench(*args: str):
    return runner.invoke(app, list(args))


@pytest.mark.parametrize(
    "args,message",
    [
        (["run", "--suite", "smokey"], "unknown suite 'smokey': did you mean 'smoke'"),
        (["run", "--methods", "gatsy"], "unknown method 'gatsy': did you mean 'gatys'"),
        (["run", "--suite", "/no/such/folder"], "does not exist"),
        (["run", "--set", "gatys.stepz=3"], r"methods.gatys.stepz"),
        (["run", "--weights", "/no/such.pth"], "weights path '/no/such.pth' does not exist"),
        (["validate", "smoke", "--set", "metrics=[fid_xx]"], "unknown metric 'fid_xx'"),
        (["validate", "smoke", "--set", "gatys.steps=["], r"--set 'gatys.steps=\[': .* not YAML"),
        (
            [
                "run",
                "--methods",
                "semantic",
                "--set",
                "image_size=64",
                "--set",
                "semantic.phases=3",
            ],
            r"methods.semantic at image_size 64: 3 phases make the coarsest image 16x16 px, "
            "smaller than the 24 px",
        ),
    ],
)
def test_bad_input_is_a_clear_error(args, message, tmp_path):
    result = bench(*args, "--out", str(tmp_path)) if args[0] == "run" else bench(*args)
    assert result.exit_code == 2, result.output
    assert "error:" in result.output
    assert "Traceback" not in result.output
    import re

    assert re.search(message, result.output.replace("\n", " ")), result.output


def test_messages_are_printed_as_written_brackets_and_all(tmp_path):
    suite = tmp_path / "broken [draft].yaml"
    suite.write_text("name: x\nversion: 1\ncontent: [a, b\n")
    result = bench("validate", str(suite))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"suite {suite} is not valid YAML" in result.output
    assert "content: [a, b" in result.output and "expected ',' or ']'" in result.output


def test_folder_without_style_folder(tmp_path):
    (tmp_path / "content").mkdir()
    result = bench("validate", str(tmp_path))
    assert result.exit_code == 2 and "has no style/ folder" in result.output


def test_validate_reports_unreadable_images_by_name(tmp_path):
    for sub in ("content", "style"):
        (tmp_path / sub).mkdir()
    (tmp_path / "content" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (tmp_path / "style" / "empty.png").write_bytes(b"")
    result = bench(
        "validate", str(tmp_path), "--set", "image_size=32", "--set", "semantic.phases=1"
    )
    assert result.exit_code == 2
    assert "broken.jpg" in result.output and "empty.png" in result.output
    assert "Traceback" not in result.output


def test_listings_and_validate(tmp_path):
    listings = {
        "methods": "gatys",
        "metrics": "content_loss",
        "encoders": "vgg19",
        "suites": "smoke",
    }
    for what, expected in listings.items():
        result = bench("ls", what)
        assert result.exit_code == 0 and expected in result.output
        assert "…" not in result.output  # no word cut short off a terminal
    result = bench("validate", str(write_tiny_suite(tmp_path)))
    assert result.exit_code == 0 and "2 cells" in result.output and "OK" in result.output
    assert bench("--help").exit_code == 0 and bench("run", "--help").exit_code == 0


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["train", "gatys"],
            "gatys: not trained methods; "
            "trained methods: adaattn, adain, cin, cyclegan, ghiasi, johnson, sanet, stytr2, wct",
        ),
        (["run", "--checkpoint", "johnson"], "expected METHOD=PATH"),
        (["run", "--checkpoint", "gatys=x.pth"], r"methods\.gatys\.checkpoint"),
        (["run", "--checkpoint", "johnson=/no/such.pth"], "/no/such.pth does not exist"),
    ],
)
def test_bad_training_input_is_a_clear_error(args, message, tmp_path):
    result = bench(*args, "--out", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert message in result.output.replace("\n", " ") or re.search(message, result.output)


def test_trained_method_without_training_split_stops_before_compute(tmp_path):
    suite = write_tiny_suite(tmp_path, methods={"johnson": {"steps": 1}})
    result = bench("train", "johnson", "--suite", str(suite), "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "has no training split" in result.output and "--checkpoint johnson=PATH" in result.output
    # `bench validate` finds the same before anyone runs it, with every other problem.
    checked = bench("validate", str(suite), "--set", "cin.checkpoint=/no/such.pth")
    assert checked.exit_code == 2 and "Traceback" not in checked.output
    output = checked.output.replace("\n", " ")
    assert "'johnson' is trained but suite" in output and "/no/such.pth does not exist" in output


@pytest.mark.parametrize(
    "text,message",
    [
        ("name: caf\xe9\nversion: 1\n".encode("latin-1"), "is not UTF-8 text"),
        (b"name: x\ncontent: " + b"[" * 10_000 + b"]" * 10_000 + b"\n", "is nested too deeply"),
        (b"name: x\ncontent: " + b"[" * 500 + b"]" * 500 + b"\n", "is nested too deeply"),
        (b"name: x\nversion: 1\ncontent: " + b"{a: " * 2_000 + b"1" + b"}" * 2_000, "nested"),
    ],
)
def test_unreadable_suite_yaml_is_one_line_naming_the_file(text, message, tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_bytes(text)
    for args in (["validate", str(suite)], ["run", "--suite", str(suite), "--out", str(tmp_path)]):
        result = bench(*args)
        assert result.exit_code == 2, result.output
        assert isinstance(result.exception, SystemExit), repr(result.exception)
        assert result.stderr.count("\n") == 1, result.stderr
        assert f"error: suite {suite} " in result.stderr and message in result.stderr


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Turn a hang (e.g. opening a named pipe nobody writes) into a failure."""

    def stop(*_: object) -> None:
        raise TimeoutError(f"still waiting after {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


UNUSABLE = {
    "folder": "is a folder, not a checkpoint file",
    "named pipe": "is a named pipe, not a checkpoint file",
    "empty file": "is empty (0 bytes); the download or copy was interrupted",
}


def _unusable(path, kind: str) -> None:
    if kind == "folder":
        path.mkdir()
    elif kind == "named pipe":
        os.mkfifo(path)
    else:
        path.write_bytes(b"")


@pytest.mark.parametrize("kind", list(UNUSABLE))
def test_weights_and_checkpoint_paths_that_are_not_files_say_what_they_are(kind, tmp_path):
    path = tmp_path / "net.pth"
    _unusable(path, kind)
    folder = tmp_path / "hub"  # a folder of weights whose checkpoints are all `kind`
    folder.mkdir()
    for url in PRETRAINED_URLS.values():
        _unusable(folder / url.rsplit("/", 1)[-1], kind)
    cases = [
        (["--methods", "johnson", "--checkpoint", f"johnson={path}"], path),
        (["--weights", str(folder)], folder),
    ]
    if kind != "folder":  # a folder is a valid --weights (of checkpoints named as in the hub)
        cases.append((["--weights", str(path)], path))
    for args, named in cases:
        for command in ("run", "validate"):
            where = ["--out", str(tmp_path / "out")] if command == "run" else []
            with deadline(60):
                result = bench(
                    command, *(["smoke"] if command == "validate" else []), *args, *where
                )
            assert result.exit_code == 2, (args, result.output, result.exception)
            assert isinstance(result.exception, SystemExit), repr(result.exception)
            output = result.stderr.replace("\n", " ")
            assert str(named) in output and UNUSABLE[kind] in output, output
            assert "does not exist" not in output


def test_a_metric_whose_package_is_missing_stops_the_run_before_compute(tmp_path, monkeypatch):
    """With random weights no preflight loads a metric's network: the package check says it."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "transformers" else real(name, *args),
    )
    result = bench(
        "run", "--methods", "gatys", "--weights", "random", "--out", str(tmp_path),
        "--set", "metrics=[lpips,dino_content]",
    )  # fmt: skip
    assert result.exit_code != 0
    assert (
        "metric 'dino_content' needs the Python package 'transformers', which is not "
        "installed: pip install 'stylebench[embeddings]'"
    ) in result.output
    assert "Traceback" not in result.output and not list(tmp_path.glob("smoke-*"))

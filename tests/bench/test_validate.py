"""`bench validate` checks what `bench run` will do: the same selection flags, the same preflight,
and settings that can only be mistakes are refused by both, naming the key."""

import pytest
from typer.testing import CliRunner

from stylebench.cli import app
from stylebench.methods.base import resolve_config
from stylebench.registry import METHODS

runner = CliRunner()


def _refused(result, *says: str) -> str:
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # no traceback
    text = result.stderr.replace("\n", " ")
    assert text.startswith("error: ") and all(s in text for s in says), text
    return text


@pytest.mark.parametrize(
    "setting,says",
    [
        ("gatys.steps=1000000000", "methods.gatys.steps: 1000000000 is more than 1000000"),
        ("gatys.lr=inf", "methods.gatys.lr: 'inf' is not a finite number"),
        ("gatys.lr=.inf", "methods.gatys.lr: inf is not a finite number"),
        ("gatys.style_weight=.nan", "methods.gatys.style_weight: nan is not a finite number"),
        ("gatys.content_weight=-1", "methods.gatys.content_weight: -1 is less than 0"),
        ("gatys.style_layer_weights=[1,1,1,1,-2]", "methods.gatys.style_layer_weights.4: -2"),
        ("semantic.steps=5000000", "methods.semantic.steps: 5000000 is more than 1000000"),
        ("johnson.steps=1000000000", "methods.johnson.steps: 1000000000 is more than 100000000"),
        ("johnson.batch_size=100000", "methods.johnson.batch_size: 100000 is more than 1024"),
        ("johnson.image_size=100000", "methods.johnson.image_size: 100000 is more than 4096"),
        ("cin.tv_weight=-0.5", "methods.cin.tv_weight: -0.5 is less than 0"),
    ],
)
def test_settings_that_can_only_be_mistakes_are_refused_by_validate_and_run(
    setting, says, tmp_path
):
    method = setting.split(".")[0]
    _refused(runner.invoke(app, ["validate", "smoke", "--set", setting]), says)
    result = runner.invoke(
        app, ["run", "--methods", method, "--set", setting, "--out", str(tmp_path)]
    )
    _refused(result, says)


def test_every_preset_is_within_the_bounds():
    for name in METHODS.names():
        method = METHODS.get(name)
        for preset in method.presets:
            resolve_config(method, {"preset": preset})


def test_validate_refuses_weights_that_run_refuses(tmp_path):
    _refused(
        runner.invoke(app, ["validate", "smoke", "--weights", "/nonexistent.pth"]),
        "weights path '/nonexistent.pth' does not exist",
    )
    empty = tmp_path / "vgg.pth"
    empty.write_bytes(b"")
    for command in (["validate", "smoke"], ["run", "--out", str(tmp_path / "out")]):
        _refused(
            runner.invoke(app, [*command, "--weights", str(empty)]),
            f"{empty}",
            "is empty (0 bytes)",
        )
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file")
    _refused(
        runner.invoke(app, ["validate", "smoke", "--weights", str(garbage)]),
        f"cannot read weights file {garbage}",
    )


def test_validate_takes_runs_selection_flags(tmp_path):
    only = runner.invoke(app, ["validate", "smoke", "--methods", "gatys"])
    assert only.exit_code == 0, only.output
    assert "methods gatys, 6 cells" in only.output and "OK" in only.output  # 4 + 2 blend
    _refused(
        runner.invoke(app, ["validate", "smoke", "--methods", "gatsy"]),
        "unknown method 'gatsy'",
    )
    checkpoint = tmp_path / "johnson.pth"
    _refused(
        runner.invoke(
            app,
            ["validate", "smoke", "--methods", "johnson", "--checkpoint", f"johnson={checkpoint}"],
        ),
        f"methods.johnson.checkpoint: {checkpoint} does not exist",
    )
    data = runner.invoke(
        app, ["validate", "smoke", "--methods", "gatys", "--data-dir", str(tmp_path)]
    )
    assert data.exit_code == 0, data.output


def test_each_methods_budget_is_printed_and_a_paper_budget_on_a_cpu_is_warned_about():
    smoke = runner.invoke(app, ["validate", "smoke"])
    assert smoke.exit_code == 0, smoke.output
    for name in METHODS.builtin_names():
        assert f"{name}: preset smoke, steps " in smoke.output
    assert "cyclegan_reverse: the style_to_photo generator of cyclegan's training" in smoke.output
    assert "warning" not in smoke.output
    paper = runner.invoke(
        app, ["validate", "smoke", "--methods", "johnson", "--set", "johnson.preset=paper"]
    )
    assert paper.exit_code == 0, paper.output
    assert "johnson: preset paper, steps 40,000, image_size 256" in paper.output
    assert "johnson trains at its paper budget (40,000 steps) on a machine without a GPU" in (
        paper.output
    )


def test_validate_shows_each_blend_and_every_method_that_cannot_blend():
    result = runner.invoke(app, ["validate", "smoke", "--methods", "gatys,johnson,cyclegan"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    blend = "blend b-painting_00_painting_01: 0.7 x painting_00.png + 0.3 x painting_01.png"
    assert blend in lines
    cannot = [line for line in lines if "cannot blend" in line]
    assert cannot == [
        f"{name}: cannot blend styles; not run on the 1 blend(s)"
        for name in ("johnson", "cyclegan", "cyclegan_reverse")
    ]

"""Progress off a terminal: plain lines, never silent for long, never a line per step."""

import io

from rich.console import Console

from stylebench.progress import RunProgress, TrainingStep


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def plain(clock: Clock) -> tuple[RunProgress, io.StringIO]:
    stream = io.StringIO()
    console = Console(file=stream, width=200, soft_wrap=True)
    assert not console.is_terminal
    return RunProgress(console, interval_s=5.0, clock=clock, heartbeat=False), stream


def test_a_failed_cell_line_keeps_its_error_as_written():
    clock = Clock()
    progress, stream = plain(clock)
    with progress:
        progress.start_cells(2, 0, {"gatys/c-a/s-b": ("gatys", 3), "gatys/c-a/s-c": ("gatys", 3)})
        clock.now += 6
        progress.cell_done("gatys/c-a/s-b", True, "0.52s", 1.0)
        progress.cell_done("gatys/c-a/s-c", False, "ValueError: expected [batch, channels]", None)
    lines = stream.getvalue().splitlines()
    assert "[1/2] gatys/c-a/s-b ok 0.52s (ETA 0:00:01)" in lines
    assert "[2/2] gatys/c-a/s-c FAILED ValueError: expected [batch, channels]" in lines


def test_training_prints_its_step_loss_and_eta_every_interval_and_not_every_step():
    clock = Clock()
    progress, stream = plain(clock)
    with progress:
        progress.note("training 1 job")
        progress.add_jobs({"k": ("johnson", "johnson/s-starry", 1000)})
        for step in range(1, 201):  # 0.125 s a step, reported every step
            clock.now += 0.125
            progress.training_step("k", TrainingStep(step, 1000, 2.5, (step - 1) * 0.125, 1))
            progress.tick()
        progress.job_done(
            {
                "key": "k",
                "label": "johnson/s-starry",
                "source": "trained",
                "seconds": 100.0,
                "device": "cpu",
            }
        )
    lines = stream.getvalue().splitlines()
    steps = [line for line in lines if line.startswith("training johnson/s-starry: step")]
    assert len(steps) == 5  # 25 s of training, a line every 5 s after the note
    assert steps[0] == "training johnson/s-starry: step 40/1000, loss 2.5, ETA 0:02:00"
    assert lines[-1] == "trained johnson/s-starry in 100.0s on cpu"


def test_a_quiet_phase_still_says_what_it_is_doing():
    clock = Clock()
    progress, stream = plain(clock)
    with progress:
        progress.note("starting a local Ray instance")
        for _ in range(24):
            clock.now += 0.5
            progress.tick()
    assert stream.getvalue().splitlines() == [
        "starting a local Ray instance",
        "starting a local Ray instance (0:00:05)",
        "starting a local Ray instance (0:00:10)",
    ]


def test_ok_cells_are_summarised_at_most_once_an_interval_with_a_cost_model_eta():
    clock = Clock()
    progress, stream = plain(clock)
    costs = {f"gatys/{i}": ("gatys", 100) for i in range(10)} | {"johnson/0": ("johnson", 1)}
    with progress:
        progress.workers(2)
        progress.start_cells(11, 0, costs)
        for i in range(10):
            clock.now += 1.0
            progress.cell_done(f"gatys/{i}", True, "1.00s", 2.0)
            progress.tick()
        clock.now += 1.0
        progress.cell_done("johnson/0", True, "0.01s", 0.01)
    lines = stream.getvalue().splitlines()
    # 5 gatys cells x 2 s and 1 feed-forward pass at the measured 0.02 s a unit, on 2 workers
    assert lines[0] == "[5/11] gatys/4 ok 1.00s (ETA 0:00:05)"
    assert lines[-1] == "[11/11] johnson/0 ok 0.01s"
    assert len(lines) == 3


def test_a_training_task_reports_its_first_step_then_every_interval_and_its_last():
    from stylebench.training_task import StepReporter

    clock, reports = Clock(), []
    reporter = StepReporter(reports.append, every_s=2.0, clock=clock)
    for step in range(1, 11):
        clock.now += 0.5
        reporter(step, 10, {"total": 1.5, "style": 0.5})
    assert [r.step for r in reports] == [1, 5, 9, 10]
    assert reports[1] == TrainingStep(step=5, steps=10, loss=1.5, seconds=2.0, since=1)

"""Progress off a terminal: one plain line per cell, its error as written."""

import io

from rich.console import Console

from stylebench.progress import CellProgress


def test_a_failed_cell_line_keeps_its_error_as_written():
    stream = io.StringIO()
    console = Console(file=stream, width=200, soft_wrap=True)
    assert not console.is_terminal
    with CellProgress(total=2, console=console) as progress:
        progress.advance("gatys/c-a/s-b", True, "0.52s")
        progress.advance("gatys/c-a/s-c", False, "ValueError: expected [batch, channels] got [c]")
    lines = stream.getvalue().splitlines()
    assert "[1/2] gatys/c-a/s-b ok 0.52s" in lines
    assert "[2/2] gatys/c-a/s-c FAILED ValueError: expected [batch, channels] got [c]" in lines

"""Progress bars: cells of a run, bytes of a download (live on a terminal, plain lines in logs)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


class CellProgress:
    """Cells done / failed / total with an ETA."""

    def __init__(self, total: int, already_done: int = 0, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, soft_wrap=True, highlight=False)
        self.total = total
        self.done = already_done
        self.failed = 0
        self._progress = Progress(
            TextColumn("[bold]cells"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._task = self._progress.add_task("cells", total=total, completed=already_done, failed=0)

    def __enter__(self) -> CellProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def advance(self, cell_id: str, ok: bool, detail: str = "") -> None:
        self.done += 1
        self.failed += 0 if ok else 1
        self._progress.update(self._task, advance=1, failed=self.failed)
        if not self.console.is_terminal:
            status = "ok" if ok else "FAILED"
            self.console.print(
                f"[{self.done}/{self.total}] {cell_id} {status} {detail}",
                highlight=False,
                markup=False,  # the detail may be an error message with [brackets]
            )


class ByteProgress:
    """Bytes downloaded of a file, with speed and ETA; ``update`` fits `bench.data.download`."""

    def __init__(self, label: str, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, soft_wrap=True, highlight=False)
        self._progress = Progress(
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._task = self._progress.add_task(label, total=None)

    def __enter__(self) -> ByteProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, done: int, total: int | None) -> None:
        self._progress.update(self._task, completed=done, total=total)


def print_job(entry: dict, console: Console | None = None) -> None:
    """One line per training job: trained (time, device), reused from the cache, loaded, failed."""
    console = console or Console(stderr=True, soft_wrap=True, highlight=False)
    label, source = entry["label"], entry["source"]
    if source == "trained":
        text = f"trained {label} in {entry['seconds']:.1f}s on {entry['device']}"
    elif source == "cache":
        text = f"reused {label}: cached checkpoint {entry['key'][:12]} (no training)"
    elif source == "file":
        text = f"loaded {label} from {entry['path']}"
    else:
        text = f"[red]training {escape(label)} FAILED[/]: {escape(str(entry.get('error')))}"
    console.print(text, highlight=False, markup=source == "failed")

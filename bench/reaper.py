"""A watcher that stops a local Ray instance whose driver died without stopping it.

``ray.shutdown()`` stops the processes of a local instance, but a driver killed with SIGKILL
(the OOM killer, a scheduler's grace period running out) never gets to call it, and Ray's agents
then run on, orphaned, until someone kills them by hand. The watcher is a separate process in its
own session: it keeps a list of the processes ``ray.init`` started and of their descendants
(Ray's workers and agents) while they live, and when the pipe from the driver closes, by a clean
exit or by death, it stops whatever of that list still runs. Nothing else the driver started
is on the list.

Run as ``python -m bench.reaper PID...``; the driver starts it with `watch`.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time

import psutil

POLL_S = 1.0
GRACE_S = 5.0


def children() -> set[int]:
    """PIDs of this process's children (call before and after ``ray.init``)."""
    return {child.pid for child in psutil.Process().children()}


def watch(roots: set[int]) -> subprocess.Popen:
    """Start a watcher of ``roots`` (the processes Ray started) and their descendants; closing
    its stdin, or this process dying, lets it sweep."""
    return subprocess.Popen(
        [sys.executable, "-m", "stylebench.reaper", *map(str, sorted(roots))],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def release(watcher: subprocess.Popen) -> None:
    """Tell the watcher the driver is done (after ``ray.shutdown()``) and let it sweep."""
    if watcher.stdin is not None:
        watcher.stdin.close()


def _track(known: dict[int, psutil.Process], stop: threading.Event) -> None:
    """Add every descendant of a known process that still runs, once a poll."""
    while not stop.is_set():
        for process in list(known.values()):
            try:
                for child in process.children(recursive=True):
                    known.setdefault(child.pid, child)
            except psutil.Error:
                continue
        stop.wait(POLL_S)


def sweep(processes: list[psutil.Process]) -> None:
    """SIGTERM every process still running, then SIGKILL what is left after a grace period.
    A `psutil.Process` checks its start time, so a recycled PID is never touched."""
    alive = [p for p in processes if p.is_running()]
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, left = psutil.wait_procs(alive, timeout=GRACE_S)
    for process in left:
        with contextlib.suppress(psutil.Error):
            process.kill()


def main(roots: list[int]) -> None:
    known: dict[int, psutil.Process] = {}
    for pid in roots:
        try:
            known[pid] = psutil.Process(pid)
        except psutil.Error:
            continue
    stop = threading.Event()
    tracker = threading.Thread(target=_track, args=(known, stop), daemon=True)
    tracker.start()
    sys.stdin.buffer.read()  # returns at EOF: the driver closed the pipe or died
    stop.set()
    tracker.join()
    time.sleep(0.5)  # a clean shutdown's last exits
    sweep(list(known.values()))


if __name__ == "__main__":
    main([int(pid) for pid in sys.argv[1:]])

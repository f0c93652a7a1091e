"""SIGTERM and SIGHUP handled like Ctrl-C.

Schedulers stop a job with SIGTERM (``timeout``, Slurm, Kubernetes, systemd) and a closed
terminal sends SIGHUP. Both raise `Interrupted`, a `KeyboardInterrupt`, so every path that
keeps finished cells on Ctrl-C (journal, MLflow runs marked KILLED, Ray shut down) keeps them
here too; the process then exits with the shell's convention, 128 + the signal number.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """The process was asked to stop by a signal other than SIGINT."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


#: The signal that stopped this process, if one did. Ray re-raises an interrupt that reaches
#: it inside ``ray.get`` / ``ray.wait`` as a plain KeyboardInterrupt, so the exception alone
#: cannot say which signal it was.
_RECEIVED: list[int] = []


def cause(interrupt: KeyboardInterrupt) -> signal.Signals:
    """The signal behind an interrupt: SIGINT for Ctrl-C."""
    if isinstance(interrupt, Interrupted):
        return signal.Signals(interrupt.signum)
    return signal.Signals(_RECEIVED[0]) if _RECEIVED else signal.SIGINT


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """130 for Ctrl-C, 128 + N for signal N."""
    return 128 + cause(interrupt)


def _raise(signum: int, frame: FrameType | None) -> None:
    # One stop request is enough: a second signal must not cut the clean-up short.
    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    _RECEIVED.append(signum)
    raise Interrupted(signum)


def stop_like_ctrl_c() -> None:
    """Install the handlers (main thread only). Call again after ``ray.init``: a local Ray
    instance installs its own SIGTERM handler, which dumps a native stack and exits."""
    if threading.current_thread() is threading.main_thread():
        for sig in SIGNALS:
            signal.signal(sig, _raise)

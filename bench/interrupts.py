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


def requested() -> bool:
    """Whether a stop was asked for: a library that turns the KeyboardInterrupt it was
    interrupted with into an ordinary exception (a database driver, say) must not make the
    run carry on as if that were its own error."""
    return bool(_RECEIVED)


def _raise(signum: int, frame: FrameType | None) -> None:
    # One stop request is enough: a second signal must not cut the clean-up short.
    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    _RECEIVED.append(signum)
    raise Interrupted(signum)


def _ctrl_c(signum: int, frame: FrameType | None) -> None:
    # Python's own behaviour (a second Ctrl-C interrupts the clean-up too), remembered.
    _RECEIVED.append(signum)
    raise KeyboardInterrupt


def stop_like_ctrl_c() -> None:
    """Install the handlers (main thread only). Call again after ``ray.init``: a local Ray
    instance installs its own SIGTERM handler, which dumps a native stack and exits."""
    if threading.current_thread() is threading.main_thread():
        for sig in SIGNALS:
            signal.signal(sig, _raise)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, _ctrl_c)  # not where SIGINT is ignored (nohup ... &)

"""Settings Ray reads from the environment when it is first imported.

Call `configure` before anything imports Ray (`bench.execute` is the only module that does).
"""

from __future__ import annotations

import os


def configure(local: bool) -> None:
    """``local``: bench will start its own Ray instance (no ``--ray-address`` / ``RAY_ADDRESS``).

    - Under ``uv run``, Ray replicates the driver's environment on its workers unless told not
      to: it uploads the working directory and builds a fresh virtual environment for every Ray
      session (about 20 s of every ``uv run bench run`` here). bench's workers run in the
      environment already installed (the driver's own for a local instance, each node's on a
      cluster), so that stays off unless you set it.
    - A local instance serves this machine alone, so it listens on 127.0.0.1 only. Ray keeps
      that mode for single-machine platforms behind ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``: the
      node's address becomes the loopback one, and Ray's servers and workers bind to it. A driver
      joining a cluster must keep its real address, so this is never set for one.

    A setting you made yourself wins.
    """
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    if local:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

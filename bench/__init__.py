"""stylebench: a benchmark harness for neural style transfer.

The Python API (`stylebench.api`): ``stylize``, ``score``, ``set_scores`` and ``run``, imported
on first use, so that ``import stylebench.methods.gatys`` (or the ``bench`` command) does not
pull in the whole harness.
"""

from __future__ import annotations

from typing import Any

API = ("run", "score", "set_scores", "stylize")


def __getattr__(name: str) -> Any:
    if name in API:
        from stylebench import api

        return getattr(api, name)
    raise AttributeError(f"module 'stylebench' has no attribute {name!r}")


__all__ = list(API)

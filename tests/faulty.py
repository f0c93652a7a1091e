"""A test-only method that misbehaves on purpose: it kills its worker process, raises, or sleeps.

Used by the fault-injection tests through the registry's import-path form
(``tests.faulty:Faulty``). It returns the content image unchanged when it behaves.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import torch

from stylebench.methods.base import (
    Guides,
    MethodConfig,
    MethodContext,
    MethodNeeds,
    PrepareData,
    Stylized,
)


class FaultyConfig(MethodConfig):
    die_once_dir: str | None = None
    die_always_seeds: tuple[int, ...] = ()
    raise_seeds: tuple[int, ...] = ()
    sleep_s: float = 0.0


class Faulty:
    name: ClassVar[str] = "faulty"
    summary: ClassVar[str] = "test-only: identity, with injected faults"
    paper: ClassVar[str] = "none (fault injection)"
    Config: ClassVar[type[FaultyConfig]] = FaultyConfig
    presets: ClassVar[dict[str, dict]] = {"paper": {}, "smoke": {}}
    needs: ClassVar[MethodNeeds] = MethodNeeds()
    iterative: ClassVar[bool] = True  # one timed run per cell: sleeps are not repeated
    encoders: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: FaultyConfig, context: MethodContext) -> None:
        self.config = config

    def prepare(self, data: PrepareData) -> dict[str, list[float]]:
        return {}

    def stylize(
        self,
        content: torch.Tensor,
        style: torch.Tensor,
        guides: Guides | None = None,
        seeds: Sequence[int] | None = None,
    ) -> Stylized:
        seed = next(iter(seeds or [0]))
        if seed in self.config.die_always_seeds:
            os._exit(17)
        if seed in self.config.raise_seeds:
            raise RuntimeError(f"injected failure for seed {seed}")
        if self.config.die_once_dir is not None:
            try:
                fd = os.open(Path(self.config.die_once_dir) / "died", os.O_CREAT | os.O_EXCL)
                os.close(fd)
                os._exit(17)
            except FileExistsError:
                pass
        time.sleep(self.config.sleep_s)
        return Stylized(images=content.clone())

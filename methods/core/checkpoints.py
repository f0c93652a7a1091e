"""Strict, weights-only loading of trained networks, with errors that say exactly what is wrong.

A checkpoint is a state dict of tensors read with ``torch.load(..., weights_only=True)`` (through
`methods.core.weights.read_state_dict`), so a file can never run code. Before anything is loaded,
`check_state_dict` compares it with the network's own state dict and reports every missing key,
unexpected key and shape mismatch at once, so one look tells whether the file is the wrong
network, the wrong version or a different width.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from stylebench.methods.core.weights import read_state_dict

#: How many names of each kind an error message lists before it says "and N more".
LISTED = 12


class CheckpointMismatch(ValueError):
    """A state dict that does not fit the network it was meant for."""


def _names(keys: list[str]) -> str:
    shown = ", ".join(keys[:LISTED])
    return shown + (f" and {len(keys) - LISTED} more" if len(keys) > LISTED else "")


def check_state_dict(
    expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor], source: str
) -> None:
    """Raise `CheckpointMismatch` listing missing keys, unexpected keys and shape mismatches."""
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    shapes = sorted(
        f"{key} (file {tuple(given[key].shape)}, network {tuple(expected[key].shape)})"
        for key in set(expected) & set(given)
        if tuple(given[key].shape) != tuple(expected[key].shape)
    )
    if not (missing or unexpected or shapes):
        return
    problems = []
    if missing:
        problems.append(f"missing keys: {_names(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_names(unexpected)}")
    if shapes:
        problems.append(f"shape mismatches: {_names(shapes)}")
    raise CheckpointMismatch(
        f"checkpoint {source} does not fit the network; " + "; ".join(problems)
    )


def load_strict(module: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into ``module`` after `check_state_dict`; keys and shapes must match."""
    check_state_dict(module.state_dict(), state, source)
    module.load_state_dict(dict(state), strict=True)


class LoadsCheckpoints(Protocol):
    """A trained method as far as its ``checkpoint`` setting goes."""

    config: Any

    def load_state_dict(self, state: Mapping[str, torch.Tensor], source: str = ...) -> None: ...


def load_checkpoint_setting(method: LoadsCheckpoints) -> bool:
    """Load the file a trained method's ``checkpoint`` setting names, strictly and weights-only;
    False when it names none (then `prepare` trains). One way for every trained method."""
    path = getattr(method.config, "checkpoint", None)
    if not path:
        return False
    method.load_state_dict(read_state_dict(Path(path)), source=str(path))
    return True


def combine_published(
    networks: Mapping[str, nn.Module], paths: Sequence[Path]
) -> dict[str, torch.Tensor]:
    """A reference code's published files, one per network of ``networks`` (in its order), as
    one checkpoint with keys prefixed by the network's name: each file is read weights-only and
    checked strictly against its own network first, so an error names the file that does not
    fit (meta-device networks are enough: only names and shapes are compared)."""
    combined = {}
    for (part, network), path in zip(networks.items(), paths, strict=True):
        state = read_state_dict(path)
        check_state_dict(network.state_dict(), state, str(path))
        combined.update({f"{part}.{key}": value for key, value in state.items()})
    return combined

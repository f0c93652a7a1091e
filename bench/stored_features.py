"""Inception features of finished cells, stored beside their outputs in the run folder.

A cell's features are written (atomically) before its journal line, so set metrics (FID, KID,
ArtFID) are computed from the stored features of exactly the cells that finished, without
running the network again when a run resumes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from stylebench.errors import BenchError
from stylebench.metrics.fid_features import empty_features


class StoredFeaturesError(BenchError):
    """A finished cell's Inception features are gone from the run folder or unreadable."""


def features_file(cell_id: str) -> str:
    """Where a cell's Inception features live in the run folder (beside ``images/``)."""
    return f"features/{cell_id}.npy"


def pairs_file(cell_id: str, view: str) -> str:
    """Where a cell's art-Inception features of its output and style image in ``view`` live
    (`CellResult` ``pairs``), beside its Inception features."""
    return f"features/{cell_id}.{view}.npy"


def stored_features(run_dir: Path, cells: list[dict[str, Any]]) -> np.ndarray:
    """The Inception features each finished cell stored beside its output, in order."""
    paths = [run_dir / (cell.get("features") or features_file(cell["id"])) for cell in cells]
    return _stack(run_dir, paths, empty_features())


def stored_pairs(run_dir: Path, cells: list[dict[str, Any]], view: str) -> np.ndarray:
    """The art-Inception pair features in ``view`` each finished cell stored, in order:
    [N, 2, 2048]."""
    return _stack(
        run_dir, [run_dir / pairs_file(cell["id"], view) for cell in cells], np.empty((0, 2, 0))
    )


def _stack(run_dir: Path, paths: list[Path], empty: np.ndarray) -> np.ndarray:
    missing = [path for path in paths if not path.is_file()]
    if missing:
        raise StoredFeaturesError(
            f"the features of {len(missing)} finished cells are missing (first: "
            f"{missing[0]}); run the suite into a new --out folder"
        )
    try:
        return np.stack([np.load(path) for path in paths]) if paths else empty
    except (OSError, ValueError, EOFError) as exc:
        raise StoredFeaturesError(
            f"cannot read stored features in {run_dir / 'features'}: {exc}; run the "
            "suite into a new --out folder"
        ) from None

"""The datasets stylebench knows: where each comes from and what a good copy holds.

The table is the contract a download is checked against: the archive's URL, the folder inside
it, and the exact number of images in every split. The archive's SHA-256 is pinned here once it
is known; until then it is recorded in the dataset's manifest on first fetch (and the file-list
hash, which covers every image's bytes, is what records compare).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from stylebench.errors import BenchError


class UnknownDataset(BenchError):
    """A dataset name that is not in the catalogue."""


@dataclass(frozen=True)
class DatasetSpec:
    """One downloadable dataset and the structure a verified copy must have."""

    name: str
    url: str
    root: str
    splits: dict[str, int] = field(default_factory=dict)
    archive_sha256: str | None = None
    approx_mb: int = 0
    max_unpacked_bytes: int = 4 << 30


DATASETS: dict[str, DatasetSpec] = {
    # CycleGAN's Monet paintings (A, from WikiArt) and landscape photos (B, from Flickr), 256x256
    # JPEG; no explicit licence: research use only, do not redistribute.
    "monet2photo": DatasetSpec(
        name="monet2photo",
        # From the CycleGAN project's datasets/download_cyclegan_dataset.sh.
        url="http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/monet2photo.zip",
        root="monet2photo",
        splits={"trainA": 1072, "trainB": 6287, "testA": 121, "testB": 751},
        archive_sha256=None,  # not pinned yet: recorded in the manifest on first fetch
        approx_mb=300,
    ),
}


def get_dataset(name: str) -> DatasetSpec:
    """The catalogue entry for ``name``, or an error that lists the known names."""
    if name in DATASETS:
        return DATASETS[name]
    close = difflib.get_close_matches(name, DATASETS, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise UnknownDataset(f"unknown dataset {name!r}: {hint}known datasets: {', '.join(DATASETS)}")

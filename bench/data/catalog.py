"""The datasets stylebench knows: where each comes from and what a good copy holds.

The table is the contract a download is checked against. A dataset comes as one archive (its
URL, the folder inside it, and the exact number of images in every split; the archive's SHA-256
is pinned here once it is known, until then recorded in the dataset's manifest on first fetch)
or as single files (``files``: each file's path under a base URL, with its SHA-256 pinned). The
file-list hash, which covers every image's bytes, is what records compare.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from stylebench.data import styleid_files
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
    #: A dataset of single files: ``split/name`` -> pinned SHA-256, each at ``url + split/name``.
    files: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_files(
        cls, name: str, base_url: str, files: dict[str, str], approx_mb: int
    ) -> DatasetSpec:
        splits: dict[str, int] = {}
        for path in files:
            split = path.split("/")[0]
            splits[split] = splits.get(split, 0) + 1
        return cls(name, base_url, name, splits, approx_mb=approx_mb, files=dict(files))


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
    # The StyleID evaluation protocol's inputs (Chung et al., CVPR 2024): 20 MS-COCO photos
    # (cnt) and 40 WikiArt paintings (sty), from the StyleID repository at a pinned commit.
    "styleid": DatasetSpec.of_files(
        "styleid", styleid_files.BASE_URL, styleid_files.FILES, approx_mb=26
    ),
}


def get_dataset(name: str) -> DatasetSpec:
    """The catalogue entry for ``name``, or an error that lists the known names."""
    if name in DATASETS:
        return DATASETS[name]
    close = difflib.get_close_matches(name, DATASETS, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise UnknownDataset(f"unknown dataset {name!r}: {hint}known datasets: {', '.join(DATASETS)}")

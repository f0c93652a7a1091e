"""Datasets on disk: where they live, fetching them once, verifying them, and their manifests.

Layout: ``<data root>/<dataset>/<split>/<images>`` and ``<data root>/<dataset>/MANIFEST``. The
data root is ``--data-dir``, else ``$STYLEBENCH_DATA``, else ``<user cache>/data``. A copy is
usable once it has been verified: every split present with exactly the catalogue's number of
images. Verification writes a manifest with the archive's SHA-256 (when stylebench downloaded
it) and SHA-256 hashes over every image's name and bytes, per split and overall; later checks
compare against it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from stylebench.data.archive import ArchiveError, safe_extract
from stylebench.data.catalog import DatasetSpec, get_dataset
from stylebench.data.download import DownloadError, download
from stylebench.errors import BenchError
from stylebench.hashing import file_sha256
from stylebench.images import list_images
from stylebench.paths import cache_dir
from stylebench.progress import ByteProgress
from stylebench.records import write_json_atomic

ENV_VAR = "STYLEBENCH_DATA"
MANIFEST = "stylebench-manifest.json"
SCHEMA = "stylebench.dataset/1"


class DataError(BenchError):
    """A dataset that is missing, incomplete, changed or could not be fetched."""


@dataclass(frozen=True)
class DatasetCopy:
    """A verified copy of a dataset: its folder and its manifest."""

    spec: DatasetSpec
    folder: Path
    manifest: dict[str, Any]

    def split_files(self, split: str) -> list[Path]:
        """The images of one split, sorted by file name."""
        return list_images(self.folder / split)

    def identity(self) -> dict[str, Any]:
        """What a run record says about the dataset it read."""
        source = self.manifest.get("source") or {}
        return {
            "files_sha256": self.manifest["files_sha256"],
            "archive_sha256": source.get("archive_sha256"),
            "url": source.get("url"),
        }


def data_root(data_dir: Path | None = None) -> Path:
    """Where datasets live: ``data_dir``, else ``$STYLEBENCH_DATA``, else the user cache."""
    if data_dir is not None:
        return Path(data_dir).expanduser().resolve()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser().resolve()
    return cache_dir() / "data"


def what_to_run(spec: DatasetSpec) -> str:
    return (
        f"run `bench data fetch {spec.name}` on a machine with internet (about {spec.approx_mb} MB), "
        f"or point --data-dir or ${ENV_VAR} at a folder that holds {spec.name}/ "
        f"({', '.join(spec.splits)}) and run `bench data verify {spec.name}`"
    )


def _missing(spec: DatasetSpec, root: Path) -> DataError:
    hint = ""
    if all((root / split).is_dir() for split in spec.splits):
        hint = f" ({root} itself looks like {spec.name}: pass its parent {root.parent})"
    return DataError(f"{spec.name} is not in {root}{hint}: {what_to_run(spec)}")


def scan(spec: DatasetSpec, folder: Path) -> dict[str, list[Path]]:
    """Every split's images, if the structure and counts are those of the catalogue."""
    listing, problems = {}, []
    for split, expected in spec.splits.items():
        if not (folder / split).is_dir():
            problems.append(f"{split}/ is missing")
            continue
        listing[split] = list_images(folder / split)
        if len(listing[split]) != expected:
            problems.append(f"{split}/ holds {len(listing[split]):,} images, expected {expected:,}")
    if problems:
        raise DataError(f"{folder} is not a complete {spec.name}: {'; '.join(problems)}")
    return listing


def _hash(lines: list[str]) -> str:
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def describe(listing: dict[str, list[Path]], source: dict[str, Any] | None, name: str) -> dict:
    """The manifest: hashes over ``split/name<TAB>sha256`` lines, per split and overall."""
    splits, every = {}, []
    for split, files in listing.items():
        lines = [f"{split}/{path.name}\t{file_sha256(path)}\n" for path in files]
        splits[split] = {"count": len(files), "files_sha256": _hash(lines)}
        every.extend(lines)
    return {
        "schema": SCHEMA,
        "dataset": name,
        "source": source,
        "splits": splits,
        "files_sha256": _hash(every),
        "verified": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest in ``folder``, or None if there is none (or it cannot be read)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(manifest, dict) and manifest.get("schema") == SCHEMA
    return manifest if ok else None


def verify(name: str, data_dir: Path | None = None) -> DatasetCopy:
    """Check every split and hash every image; record a manifest, or compare with the one there."""
    spec = get_dataset(name)
    root = data_root(data_dir)
    folder = root / spec.name
    if not folder.is_dir():
        raise _missing(spec, root)
    old = read_manifest(folder)
    listing = scan(spec, folder)
    problems = _pinned_problems(spec, folder)
    if problems:
        raise DataError(
            f"{spec.name} at {folder} is not the published dataset: {'; '.join(problems[:3])}"
            f"{f' (and {len(problems) - 3} more)' if len(problems) > 3 else ''}; remove "
            f"{folder} and run `bench data fetch {spec.name}`"
        )
    manifest = describe(listing, old.get("source") if old else None, spec.name)
    if old is None:
        # A read-only copy cannot keep a manifest: it stays usable, verified again at every use.
        with contextlib.suppress(OSError):
            write_json_atomic(folder / MANIFEST, manifest)
        return DatasetCopy(spec, folder, manifest)
    if old.get("files_sha256") != manifest["files_sha256"]:
        changed = [
            split
            for split, entry in manifest["splits"].items()
            if old.get("splits", {}).get(split, {}).get("files_sha256") != entry["files_sha256"]
        ]
        raise DataError(
            f"{spec.name} at {folder} has changed since it was verified on "
            f"{old.get('verified', '?')}: files differ in {', '.join(changed)}; remove {folder} "
            f"and run `bench data fetch {spec.name}` to get a clean copy"
        )
    return DatasetCopy(spec, folder, old)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_archive(spec: DatasetSpec, archive: Path, console: Console) -> str:
    console.print(f"checking {archive.name} ...")
    sha256 = file_sha256(archive)
    if spec.archive_sha256 and sha256 != spec.archive_sha256:
        archive.unlink()
        raise DataError(
            f"{spec.url} sent an archive with SHA-256 {sha256}, expected {spec.archive_sha256}; "
            f"it was removed: run `bench data fetch {spec.name}` again"
        )
    return sha256


def fetch(name: str, data_dir: Path | None = None, console: Console | None = None) -> DatasetCopy:
    """Download, check and extract a dataset (once); an existing copy is verified instead."""
    spec = get_dataset(name)
    root = data_root(data_dir)
    folder = root / spec.name
    if folder.is_dir():
        return verify(name, data_dir)
    console = console or Console(stderr=True, soft_wrap=True, highlight=False, markup=False)
    if spec.files:
        return _fetch_files(spec, root, console)
    archive = root / ".downloads" / f"{spec.name}.zip"
    if not archive.is_file():  # else a complete download whose extraction was interrupted
        console.print(f"downloading {spec.name} (about {spec.approx_mb} MB) from {spec.url}")
        try:
            with ByteProgress(archive.name, console) as bar:
                download(spec.url, archive, on_progress=bar.update)
        except DownloadError as exc:
            raise DataError(
                f"{spec.name} is not in {root} and could not be downloaded ({exc}): "
                f"{what_to_run(spec)}"
            ) from None
    sha256 = _check_archive(spec, archive, console)
    staging = root / f".{spec.name}.extracting"
    shutil.rmtree(staging, ignore_errors=True)
    console.print(f"extracting into {folder} ...")
    try:
        safe_extract(archive, staging, spec.max_unpacked_bytes)
        listing = scan(spec, staging / spec.root)
    except (ArchiveError, DataError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        archive.unlink()
        raise DataError(
            f"{exc}; the archive was removed: run `bench data fetch {spec.name}` again, "
            "and if this repeats the download source has changed"
        ) from None
    source = {
        "url": spec.url,
        "archive_sha256": sha256,
        "archive_bytes": archive.stat().st_size,
        "fetched": _now(),
    }
    manifest = describe(listing, source, spec.name)
    write_json_atomic(staging / spec.root / MANIFEST, manifest)
    os.replace(staging / spec.root, folder)
    shutil.rmtree(staging)
    archive.unlink()
    return DatasetCopy(spec, folder, manifest)


def _fetch_files(spec: DatasetSpec, root: Path, console: Console) -> DatasetCopy:
    """Download a dataset of single files into a staging folder, each checked against its
    pinned SHA-256; files already there and correct are kept (an interrupted fetch resumes),
    and the copy appears under its name only once every file is in."""
    staging = root / f".{spec.name}.fetching"
    console.print(f"downloading {len(spec.files)} files of {spec.name} from {spec.url}")
    for number, (path, sha256) in enumerate(spec.files.items(), start=1):
        target = staging / path
        if target.is_file() and file_sha256(target) == sha256:
            continue
        try:
            with ByteProgress(f"{number}/{len(spec.files)} {path}", console) as bar:
                download(spec.url + path, target, on_progress=bar.update)
        except DownloadError as exc:
            raise DataError(
                f"{spec.name} is not in {root} and could not be downloaded ({exc}): "
                f"{what_to_run(spec)}"
            ) from None
        got = file_sha256(target)
        if got != sha256:
            target.unlink()
            raise DataError(
                f"{spec.url + path} sent a file with SHA-256 {got}, expected {sha256}; it was "
                f"removed: run `bench data fetch {spec.name}` again, and if this repeats the "
                "source has changed"
            )
    source = {"url": spec.url, "files": len(spec.files), "fetched": _now()}
    manifest = describe(scan(spec, staging), source, spec.name)
    write_json_atomic(staging / MANIFEST, manifest)
    os.replace(staging, root / spec.name)
    return DatasetCopy(spec, root / spec.name, manifest)


def _pinned_problems(spec: DatasetSpec, folder: Path) -> list[str]:
    """Files of a single-file dataset whose bytes are not the pinned ones (or are missing)."""
    problems = []
    for path, sha256 in spec.files.items():
        file = folder / path
        if not file.is_file():
            problems.append(f"{path} is missing")
        elif file_sha256(file) != sha256:
            problems.append(f"{path} is not the published file (SHA-256 differs)")
    return problems


def ensure(name: str, data_dir: Path | None = None) -> DatasetCopy:
    """A usable copy for a suite: fetched on first use, verified once, counted on every use."""
    spec = get_dataset(name)
    folder = data_root(data_dir) / spec.name
    if not folder.is_dir():
        return fetch(name, data_dir)
    manifest = read_manifest(folder)
    if manifest is None or manifest.get("dataset") != spec.name:
        return verify(name, data_dir)
    for split, expected in spec.splits.items():
        count = len(list_images(folder / split)) if (folder / split).is_dir() else 0
        if count != expected or manifest["splits"].get(split, {}).get("count") != expected:
            raise DataError(
                f"{folder / split} holds {count:,} images, but {spec.name}'s {split} has "
                f"{expected:,}: the copy has changed; run `bench data verify {spec.name}`"
            )
    return DatasetCopy(spec, folder, manifest)

"""Extract a zip archive without letting any member land outside the target folder.

Every member is checked before a single byte is written: absolute paths, drive letters,
backslashes, ``..`` components, symbolic links and other non-regular files are refused, as is an
archive that unpacks to more than a set number of bytes (a zip bomb). Members are then streamed
out one by one; the zip's CRC-32 check turns corrupted data into an error, not a bad file.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from stylebench.errors import BenchError


class ArchiveError(BenchError):
    """An archive that is corrupted or unsafe to extract."""


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a member may not be extracted, or None if it is a plain file or folder inside."""
    name = info.filename
    if "\\" in name or "\0" in name or (len(name) > 1 and name[1] == ":"):
        return "has a Windows path, a drive letter or a NUL character"
    path = PurePosixPath(name)
    if path.is_absolute():
        return "is an absolute path"
    if ".." in path.parts:
        return "climbs out of the target folder with '..'"
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        return "is a symbolic link"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "is not a regular file or folder"
    return None


def check_members(archive: zipfile.ZipFile, max_bytes: int) -> list[zipfile.ZipInfo]:
    """All members, if every one is safe to extract; otherwise an error naming the first bad one."""
    members = archive.infolist()
    for info in members:
        problem = _member_problem(info)
        if problem:
            raise ArchiveError(f"archive member {info.filename!r} {problem}: refusing to extract")
    total = sum(info.file_size for info in members)
    if total > max_bytes:
        raise ArchiveError(
            f"archive would unpack to {total:,} bytes, more than the {max_bytes:,} allowed"
        )
    return members


def safe_extract(archive_path: Path, target: Path, max_bytes: int) -> None:
    """Extract ``archive_path`` into the new folder ``target`` (removed again on any error)."""
    if target.exists():
        raise ArchiveError(f"extraction target {target} already exists")
    try:
        with zipfile.ZipFile(archive_path) as archive:
            members = check_members(archive, max_bytes)
            root = target.resolve()
            target.mkdir(parents=True)
            for info in members:
                destination = (target / info.filename).resolve()
                if destination != root and root not in destination.parents:
                    raise ArchiveError(f"archive member {info.filename!r} escapes {target}")
                if info.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, destination.open("wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise ArchiveError(f"archive {archive_path} is corrupted: {exc}") from None
    except OSError as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise ArchiveError(f"cannot extract {archive_path} into {target}: {exc}") from None
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise

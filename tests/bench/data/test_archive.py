"""Safe extraction: nothing may land outside the target, corrupted archives are refused."""

from __future__ import annotations

import stat
import zipfile

import pytest

from stylebench.data.archive import ArchiveError, safe_extract
from tests.bench.data.conftest import monet_zip

LIMIT = 1 << 30


def test_a_plain_archive_is_extracted(tmp_path):
    (tmp_path / "a.zip").write_bytes(monet_zip())
    safe_extract(tmp_path / "a.zip", tmp_path / "out", LIMIT)
    assert len(list((tmp_path / "out" / "monet2photo" / "testB").iterdir())) == 5
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        member = "monet2photo/trainA/00000_trainA.jpg"
        assert (tmp_path / "out" / member).read_bytes() == archive.read(member)


def _zip_with(tmp_path, name: str, mode: int | None = None):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ok.txt", b"fine")
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        archive.writestr(info, b"/etc/passwd" if mode == stat.S_IFLNK | 0o777 else b"owned")
    return path


@pytest.mark.parametrize(
    "name,mode,reason",
    [
        ("../escaped.txt", None, "climbs out of the target folder"),
        ("a/../../escaped.txt", None, "climbs out of the target folder"),
        ("/tmp/escaped.txt", None, "is an absolute path"),
        ("..\\escaped.txt", None, "Windows path"),
        ("C:/escaped.txt", None, "drive letter"),
        ("link", stat.S_IFLNK | 0o777, "is a symbolic link"),
        ("fifo", stat.S_IFIFO | 0o644, "not a regular file"),
    ],
)
def test_unsafe_members_are_refused_before_anything_is_written(tmp_path, name, mode, reason):
    archive = _zip_with(tmp_path, name, mode)
    with pytest.raises(ArchiveError, match=reason) as caught:
        safe_extract(archive, tmp_path / "deep" / "out", LIMIT)
    assert repr(name) in str(caught.value)
    assert not (tmp_path / "deep" / "out").exists()
    assert (
        not (tmp_path / "escaped.txt").exists() and not (tmp_path / "deep" / "escaped.txt").exists()
    )


def test_a_zip_bomb_is_refused(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros", b"\0" * 1_000_000)
    assert path.stat().st_size < 10_000
    with pytest.raises(ArchiveError, match="1,000,000 bytes, more than the 100,000 allowed"):
        safe_extract(path, tmp_path / "out", 100_000)


def test_corrupted_and_non_zip_archives_are_refused_and_cleaned_up(tmp_path):
    data = bytearray(monet_zip())
    offset = data.find(b"00002_trainB.jpg") + 40  # inside that member's compressed bytes
    data[offset : offset + 16] = bytes(16)
    (tmp_path / "bad.zip").write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="is corrupted"):
        safe_extract(tmp_path / "bad.zip", tmp_path / "out", LIMIT)
    assert not (tmp_path / "out").exists()
    (tmp_path / "html.zip").write_bytes(b"<html>Service unavailable</html>")
    with pytest.raises(ArchiveError, match="is corrupted: File is not a zip file"):
        safe_extract(tmp_path / "html.zip", tmp_path / "out", LIMIT)
    truncated = monet_zip()
    (tmp_path / "short.zip").write_bytes(truncated[: len(truncated) // 2])
    with pytest.raises(ArchiveError, match="is corrupted"):
        safe_extract(tmp_path / "short.zip", tmp_path / "out", LIMIT)

"""Pin a suite: write the names its selection rules pick into the suite file itself.

A dataset set such as ``{dataset: monet2photo, split: testB, every: 75, count: 10}`` picks its
images by a deterministic rule; pinning adds ``files: [...]`` with the names picked from a
verified copy, so the suite lists its images and any copy that would pick others is refused.
The edit is made in the text (comments and layout stay), then checked by reading the suite back.
Pinning the names the rule already picks changes no image, so the version stays; replacing
different pinned names bumps it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from stylebench.suites.load import ImageResolver, SuiteError, load_suite, read_spec


@dataclass(frozen=True)
class Pinned:
    """What `pin_suite` did."""

    path: Path
    sets: dict[str, list[str]]
    changed: list[str]
    version: int


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _block(lines: list[str], keys: list[str]) -> tuple[int, int, int]:
    """(first line after ``key:``, end of its block, indent of its children) for a key path."""
    lo, hi = 0, len(lines)
    for key in keys:
        children = [i for i in range(lo, hi) if _is_content(lines[i])]
        if not children:
            raise SuiteError(f"cannot pin: {'.'.join(keys)} is not a block mapping")
        indent = _indent(lines[children[0]])
        found = [
            i
            for i in children
            if _indent(lines[i]) == indent
            and re.match(rf"{re.escape(key)}:\s*(#.*)?$", lines[i][indent:])
        ]
        if not found:
            raise SuiteError(
                f"cannot pin: {'.'.join(keys)} must be written as a block mapping "
                f"('{key}:' on its own line, its keys indented below)"
            )
        start = found[0]
        later = [i for i in range(start + 1, hi) if _is_content(lines[i])]
        end = next((i for i in later if _indent(lines[i]) <= indent), hi)
        lo, hi = start + 1, end
    body = [i for i in range(lo, hi) if _is_content(lines[i])]
    if not body:
        raise SuiteError(f"cannot pin: {'.'.join(keys)} is empty")
    return lo, hi, _indent(lines[body[0]])


def _with_files(lines: list[str], where: str, names: list[str]) -> list[str]:
    """``lines`` with the ``files:`` entry of the set at ``where`` replaced by ``names``."""
    lo, hi, indent = _block(lines, where.split("."))
    kept, skipping = [], False
    for line in lines[lo:hi]:
        if skipping and (
            not _is_content(line)
            or _indent(line) > indent
            or (_indent(line) == indent and line.lstrip().startswith("- "))
        ):
            continue
        skipping = _indent(line) == indent and line[indent:].startswith("files:")
        if not skipping:
            kept.append(line)
    last = max((i for i, line in enumerate(kept) if _is_content(line)), default=-1)
    pad = " " * indent
    files = [f"{pad}files:", *(f"{pad}  - {json.dumps(name)}" for name in names)]
    return [*lines[:lo], *kept[: last + 1], *files, *kept[last + 1 :], *lines[hi:]]


def _bump_version(lines: list[str]) -> tuple[list[str], int]:
    for i, line in enumerate(lines):
        match = re.match(r"version:\s*(\d+)(\s*(#.*)?)$", line)
        if match:
            version = int(match[1]) + 1
            return [*lines[:i], f"version: {version}{match[2]}", *lines[i + 1 :]], version
    raise SuiteError("cannot pin: no top-level 'version: N' line to bump")


def pin_suite(ref: str, data_dir: Path | None = None) -> Pinned:
    """Write the names every rule-based dataset set of suite ``ref`` picks into its YAML file."""
    read = read_spec(ref)
    if read.path is None:
        raise SuiteError(f"suite {read.source} is a folder suite: it has no rules to pin")
    resolver = ImageResolver(read.source, read.base, data_dir)
    picked: dict[str, list[str]] = {}
    changed, replaced = [], False
    for where, images in read.spec.image_sets().items():
        if not images.selects:
            continue
        if len(images.splits) != 1:
            raise SuiteError(f"cannot pin {where}: pinned names come from a single split")
        rule_only = images.model_copy(update={"files": None})
        prefix = f"{images.splits[0]}/"
        picked[where] = [name.removeprefix(prefix) for name, _ in resolver.images(rule_only, where)]
        if images.files != picked[where]:
            changed.append(where)
            replaced = replaced or images.files is not None
    if not picked:
        raise SuiteError(f"suite {read.source} has no dataset set with a selection rule to pin")
    original = read.path.read_text()
    lines = original.splitlines()
    for where in changed:
        lines = _with_files(lines, where, picked[where])
    version = read.spec.version
    if replaced:
        lines, version = _bump_version(lines)
    if changed:
        read.path.write_text("\n".join(lines) + "\n")
        try:
            again = read_spec(str(read.path))
            for where, names in picked.items():
                if again.spec.image_sets()[where].files != names:
                    raise SuiteError(f"cannot pin: {where}.files did not read back as written")
            load_suite(str(read.path), data_dir=data_dir)
        except Exception:
            read.path.write_text(original)
            raise
    return Pinned(path=read.path, sets=picked, changed=changed, version=version)

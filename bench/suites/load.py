"""Turn a suite reference (built-in name, YAML file or folder) into a validated `Suite`."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bench.errors import BenchError
from bench.images import list_images
from bench.paths import cache_dir
from bench.registry import METHODS, SUITES
from bench.suites import procedural
from bench.suites.guides import guide_key, match_guides
from bench.suites.schema import ImageSet, SuiteSpec


class SuiteError(BenchError):
    """A suite that cannot be used as written."""


@dataclass(frozen=True)
class ImageRef:
    """One image of a suite: a file-name-safe ``key``, the original ``name``, and its bytes' hash."""

    key: str
    name: str
    path: Path
    sha256: str


@dataclass(frozen=True)
class Suite:
    spec: SuiteSpec
    source: str
    content: tuple[ImageRef, ...]
    style: tuple[ImageRef, ...]
    reference: tuple[ImageRef, ...] = ()
    training_content: tuple[ImageRef, ...] = ()
    training_style: tuple[ImageRef, ...] = ()
    #: Semantic map of each content/style image that has one, by the image's key.
    guides: dict[str, ImageRef] = field(default_factory=dict)

    @property
    def reference_set(self) -> tuple[ImageRef, ...]:
        """The FID/KID reference set: the suite's ``reference`` images, else its style images."""
        return self.reference or self.style

    @property
    def file_list_hash(self) -> str:
        """Hash of every image's role, name and content: equal hashes mean identical inputs."""
        digest = hashlib.sha256()
        roles = (
            ("content", self.content),
            ("style", self.style),
            ("reference", self.reference),
            ("training_content", self.training_content),
            ("training_style", self.training_style),
        )
        for role, refs in roles:
            for ref in refs:
                digest.update(f"{role}\0{ref.name}\0{ref.sha256}\n".encode())
        for key, ref in sorted(self.guides.items()):
            digest.update(f"guide\0{self.image(key).name}\0{ref.name}\0{ref.sha256}\n".encode())
        return digest.hexdigest()

    def image(self, key: str) -> ImageRef:
        return next(ref for ref in (*self.content, *self.style) if ref.key == key)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem).strip("._-") or "image"


KEY_PREFIX = {"content": "c", "style": "s", "reference": "r", "tcontent": "tc", "tstyle": "ts"}


def _refs(paths: list[Path], role: str, taken: set[str]) -> tuple[ImageRef, ...]:
    refs = []
    for path in paths:
        key = base = f"{KEY_PREFIX[role]}-{_slug(path.name)}"
        n = 2
        while key in taken:
            key, n = f"{base}-{n}", n + 1
        taken.add(key)
        refs.append(ImageRef(key=key, name=path.name, path=path, sha256=_file_sha256(path)))
    return tuple(refs)


def _resolve_set(images: ImageSet, base: Path, where: str) -> list[Path]:
    if images.generate is not None:
        assert images.count is not None
        return procedural.generate(
            images.generate, images.count, cache_dir() / "procedural", first=images.first
        )
    if images.folder is not None:
        folder = (base / images.folder).resolve()
        if not folder.is_dir():
            raise SuiteError(f"{where}.folder: {folder} is not a folder")
        paths = list_images(folder)
        if not paths:
            raise SuiteError(f"{where}.folder: {folder} holds no images (.jpg, .png, ...)")
        return paths
    paths = [(base / f).resolve() for f in images.files or []]
    for path in paths:
        if not path.is_file():
            raise SuiteError(f"{where}.files: {path} does not exist")
    if not paths:
        raise SuiteError(f"{where}.files is empty")
    return paths


def parse_overrides(items: list[str]) -> list[tuple[list[str], Any]]:
    """``key.sub=value`` strings to (key path, YAML-typed value) pairs."""
    parsed = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SuiteError(f"--set {item!r}: expected key=value, e.g. --set gatys.steps=300")
        parsed.append((key.strip().split("."), yaml.safe_load(value) if value else ""))
    return parsed


def apply_overrides(raw: dict[str, Any], items: list[str]) -> dict[str, Any]:
    """Apply ``--set`` overrides; ``METHOD.key=v`` is short for ``methods.METHOD.key=v``."""
    for path, value in parse_overrides(items):
        if path[0] not in SuiteSpec.model_fields and len(path) > 1:
            path = ["methods", *path]
        node = raw
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise SuiteError(f"--set {'.'.join(path)}: {part!r} is not a mapping")
        node[path[-1]] = value
    return raw


def _validation_message(source: str, error: ValidationError) -> str:
    lines = [f"suite {source} is not valid:"]
    for problem in error.errors():
        key = ".".join(str(p) for p in problem["loc"]) or "(top level)"
        lines.append(f"  {key}: {problem['msg']}")
    return "\n".join(lines)


def _folder_suite(folder: Path) -> dict[str, Any]:
    for sub in ("content", "style"):
        if not (folder / sub).is_dir():
            raise SuiteError(
                f"folder suite {folder} has no {sub}/ folder: a folder suite holds content/ and style/"
            )
    raw: dict[str, Any] = {
        "name": _slug(folder.name) or "folder",
        "version": 0,
        "description": f"images in {folder}",
        "image_size": 256,
        "content": {"folder": "content"},
        "style": {"folder": "style"},
        "methods": {name: {} for name in METHODS.names()},
    }
    if (folder / "semantic").is_dir():
        raw["guides"] = {"folder": "semantic"}
    return raw


def load_suite(ref: str, overrides: list[str] | None = None) -> Suite:
    """Load a built-in suite by name, a YAML suite file, or a folder with content/ and style/."""
    path = Path(ref).expanduser()
    if ref in SUITES.names():
        path, source = SUITES.get(ref), f"builtin:{ref}"
        raw = yaml.safe_load(path.read_text())
    elif path.is_dir():
        path, source = path.resolve(), str(path.resolve())
        raw = _folder_suite(path)
        path = path / "suite.yaml"
    elif path.is_file():
        path, source = path.resolve(), str(path.resolve())
        try:
            raw = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise SuiteError(f"suite {path} is not valid YAML: {exc}") from exc
    elif "/" in ref or ref.endswith((".yaml", ".yml")):
        raise SuiteError(f"suite {ref!r} does not exist: pass a suite name, YAML file or folder")
    else:
        SUITES.get(ref)
        raise AssertionError("unreachable")
    if not isinstance(raw, dict):
        raise SuiteError(f"suite {source} must be a YAML mapping")
    raw = apply_overrides(raw, overrides or [])
    try:
        spec = SuiteSpec.model_validate(raw)
    except ValidationError as exc:
        raise SuiteError(_validation_message(source, exc)) from None
    taken: set[str] = set()
    base = path.parent
    content = _refs(_resolve_set(spec.content, base, "content"), "content", taken)
    style = _refs(_resolve_set(spec.style, base, "style"), "style", taken)
    reference = (
        _refs(_resolve_set(spec.reference, base, "reference"), "reference", taken)
        if spec.reference
        else ()
    )
    training_content: tuple[ImageRef, ...] = ()
    training_style: tuple[ImageRef, ...] = ()
    if spec.training:
        training_content = _refs(
            _resolve_set(spec.training.content, base, "training.content"), "tcontent", taken
        )
        if spec.training.style:
            training_style = _refs(
                _resolve_set(spec.training.style, base, "training.style"), "tstyle", taken
            )
    guides: dict[str, ImageRef] = {}
    if spec.guides:
        images = [(ref.key, ref.name, ref.path) for ref in (*content, *style)]
        for key, map_path in match_guides(spec.guides, base, images).items():
            guides[key] = ImageRef(
                key=guide_key(key), name=map_path.name, path=map_path, sha256=_file_sha256(map_path)
            )
    return Suite(
        spec=spec,
        source=source,
        content=content,
        style=style,
        reference=reference,
        training_content=training_content,
        training_style=training_style,
        guides=guides,
    )

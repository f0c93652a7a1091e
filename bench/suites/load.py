"""Turn a suite reference (built-in name, YAML file or folder) into a validated `Suite`."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from stylebench.data.store import DatasetCopy, ensure
from stylebench.errors import BenchError
from stylebench.hashing import file_sha256
from stylebench.images import list_images
from stylebench.paths import cache_dir
from stylebench.registry import METHODS, SUITES
from stylebench.suites import procedural
from stylebench.suites.guides import guide_key, match_guides
from stylebench.suites.schema import ImageSet, SuiteSpec


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
class Blend:
    """A blend of the suite's style images (``style.blends``), a style of its own in cells:
    ``key`` (``b-<name>``), its ``name``, the style keys of its ``parts`` and their ``weights``
    (positive, normalised to sum to 1)."""

    key: str
    name: str
    parts: tuple[str, ...]
    weights: tuple[float, ...]

    def describe(self, names: dict[str, str]) -> str:
        """``0.7 x a.png + 0.3 x b.png`` (``names``: image key -> name)."""
        return " + ".join(
            f"{weight:.3g} x {names.get(part, part)}"
            for part, weight in zip(self.parts, self.weights, strict=True)
        )


@dataclass(frozen=True)
class Suite:
    spec: SuiteSpec
    source: str
    content: tuple[ImageRef, ...]
    style: tuple[ImageRef, ...]
    reference: tuple[ImageRef, ...] = ()
    training_content: tuple[ImageRef, ...] = ()
    training_style: tuple[ImageRef, ...] = ()
    #: The style -> photo direction's inputs (style-domain images) and reference set (photos).
    reverse_content: tuple[ImageRef, ...] = ()
    reverse_reference: tuple[ImageRef, ...] = ()
    #: Semantic map of each content/style image that has one, by the image's key.
    guides: dict[str, ImageRef] = field(default_factory=dict)
    #: Identity of every dataset the suite reads (see `bench.data.store.DatasetCopy.identity`).
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Blends of the style images (``style.blends``), each scored as a style of its own.
    blends: tuple[Blend, ...] = ()

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
            ("reverse_content", self.reverse_content),
            ("reverse_reference", self.reverse_reference),
        )
        for role, refs in roles:
            for ref in refs:
                digest.update(f"{role}\0{ref.name}\0{ref.sha256}\n".encode())
        for key, ref in sorted(self.guides.items()):
            digest.update(f"guide\0{self.image(key).name}\0{ref.name}\0{ref.sha256}\n".encode())
        for blend in self.blends:
            parts = "\0".join(f"{self.image(p).name}={w!r}" for p, w in self.blend_parts(blend))
            digest.update(f"blend\0{blend.name}\0{parts}\n".encode())
        return digest.hexdigest()

    def image(self, key: str) -> ImageRef:
        return next(ref for ref in (*self.content, *self.style) if ref.key == key)

    def blend(self, key: str) -> Blend | None:
        """The blend a cell's style key names (None: the key is an image's)."""
        return next((blend for blend in self.blends if blend.key == key), None)

    @staticmethod
    def blend_parts(blend: Blend) -> list[tuple[str, float]]:
        """(style key, weight) of each part of ``blend``."""
        return list(zip(blend.parts, blend.weights, strict=True))


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem).strip("._-") or "image"


KEY_PREFIX = {
    "blend": "b",
    "content": "c",
    "style": "s",
    "reference": "r",
    "tcontent": "tc",
    "tstyle": "ts",
    "rcontent": "rc",
    "rreference": "rr",
}


def _refs(images: list[tuple[str, Path]], role: str, taken: set[str]) -> tuple[ImageRef, ...]:
    """(name, path) pairs to refs with unique, file-name-safe keys and content hashes."""
    refs = []
    for name, path in images:
        key = base = f"{KEY_PREFIX[role]}-{_slug(name)}"
        n = 2
        while key in taken:
            key, n = f"{base}-{n}", n + 1
        taken.add(key)
        refs.append(ImageRef(key=key, name=name, path=path, sha256=file_sha256(path)))
    return tuple(refs)


def _blends(
    resolver: ImageResolver, spec: SuiteSpec, style: tuple[ImageRef, ...], taken: set[str]
) -> tuple[Blend, ...]:
    """The suite's ``style.blends``: parts named by the style images' names, weights divided by
    their sum; one error naming the key for a part that is not a style image or a name twice."""
    by_name = {ref.name: ref.key for ref in style}
    blends: list[Blend] = []
    names: set[str] = set()
    for index, given in enumerate(spec.style.blends):
        where = f"style.blends.{index}"
        missing = [name for name in given.images if name not in by_name]
        if missing:
            known = ", ".join(by_name)
            raise resolver.error(
                f"{where}.images",
                f"{missing[0]!r} is not one of the suite's style images ({known})",
            )
        name = given.name or "+".join(Path(image).stem for image in given.images)
        if name in names:
            raise resolver.error(f"{where}.name", f"{name!r} names two blends; give each a name")
        names.add(name)
        total = sum(given.weights)
        key = base = f"{KEY_PREFIX['blend']}-{_slug(name)}"
        n = 2
        while key in taken:
            key, n = f"{base}-{n}", n + 1
        taken.add(key)
        blends.append(
            Blend(
                key=key,
                name=name,
                parts=tuple(by_name[image] for image in given.images),
                weights=tuple(w / total for w in given.weights),
            )
        )
    return tuple(blends)


def pick(items: list[Any], first: int, every: int, count: int | None) -> list[Any]:
    """The selection rule of dataset sets: ``items[first::every]``, at most ``count`` of them."""
    return items[first::every][:count]


class ImageResolver:
    """Turns the image sets of one suite into files, with errors naming the suite and the key."""

    def __init__(self, source: str, base: Path, data_dir: Path | None) -> None:
        self.source = source
        self.base = base
        self.data_dir = data_dir
        self.datasets: dict[str, dict[str, Any]] = {}
        self.copies: dict[str, DatasetCopy] = {}

    def error(self, where: str, message: str) -> SuiteError:
        return SuiteError(f"suite {self.source}: {where}: {message}")

    def path(self, text: str, where: str) -> Path:
        """Absolute (or ``~``) paths as written; relative ones inside the suite's folder only."""
        path = Path(text).expanduser()
        if path.is_absolute():
            return path.resolve()
        normal = Path(os.path.normpath(path))
        if normal.parts[:1] == ("..",):
            raise self.error(
                where,
                f"{text!r} climbs out of the suite's folder {self.base}; "
                "write an absolute path to use images elsewhere",
            )
        return (self.base / normal).resolve()

    def images(self, images: ImageSet, where: str) -> list[tuple[str, Path]]:
        """The (name, path) pairs of one set, in order."""
        if images.generate is not None:
            assert images.count is not None
            paths = procedural.generate(
                images.generate, images.count, cache_dir() / "procedural", first=images.first
            )
            return [(p.name, p) for p in paths]
        if images.dataset is not None:
            return self.dataset(images, where)
        if images.folder is not None:
            folder = self.path(images.folder, f"{where}.folder")
            if not folder.is_dir():
                raise self.error(f"{where}.folder", f"{folder} is not a folder")
            paths = list_images(folder)
            if not paths:
                raise self.error(f"{where}.folder", f"{folder} holds no images (.jpg, .png, ...)")
            return [(p.name, p) for p in paths]
        files = images.files or []
        if not files:
            raise self.error(f"{where}.files", "is empty")
        paths = [self.path(f, f"{where}.files") for f in files]
        for path in paths:
            if not path.is_file():
                raise self.error(f"{where}.files", f"{path} does not exist")
        if len(set(paths)) != len(paths):
            raise self.error(f"{where}.files", "lists a file twice")
        return [(p.name, p) for p in paths]

    def dataset(self, images: ImageSet, where: str) -> list[tuple[str, Path]]:
        assert images.dataset is not None
        if images.dataset not in self.copies:
            self.copies[images.dataset] = ensure(images.dataset, self.data_dir)
        copy = self.copies[images.dataset]
        self.datasets[copy.spec.name] = copy.identity()
        for split in images.splits:
            if split not in copy.spec.splits:
                known = ", ".join(copy.spec.splits)
                raise self.error(
                    f"{where}.split", f"{split!r} is not a split of {copy.spec.name} ({known})"
                )
        listing = [(f"{s}/{p.name}", p) for s in images.splits for p in copy.split_files(s)]
        pinned = [f"{images.splits[0]}/{name}" for name in images.files or []]
        if images.selects:
            every = images.every or 1
            picked = pick(listing, images.first, every, images.count)
            rule = f"first={images.first}, every={every}, count={images.count or 'all'}"
            if not picked or (images.count and len(picked) < images.count):
                splits = "+".join(images.splits)
                raise self.error(
                    where, f"{rule} picks {len(picked)} of the {len(listing)} images in {splits}"
                )
            if images.files is not None and [n for n, _ in picked] != pinned:
                raise self.error(
                    f"{where}.files",
                    f"the pinned names are not the ones {rule} picks from this copy of "
                    f"{copy.spec.name} ({copy.folder}): check it with `bench data verify "
                    f"{copy.spec.name}`; if the dataset itself changed, re-pin the suite "
                    "(`bench data pin`) and bump its version",
                )
            return picked
        if images.files is not None:
            by_name = dict(listing)
            if len(set(pinned)) != len(pinned):
                raise self.error(f"{where}.files", "lists a file twice")
            missing = [name for name in pinned if name not in by_name]
            if missing:
                raise self.error(
                    f"{where}.files", f"{missing[0]} is not an image of {copy.spec.name}"
                )
            return [(name, by_name[name]) for name in pinned]
        return listing


def parse_overrides(items: list[str]) -> list[tuple[list[str], Any]]:
    """``key.sub=value`` strings to (key path, YAML-typed value) pairs."""
    parsed = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SuiteError(f"--set {item!r}: expected key=value, e.g. --set gatys.steps=300")
        try:
            parsed.append((key.strip().split("."), yaml.safe_load(value) if value else ""))
        except (yaml.YAMLError, RecursionError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SuiteError(
                f"--set {item!r}: the value is not YAML ({reason}); write a number, word, [list] "
                "or 'quoted text'"
            ) from None
    return parsed


def apply_overrides(raw: dict[str, Any], items: list[str]) -> dict[str, Any]:
    """Apply ``--set`` overrides; ``METHOD.key=v`` is short for ``methods.METHOD.key=v``.

    ``METHOD.preset=P`` replaces the suite's settings of that method with preset P's: a suite's
    listed budget belongs to the preset it was written for (``--set adain.preset=smoke`` on
    the monet suite is the smoke budget, not smoke with monet's 160,000 steps). Other ``--set``
    keys of the method still apply on top, in any order."""
    parsed = [
        (["methods", *path] if path[0] not in SuiteSpec.model_fields and len(path) > 1 else path,
         value)
        for path, value in parse_overrides(items)
    ]  # fmt: skip
    methods = raw.get("methods")
    for path, value in parsed:
        if len(path) == 3 and path[2] == "preset" and isinstance(methods, dict):
            methods[path[1]] = {"preset": value}
    for path, value in parsed:
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
    """content/ and style/ images (semantic/ maps, training/ photos where present) with every
    registered method that can run on them: trained methods only when there is a training/
    folder to train them on (or when named with ``--methods`` and given ``--checkpoint``)."""
    for sub in ("content", "style"):
        if not (folder / sub).is_dir():
            raise SuiteError(
                f"folder suite {folder} has no {sub}/ folder: a folder suite holds content/ and style/"
            )
    training = (folder / "training").is_dir()
    raw: dict[str, Any] = {
        "name": _slug(folder.name) or "folder",
        "version": 0,
        "description": f"images in {folder}",
        "image_size": 256,
        "content": {"folder": "content"},
        "style": {"folder": "style"},
        "methods": {
            name: {} for name, cls in METHODS.usable().items() if training or not cls.needs.training
        },
    }
    if (folder / "semantic").is_dir():
        raw["guides"] = {"folder": "semantic"}
    if training:
        raw["training"] = {"content": {"folder": "training"}}
    return raw


def _read_yaml(path: Path) -> Any:
    """A suite file's content; text that is not UTF-8, not YAML, or nested deeper than the
    parser's recursion allows (no suite is) is one error naming the file."""
    try:
        return yaml.safe_load(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SuiteError(
            f"suite {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    except yaml.YAMLError as exc:
        raise SuiteError(f"suite {path} is not valid YAML: {exc}") from exc
    except RecursionError:
        raise SuiteError(
            f"suite {path} is nested too deeply to read (lists or mappings hundreds of levels "
            "deep); a suite is a few levels deep: the file is damaged or not a suite"
        ) from None


@dataclass(frozen=True)
class SuiteSource:
    """A validated suite spec, where it came from, and the folder its paths are relative to."""

    spec: SuiteSpec
    source: str
    base: Path
    path: Path | None
    """The YAML file, or None for a folder suite."""


def read_spec(ref: str, overrides: list[str] | None = None) -> SuiteSource:
    """Read and validate a suite (registered name, YAML file or folder) without touching images.

    A registered suite's source names its origin: ``builtin:smoke``, or a plugin's
    ``distribution==version:name``."""
    path = Path(ref).expanduser()
    yaml_path: Path | None
    if ref in SUITES.names():
        origin = SUITES.entry(ref).origin
        source = f"{'builtin' if origin == 'built-in' else origin}:{ref}"
        yaml_path = SUITES.get(ref)
        raw = _read_yaml(yaml_path)
    elif path.is_dir():
        source = str(path.resolve())
        raw, yaml_path = _folder_suite(path.resolve()), None
    elif path.is_file():
        yaml_path, source = path.resolve(), str(path.resolve())
        raw = _read_yaml(yaml_path)
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
    base = yaml_path.parent if yaml_path else path.resolve()
    return SuiteSource(spec=spec, source=source, base=base, path=yaml_path)


def load_suite(ref: str, overrides: list[str] | None = None, data_dir: Path | None = None) -> Suite:
    """Load a built-in suite by name, a YAML suite file, or a folder with content/ and style/.

    Dataset images come from ``data_dir`` (default: ``$STYLEBENCH_DATA`` or the user cache),
    downloaded there on first use.
    """
    read = read_spec(ref, overrides)
    spec = read.spec
    resolver = ImageResolver(read.source, read.base, data_dir)
    taken: set[str] = set()
    roles = {
        "content": "content",
        "style": "style",
        "reference": "reference",
        "training.content": "tcontent",
        "training.style": "tstyle",
        "reverse.content": "rcontent",
        "reverse.reference": "rreference",
    }
    refs = {
        where: _refs(resolver.images(images, where), roles[where], taken)
        for where, images in spec.image_sets().items()
    }
    guides: dict[str, ImageRef] = {}
    if spec.guides:
        images = [(ref.key, ref.name, ref.path) for ref in (*refs["content"], *refs["style"])]
        for key, map_path in match_guides(spec.guides, read.base, images).items():
            guides[key] = ImageRef(
                key=guide_key(key), name=map_path.name, path=map_path, sha256=file_sha256(map_path)
            )
    return Suite(
        spec=spec,
        source=read.source,
        content=refs["content"],
        style=refs["style"],
        reference=refs.get("reference", ()),
        training_content=refs.get("training.content", ()),
        training_style=refs.get("training.style", ()),
        reverse_content=refs.get("reverse.content", ()),
        reverse_reference=refs.get("reverse.reference", ()),
        guides=guides,
        datasets=resolver.datasets,
        blends=_blends(resolver, spec, refs["style"], taken),
    )

"""Which semantic map belongs to which content or style image of a suite.

A suite's ``guides`` names a folder of maps. For each content and style image, in this order:

1. ``files`` lists its map explicitly (by the image's file name);
2. else the map named ``<image stem><suffix>`` (any image extension), neural-doodle's rule;
3. else the one map ``<name><suffix>`` whose ``<name>`` occurs in the image's stem (any case)
   and whose pixel size is exactly the image's (a map is drawn on its image, pixel for pixel):
   ``Gogh_sem.png`` for ``vangogh_self_portrait_doodle_sample.jpg``.

Images with no map get none (a semantic method then makes its maps automatically and the record
says so). A listed map that is missing, a map whose size is not its image's, or two maps that
fit one image by rule 3 are errors that name the files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from stylebench.errors import BenchError
from stylebench.images import list_images, open_rgb
from stylebench.suites.schema import GuideSpec


class GuideError(BenchError):
    """Semantic maps that cannot be matched to the suite's images."""


def guide_key(image_key: str) -> str:
    """The input key of an image's semantic map (never a valid image key: it has a colon)."""
    return f"guide:{image_key}"


def _size(path: Path) -> tuple[int, int]:
    return open_rgb(path).size


def match_guides(
    spec: GuideSpec, base: Path, images: Sequence[tuple[str, str, Path]]
) -> dict[str, Path]:
    """Map file for each ``(key, file name, path)`` image that has one, by image key."""
    folder = (base / spec.folder).resolve()
    if not folder.is_dir():
        raise GuideError(f"guides.folder: {folder} is not a folder")
    names = {name for _, name, _ in images}
    for name in spec.files:
        if name not in names:
            raise GuideError(
                f"guides.files: {name!r} is not a content or style image of this suite"
            )
    maps = [p for p in list_images(folder) if p.stem.endswith(spec.suffix) and spec.suffix]
    found: dict[str, Path] = {}
    for key, name, path in images:
        stem = Path(name).stem
        if name in spec.files:
            candidates = [folder / spec.files[name]]
            if not candidates[0].is_file():
                raise GuideError(f"guides.files.{name}: map {candidates[0]} does not exist")
        else:
            candidates = [m for m in maps if m.stem == f"{stem}{spec.suffix}"]
            if not candidates:
                named = [
                    m
                    for m in maps
                    if m.stem != spec.suffix
                    and m.stem.removesuffix(spec.suffix).lower() in stem.lower()
                ]
                candidates = [m for m in named if _size(m) == _size(path)]
        if not candidates:
            continue
        if len(candidates) > 1:
            listed = ", ".join(m.name for m in candidates)
            raise GuideError(
                f"guides: several maps fit {name} ({listed}); name one in guides.files"
            )
        if _size(candidates[0]) != _size(path):
            raise GuideError(
                f"guides: map {candidates[0]} is {_size(candidates[0])} px but its image "
                f"{path} is {_size(path)} px; a map must have its image's size"
            )
        found[key] = candidates[0]
    return found

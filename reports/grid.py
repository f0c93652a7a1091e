"""A PNG contact sheet of a run: one row per (content, style) pair, one column per method."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from stylebench.atomic import atomic_file
from stylebench.record_model import RunRecord
from stylebench.reports.files import RunFiles
from stylebench.reports.tables import split_methods

TILE = 96
BANNER = 28
#: Fill of a domain method's tiles below its one output per content image (not a failure).
NOT_APPLICABLE = (235, 235, 235)


def write_grid(record: RunRecord, run_dir: Path, files: RunFiles | None = None) -> Path | None:
    """Write ``grid.png`` (content | style | each method's output); missing outputs stay grey,
    as do files outside the run folder (refused by ``files``) and files that are no image.
    Domain methods come last, their one output per content image in its first row; the reverse
    direction's inputs (style domain -> photo) get a row each below the pairs, with the outputs
    of the domain methods that go that way; then a row per (content, blend) whose style tile
    shows the blend's parts side by side, each as wide as its weight. Tiles that do not apply
    (methods that cannot blend) are light grey."""
    files = files or RunFiles(run_dir)
    suite = record.suite
    pair_methods, domain_methods = split_methods(record)
    backwards = [m for m in domain_methods if record.methods[m].direction == "style_to_photo"]
    forwards = [m for m in domain_methods if m not in backwards]
    methods = pair_methods + domain_methods
    first_style = suite.style[0].key if suite.style else None
    outputs = {}
    for cell in record.cells:
        if cell.output:
            style = first_style if cell.method in domain_methods else cell.style
            outputs[cell.method, cell.content, style] = cell.output
    rows: list[list[str | tuple[int, int, int] | list[tuple[str | None, float]] | None]] = []
    for content in suite.content:
        for style in suite.style:
            below = style.key != first_style  # under a domain method's one output per content
            rows.append(
                [content.input, style.input]
                + [outputs.get((m, content.key, style.key)) for m in pair_methods]
                + [
                    NOT_APPLICABLE
                    if below or m in backwards
                    else outputs.get((m, content.key, style.key))
                    for m in domain_methods
                ]
            )
    for content in suite.reverse_content if backwards else []:
        rows.append(
            [content.input, NOT_APPLICABLE]
            + [NOT_APPLICABLE for _ in pair_methods]
            + [
                NOT_APPLICABLE if m in forwards else outputs.get((m, content.key, first_style))
                for m in domain_methods
            ]
        )
    planned = {(cell.method, cell.content, cell.style) for cell in record.cells}
    inputs = {image.key: image.input for image in suite.style}
    for content in suite.content:  # a blend's row: its parts side by side, by weight
        for blend in suite.blends:
            parts = [(inputs.get(part.key), part.weight) for part in blend.parts]
            rows.append(
                [content.input, parts]
                + [
                    outputs.get((m, content.key, blend.key))
                    if (m, content.key, blend.key) in planned
                    else NOT_APPLICABLE
                    for m in methods
                ]
            )
    if not rows:
        return None
    random = record.weights.random
    top = BANNER if random else 0
    width = TILE * (2 + len(methods))
    sheet = Image.new("RGB", (width, top + TILE * len(rows)), (128, 128, 128))
    if random:
        draw = ImageDraw.Draw(sheet)
        draw.rectangle((0, 0, width, BANNER), fill=(176, 0, 32))
        draw.text((6, 8), "RANDOM WEIGHTS - not a quality result", fill=(255, 255, 255))
    for row, tiles in enumerate(rows):
        for col, tile in enumerate(tiles):
            box = (col * TILE, top + row * TILE, (col + 1) * TILE, top + (row + 1) * TILE)
            if isinstance(tile, tuple):
                sheet.paste(tile, box)
            elif isinstance(tile, list):
                sheet.paste(_blend_tile(files, tile), box[:2])
            elif (image := _tile(files.path(tile))) is not None:
                sheet.paste(image, box[:2])
    path = run_dir / "grid.png"
    with atomic_file(path, "wb") as handle:
        sheet.save(handle, format="PNG")
    return path


def _blend_tile(files: RunFiles, parts: list[tuple[str | None, float]]) -> Image.Image:
    """A blend's style tile: a vertical strip of each part, as wide as its weight, labelled
    with the weight (grey where a part's file is unreadable)."""
    tile = Image.new("RGB", (TILE, TILE), (128, 128, 128))
    draw = ImageDraw.Draw(tile)
    left = 0
    for index, (path, weight) in enumerate(parts):
        right = TILE if index == len(parts) - 1 else min(TILE, left + round(TILE * weight))
        image = _tile(files.path(path))
        if image is not None and right > left:
            tile.paste(image.crop((left, 0, right, TILE)), (left, 0))
        draw.text((left + 2, 2), f"{weight:.0%}", fill=(255, 255, 255), stroke_width=1,
                  stroke_fill=(0, 0, 0))  # fmt: skip
        left = right
    return tile


def _tile(path: Path | None) -> Image.Image | None:
    """``path`` as a tile, or None where it is no file or no image Pillow can read."""
    if path is None or not path.is_file():
        return None
    try:
        with Image.open(path) as image:
            return image.convert("RGB").resize((TILE, TILE))
    except (OSError, ValueError, Image.DecompressionBombError):
        return None

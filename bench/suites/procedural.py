"""Deterministic procedural images for the built-in ``smoke`` suite (no download needed).

``scenes`` are photo-like content images (sky gradient, sun, mountains, houses, trees, water);
``paintings`` are style images made of brush strokes along a flow field. The same generator,
index and size always give the same pixels: bump `GENERATOR_VERSION` when drawing changes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from stylebench.images import write_png

GENERATOR_VERSION = 1
BASE_SIZE = 128


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    return a[None, :] * (1 - t[:, None]) + b[None, :] * t[:, None]


def _colour(rng: np.random.Generator, low: int = 0, high: int = 256) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(low, high, size=3))


def scene(index: int, size: int = BASE_SIZE) -> Image.Image:
    """A landscape: sky, sun, mountains, ground, houses and trees."""
    rng = np.random.default_rng([GENERATOR_VERSION, 1, index])
    horizon = int(size * rng.uniform(0.45, 0.65))
    sky = _lerp(
        np.array(_colour(rng, 40, 200)),
        np.array(_colour(rng, 150, 256)),
        np.linspace(0, 1, horizon),
    )
    ground = _lerp(
        np.array(_colour(rng, 30, 160)),
        np.array(_colour(rng, 10, 90)),
        np.linspace(0, 1, size - horizon),
    )
    rows = np.concatenate([sky, ground]).astype(np.uint8)
    image = Image.fromarray(np.repeat(rows[:, None, :], size, axis=1))
    draw = ImageDraw.Draw(image)
    r = size * rng.uniform(0.05, 0.1)
    cx, cy = size * rng.uniform(0.15, 0.85), horizon * rng.uniform(0.2, 0.6)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_colour(rng, 200, 256))
    peaks = [(0, horizon)]
    for x in np.linspace(0, size, int(rng.integers(3, 7))):
        peaks.append((float(x), horizon - size * rng.uniform(0.05, 0.3)))
    peaks.append((size, horizon))
    draw.polygon(peaks, fill=_colour(rng, 40, 140))
    for _ in range(int(rng.integers(1, 4))):
        w = size * rng.uniform(0.1, 0.2)
        x0, y0 = size * rng.uniform(0, 0.8), horizon + size * rng.uniform(0.02, 0.2)
        draw.rectangle((x0, y0, x0 + w, y0 + w * 0.8), fill=_colour(rng))
        draw.polygon(
            [(x0 - w * 0.1, y0), (x0 + w / 2, y0 - w * 0.6), (x0 + w * 1.1, y0)],
            fill=_colour(rng, 80, 200),
        )
    for _ in range(int(rng.integers(2, 6))):
        x, y = size * rng.uniform(0, 1), horizon + size * rng.uniform(0, 0.3)
        t = size * rng.uniform(0.04, 0.08)
        draw.rectangle((x - t * 0.15, y, x + t * 0.15, y + t * 1.5), fill=(90, 60, 30))
        draw.ellipse((x - t, y - t * 1.5, x + t, y + t * 0.3), fill=_colour(rng, 20, 150))
    return image


def painting(index: int, size: int = BASE_SIZE) -> Image.Image:
    """Brush strokes from a small palette following a swirling flow field."""
    rng = np.random.default_rng([GENERATOR_VERSION, 2, index])
    palette = [_colour(rng) for _ in range(int(rng.integers(3, 6)))]
    image = Image.new("RGB", (size, size), palette[0])
    draw = ImageDraw.Draw(image)
    frequency = rng.uniform(1.0, 4.0)
    phase = rng.uniform(0, 2 * math.pi)
    width = max(1, int(size * rng.uniform(0.015, 0.04)))
    length = size * rng.uniform(0.05, 0.15)
    for _ in range(size * 3):
        x, y = rng.uniform(0, size, size=2)
        angle = math.sin(frequency * x / size * math.pi + phase) * math.pi + math.cos(
            frequency * y / size * math.pi
        )
        dx, dy = math.cos(angle) * length / 2, math.sin(angle) * length / 2
        colour = palette[int(rng.integers(len(palette)))]
        jitter = tuple(int(np.clip(c + rng.integers(-25, 26), 0, 255)) for c in colour)
        draw.line((x - dx, y - dy, x + dx, y + dy), fill=jitter, width=width)
    return image.filter(ImageFilter.SMOOTH)


GENERATORS = {"scenes": scene, "paintings": painting}


def generate(kind: str, count: int, folder: Path, first: int = 0) -> list[Path]:
    """Write images ``first .. first+count-1`` of ``kind`` into ``folder`` (once); their paths."""
    draw = GENERATORS[kind]
    paths = []
    for index in range(first, first + count):
        path = folder / f"{kind}-v{GENERATOR_VERSION}" / f"{kind[:-1]}_{index:02d}.png"
        if not path.is_file():
            write_png(np.asarray(draw(index)), path)
        paths.append(path)
    return paths

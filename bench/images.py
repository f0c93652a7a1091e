"""The one image loader and writer: files in, [0, 1] RGB tensors out; uint8 arrays to PNG.

Every image a benchmark touches (content, style, semantic maps, references) goes through
`load_image`, so preprocessing is identical everywhere and recorded once (`PREPROCESS`).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from bench.errors import BenchError

#: Images larger than this are refused before decoding (decompression-bomb guard).
MAX_PIXELS = 64_000_000
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
PREPROCESS = "exif-transpose, RGB, resize shorter side (PIL bicubic, antialiased), centre crop"


class ImageError(BenchError):
    """An image file that cannot be used; the message names the file."""


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def open_rgb(path: Path) -> Image.Image:
    """Decode ``path`` into an upright RGB image, or raise `ImageError` naming the file."""
    if not path.is_file():
        raise ImageError(f"image {path} does not exist")
    if path.stat().st_size == 0:
        raise ImageError(f"image {path} is an empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise ImageError(
                        f"image {path} is {image.width}x{image.height}: larger than "
                        f"{MAX_PIXELS:,} pixels; downscale it first"
                    )
                image.load()
                upright = ImageOps.exif_transpose(image)
                return upright.convert("RGB")
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"cannot read image {path}: {exc}") from exc


def resize_square(image: Image.Image, size: int) -> Image.Image:
    """Resize the shorter side to ``size`` and crop the centre square."""
    scale = size / min(image.size)
    width, height = max(size, round(image.width * scale)), max(size, round(image.height * scale))
    resized = image.resize((width, height), Image.Resampling.BICUBIC)
    left, top = (width - size) // 2, (height - size) // 2
    return resized.crop((left, top, left + size, top + size))


def load_image(path: Path, size: int) -> torch.Tensor:
    """``path`` as a [3, size, size] float tensor in [0, 1] (see `PREPROCESS`)."""
    array = np.asarray(resize_square(open_rgb(path), size), dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div(255)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[B, 3, H, W] in [0, 1] to [B, H, W, 3] uint8, rounding to nearest."""
    return images.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def write_png(array: np.ndarray, path: Path, text: dict[str, str] | None = None) -> None:
    """Write an [H, W, 3] uint8 array as PNG atomically: readers never see half a file.

    ``text`` goes into PNG text chunks (e.g. which weights made the image).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.png")
    os.close(fd)
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    try:
        Image.fromarray(array).save(tmp, format="PNG", pnginfo=info)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)

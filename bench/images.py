"""The one image loader and writer: files in, [0, 1] RGB tensors out; uint8 arrays to PNG.

Every image a benchmark touches (content, style, semantic maps, references) goes through
`load_image`, so preprocessing is identical everywhere and recorded once (`PREPROCESS`).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from stylebench.atomic import atomic_file
from stylebench.errors import BenchError

if TYPE_CHECKING:
    import torch

#: Images larger than this are refused before decoding (decompression-bomb guard).
MAX_PIXELS = 64_000_000
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
#: Decoders Pillow may use: only the formats of `IMAGE_SUFFIXES` (Pillow's JPEG decoder also
#: reads cameras' multi-picture JPEGs). Anything else is refused, whatever its file name says.
FORMATS = ("JPEG", "PNG", "BMP", "WEBP", "TIFF")
PREPROCESS = (
    "first frame, exif-transpose, 8-bit RGB (alpha composited on white; 16-bit grey scaled by "
    "1/257, 16-bit colour to its top 8 bits; CMYK by Pillow, no ICC), "
    "resize shorter side (PIL bicubic, antialiased), centre crop"
)
_SIXTEEN_BIT = ("I", "I;16", "I;16B", "I;16L", "I;16N")
_ALPHA = ("RGBA", "LA", "PA")


class ImageError(BenchError):
    """An image file that cannot be used; the message names the file."""


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _on_white(image: Image.Image) -> Image.Image:
    """Composite a transparent image over white: what a viewer shows on a page."""
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def _to_rgb(image: Image.Image, path: Path) -> Image.Image:
    """Any decoded mode to 8-bit RGB without clipping or silently dropping information."""
    if image.mode in _SIXTEEN_BIT:
        values = np.asarray(image).astype(np.int64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ImageError(f"image {path} holds integers beyond 16 bits; save it as 8 or 16 bit")
        grey = np.round(values / 257).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if image.mode == "F":
        raise ImageError(f"image {path} is floating point; save it as an 8 or 16-bit image")
    if image.mode in _ALPHA or "transparency" in image.info:
        return _on_white(image)
    try:
        return image.convert("RGB")
    except ValueError as exc:
        raise ImageError(
            f"image {path} has colour mode {image.mode} that cannot be converted to RGB"
        ) from exc


def open_rgb(path: Path) -> Image.Image:
    """Decode ``path`` into an upright 8-bit RGB image, or raise `ImageError` naming the file.

    Pillow's decoders raise many kinds of exception on hostile or broken files (OSError,
    SyntaxError, struct.error, ...); every one of them means "this file cannot be used".
    """
    if not path.is_file():
        raise ImageError(f"image {path} does not exist")
    if path.stat().st_size == 0:
        raise ImageError(f"image {path} is an empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=FORMATS) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise ImageError(
                        f"image {path} is {image.width}x{image.height}: larger than "
                        f"{MAX_PIXELS:,} pixels; downscale it first"
                    )
                image.load()
                return _to_rgb(ImageOps.exif_transpose(image), path)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(
            f"image {path} is larger than {MAX_PIXELS:,} pixels ({exc}); downscale it first"
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageError(
            f"cannot read image {path}: not a JPEG, PNG, BMP, WebP or TIFF image"
        ) from exc
    except Exception as exc:
        raise ImageError(f"cannot read image {path}: {type(exc).__name__}: {exc}") from exc


def resize_square(image: Image.Image, size: int) -> Image.Image:
    """Resize the shorter side to ``size`` and crop the centre square."""
    scale = size / min(image.size)
    width, height = max(size, round(image.width * scale)), max(size, round(image.height * scale))
    resized = image.resize((width, height), Image.Resampling.BICUBIC)
    left, top = (width - size) // 2, (height - size) // 2
    return resized.crop((left, top, left + size, top + size))


def load_image(path: Path, size: int) -> torch.Tensor:
    """``path`` as a [3, size, size] float tensor in [0, 1] (see `PREPROCESS`)."""
    import torch  # here, so that listing and checking files (bench data, suites) stays light

    array = np.asarray(resize_square(open_rgb(path), size), dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div(255)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[B, 3, H, W] in [0, 1] to [B, H, W, 3] uint8, rounding to nearest."""
    import torch

    return images.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def write_png(array: np.ndarray, path: Path, text: dict[str, str] | None = None) -> None:
    """Write an [H, W, 3] uint8 array as PNG atomically: readers never see half a file.

    ``text`` goes into PNG text chunks (e.g. which weights made the image).
    """
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    with atomic_file(path, "wb") as handle:
        Image.fromarray(array).save(handle, format="PNG", pnginfo=info)

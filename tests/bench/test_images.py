"""The one image loader: every colour mode converted correctly, every bad file refused by name."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stylebench import images
from stylebench.images import ImageError, list_images, load_image, open_rgb

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png16(values: np.ndarray, colour_type: int) -> bytes:
    """A 16-bit PNG written by hand (Pillow cannot write 16-bit colour PNGs)."""
    height, width = values.shape[:2]
    rows = b"".join(b"\0" + values[y].astype(">u2").tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows))
        + _chunk(b"IEND", b"")
    )


def pixels(path: Path) -> np.ndarray:
    return np.asarray(open_rgb(path))


def save(image: Image.Image, path: Path, **options) -> Path:
    image.save(path, **options)
    return path


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (4, 2), RED)
    image.paste(Image.new("RGB", (2, 2), BLUE), (2, 0))  # red left half, blue right half
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = save(image, tmp_path / "rotated.png", exif=exif)
    out = pixels(path)
    assert out.shape == (4, 2, 3)  # portrait after rotation
    assert tuple(out[0, 0]) == RED and tuple(out[-1, -1]) == BLUE


def test_greyscale_and_one_bit_become_equal_channels(tmp_path):
    grey = save(Image.fromarray(np.array([[0, 100, 255]], np.uint8)), tmp_path / "g.png")
    assert pixels(grey)[0].tolist() == [[0, 0, 0], [100, 100, 100], [255, 255, 255]]
    bits = save(Image.new("1", (2, 1), 1), tmp_path / "b.bmp")
    assert pixels(bits)[0].tolist() == [[255, 255, 255]] * 2


def test_alpha_is_composited_on_white(tmp_path):
    rgba = np.array([[[255, 0, 0, 0], [0, 0, 255, 255], [0, 0, 0, 128]]], np.uint8)
    out = pixels(save(Image.fromarray(rgba), tmp_path / "a.png"))
    assert tuple(out[0, 0]) == WHITE  # transparent red shows the background
    assert tuple(out[0, 1]) == BLUE
    assert all(abs(int(v) - 127) <= 1 for v in out[0, 2])  # half-transparent black is mid grey
    la = Image.fromarray(np.array([[[0, 0], [50, 255]]], np.uint8), mode="LA")
    assert pixels(save(la, tmp_path / "la.png"))[0].tolist() == [[255] * 3, [50] * 3]


def test_palette_with_transparency(tmp_path):
    palette = Image.new("P", (2, 1))
    palette.putpalette([*RED, *BLUE] + [0] * 762)
    palette.putpixel((0, 0), 0)
    palette.putpixel((1, 0), 1)
    path = save(palette, tmp_path / "p.png", transparency=0)
    assert pixels(path)[0].tolist() == [list(WHITE), list(BLUE)]
    opaque = save(palette, tmp_path / "opaque.png")
    assert pixels(opaque)[0].tolist() == [list(RED), list(BLUE)]


@pytest.mark.parametrize("suffix", [".tif", ".jpg"])
def test_cmyk(tmp_path, suffix):
    cmyk = Image.new("CMYK", (16, 16), (0, 0, 0, 0))  # no ink: white
    cmyk.paste(Image.new("CMYK", (8, 16), (255, 0, 0, 0)), (8, 0))  # full cyan
    out = pixels(save(cmyk, tmp_path / f"c{suffix}")).astype(int)
    tolerance = 0 if suffix == ".tif" else 8
    assert np.abs(out[4, 2] - WHITE).max() <= tolerance
    assert np.abs(out[4, 13] - (0, 255, 255)).max() <= tolerance


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path):
    grey = tmp_path / "grey16.png"
    grey.write_bytes(png16(np.array([[0, 32896, 65535, 257]], np.uint16), colour_type=0))
    assert Image.open(grey).mode == "I;16"
    assert pixels(grey)[0, :, 0].tolist() == [0, 128, 255, 1]
    colour = tmp_path / "rgb16.png"
    colour.write_bytes(png16(np.array([[[65535, 32896, 0]]], np.uint16), colour_type=2))
    assert pixels(colour)[0, 0].tolist() == [255, 128, 0]


def test_load_image_is_square_float_in_unit_range(tmp_path):
    path = save(Image.new("RGB", (40, 20), RED), tmp_path / "wide.jpg", quality=95)
    tensor = load_image(path, 16)
    assert tensor.shape == (3, 16, 16) and 0 <= float(tensor.min()) <= float(tensor.max()) <= 1


def _bomb_png() -> bytes:
    """A PNG header that claims 100,000 x 100,000 pixels (10 gigapixels) over a few bytes."""
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b""))
        + _chunk(b"IEND", b"")
    )


def _bad_files(folder: Path) -> dict[str, tuple[bytes, str]]:
    """File name -> (bytes, pattern the error must match after the file name)."""
    jpeg = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(
        jpeg, format="JPEG"
    )
    png = io.BytesIO()
    Image.new("RGB", (64, 64), RED).save(png, format="PNG")
    bad_crc = bytearray(png.getvalue())
    bad_crc[30] ^= 0xFF  # inside IHDR: its CRC no longer matches
    gif = io.BytesIO()
    Image.new("RGB", (8, 8), RED).save(gif, format="GIF")
    floats = io.BytesIO()
    Image.fromarray(np.ones((4, 4), np.float32)).save(floats, format="TIFF")
    return {
        "empty.png": (b"", "is an empty file"),
        "notes.jpg": (b"these are my notes, not a picture\n", "not a JPEG, PNG"),
        "truncated.jpg": (jpeg.getvalue()[: len(jpeg.getvalue()) // 2], "truncated"),
        "truncated.png": (png.getvalue()[:60], "cannot read image"),
        "bad_crc.png": (bytes(bad_crc), "cannot read image"),
        "really_a_gif.png": (gif.getvalue(), "not a JPEG, PNG"),
        "bomb.png": (_bomb_png(), "larger than 64,000,000 pixels"),
        "floats.tif": (floats.getvalue(), "floating point"),
    }


def test_bad_files_are_refused_naming_the_file(tmp_path):
    for name, (data, pattern) in _bad_files(tmp_path).items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ImageError, match=pattern) as caught:
            load_image(path, 32)
        assert str(path) in str(caught.value), name
    with pytest.raises(ImageError, match="does not exist"):
        open_rgb(tmp_path / "missing.png")


def test_pixel_limit_is_checked_before_decoding(tmp_path, monkeypatch):
    path = save(Image.new("RGB", (10, 10), RED), tmp_path / "ten.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 99)
    with pytest.raises(ImageError, match="10x10: larger than 99 pixels"):
        open_rgb(path)


def test_runner_loads_good_inputs_and_records_bad_ones_per_image(tmp_path):
    """A run keeps going with the images that load; each bad file fails only its own cells."""
    from stylebench.driver import _load_inputs
    from stylebench.plan import make_plan
    from stylebench.suites.load import load_suite

    for sub in ("content", "style"):
        (tmp_path / "suite" / sub).mkdir(parents=True)
    save(Image.new("RGB", (40, 40), RED), tmp_path / "suite" / "content" / "good.png")
    save(Image.new("RGB", (40, 40), BLUE), tmp_path / "suite" / "style" / "art.png")
    bad = _bad_files(tmp_path)
    for name, (data, _) in bad.items():
        (tmp_path / "suite" / "content" / name).write_bytes(data)
    plan = make_plan(load_suite(str(tmp_path / "suite"), ["image_size=16"]), ["gatys"])
    loaded, errors = _load_inputs(plan, tmp_path / "run")
    assert set(loaded) == {"c-good", "s-art"}
    assert len(errors) == len(bad) and all(
        any(name in message for name in bad) for message in errors.values()
    )
    assert (tmp_path / "run" / "inputs" / "content" / "c-good.png").is_file()
    assert len(list_images(tmp_path / "suite" / "content")) == len(bad) + 1

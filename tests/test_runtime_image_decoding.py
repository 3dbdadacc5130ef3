"""Every image mode a photo arrives in decodes to the same pixels as its 8-bit twin.

Each case writes (or builds) an image in one mode from a seeded 8-bit image and checks
that ``to_gray`` / ``to_rgb`` give exactly what they give for the plain 8-bit image.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edgefer.preprocessing import to_gray, to_rgb

RNG = np.random.default_rng(5)
GRAY = RNG.integers(0, 256, (40, 30), dtype=np.uint8)
RGB = RNG.integers(0, 256, (40, 30, 3), dtype=np.uint8)


def saved(tmp_path, image: Image.Image, name: str, **options) -> str:
    path = tmp_path / name
    image.save(path, **options)
    return str(path)


@pytest.mark.parametrize("suffix", ["png", "tiff"])
def test_16_bit_grayscale_files_are_scaled_not_clipped(tmp_path, suffix):
    wide = Image.fromarray(GRAY.astype(np.uint16) * 257)  # 8-bit value v is 16-bit v * 257
    path = saved(tmp_path, wide, f"wide.{suffix}")
    assert Image.open(path).mode.startswith("I")
    np.testing.assert_array_equal(to_gray(path), GRAY)
    np.testing.assert_array_equal(to_rgb(path), np.repeat(GRAY[..., None], 3, axis=2))


def test_32_bit_integer_mode_is_read_as_16_bit():
    image = Image.fromarray(GRAY.astype(np.int32) * 257, mode="I")
    np.testing.assert_array_equal(to_gray(image), GRAY)


def test_float_mode_in_0_1_matches_8_bit():
    image = Image.fromarray(GRAY.astype(np.float32) / 255.0, mode="F")
    np.testing.assert_array_equal(to_gray(image), GRAY)


def test_palette_image_matches_its_rgb_twin(tmp_path):
    palette = Image.fromarray(RGB).quantize(64)
    path = saved(tmp_path, palette, "palette.png")
    twin = palette.convert("RGB")
    np.testing.assert_array_equal(to_rgb(path), np.asarray(twin))
    np.testing.assert_array_equal(to_gray(path), to_gray(twin))


def test_palette_transparency_is_white(tmp_path):
    palette = Image.fromarray(RGB).quantize(64)
    index = int(np.asarray(palette)[0, 0])
    path = saved(tmp_path, palette, "transparent.png", transparency=index)
    transparent = np.asarray(palette) == index
    rgb = to_rgb(path)
    assert np.all(rgb[transparent] == 255)
    np.testing.assert_array_equal(rgb[~transparent], np.asarray(palette.convert("RGB"))[~transparent])


def test_gray_with_alpha_composites_on_white(tmp_path):
    alpha = np.full_like(GRAY, 255)
    alpha[:10] = 0  # a transparent band: whatever gray it holds must not show
    path = saved(tmp_path, Image.fromarray(np.stack([GRAY, alpha], axis=2), mode="LA"), "la.png")
    expected = GRAY.copy()
    expected[:10] = 255
    np.testing.assert_array_equal(to_gray(path), expected)


def test_rgba_half_transparency_blends_with_white():
    alpha = np.full(RGB.shape[:2], 255, np.uint8)
    alpha[:, :15] = 128
    rgba = np.concatenate([RGB, alpha[..., None]], axis=2)
    blended = RGB.astype(float) * (alpha[..., None] / 255) + 255 * (1 - alpha[..., None] / 255)
    assert np.abs(to_rgb(rgba).astype(float) - blended).max() <= 1  # Pillow's integer rounding
    np.testing.assert_array_equal(to_rgb(rgba)[:, 15:], RGB[:, 15:])  # opaque: untouched
    np.testing.assert_array_equal(to_gray(Image.fromarray(rgba)), to_gray(to_rgb(rgba)))


def test_cmyk_matches_its_rgb_twin(tmp_path):
    path = saved(tmp_path, Image.fromarray(RGB).convert("CMYK"), "cmyk.tiff")
    assert Image.open(path).mode == "CMYK"
    np.testing.assert_array_equal(to_rgb(path), RGB)
    np.testing.assert_array_equal(to_gray(path), to_gray(RGB))


def test_bilevel_is_black_and_white():
    bits = GRAY > 127
    np.testing.assert_array_equal(to_gray(Image.fromarray(bits)), np.where(bits, 255, 0))


@pytest.mark.parametrize("orientation, stored_as", [(3, Image.Transpose.ROTATE_180), (6, Image.Transpose.ROTATE_90),
                                                    (8, Image.Transpose.ROTATE_270)])
def test_exif_orientation_is_applied(tmp_path, orientation, stored_as):
    upright = Image.fromarray(GRAY)
    exif = Image.Exif()
    exif[0x0112] = orientation  # how a viewer must turn the stored pixels to show them upright
    path = saved(tmp_path, upright.transpose(stored_as), "phone.png", exif=exif)
    np.testing.assert_array_equal(to_gray(path), GRAY)
    with Image.open(path) as opened:  # an opened PIL image is turned the same way
        np.testing.assert_array_equal(to_gray(opened), GRAY)

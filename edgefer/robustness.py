"""A fixed, seeded suite of image shifts for robustness scores, in NumPy and Pillow only.

Every shift is a function ``(faces, rng) -> faces`` over canonical (N, 48, 48) uint8
faces that returns a new uint8 array of the same shape; ``rng`` is a
``numpy.random.Generator`` and is used only by shifts with a random part (noise, the
direction of the rotation and of the translation). :data:`SHIFTS` is the ordered
registry; :func:`shifted` applies one shift with the suite's own seeding, so training,
benchmarks and tests that name a shift and a seed see the same pixels.

Geometric shifts (rotation, translation) replicate the border instead of filling it
with black, so they measure sensitivity to pose and framing, not to new dark edges.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFilter

Shift = Callable[[np.ndarray, np.random.Generator], np.ndarray]

JPEG_QUALITY = 20
BLUR_RADIUS = 1.0
NOISE_SIGMA = 12.0
DOWN_UP_SIZE = 24
DARKER_BY = 60
CONTRAST_FACTOR = 0.5
ROTATION_DEGREES = 12.0
SHIFT_PIXELS = 4
DEFAULT_SEED = 0


def _check(faces: np.ndarray) -> np.ndarray:
    faces = np.asarray(faces)
    if faces.ndim != 3 or faces.dtype != np.uint8:
        raise ValueError(f"faces must be a (N, H, W) uint8 array, got {faces.dtype} {faces.shape}")
    return faces


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _per_face(faces: np.ndarray, fn: Callable[[Image.Image], Image.Image]) -> np.ndarray:
    out = np.empty_like(faces)
    for i, face in enumerate(faces):
        out[i] = np.asarray(fn(Image.fromarray(face, mode="L")), dtype=np.uint8)
    return out


def clean(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The faces unchanged (a copy)."""
    return _check(faces).copy()


def jpeg_q20(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A JPEG round trip at quality 20 (Pillow's encoder, 4:2:0 irrelevant for grey)."""

    def roundtrip(image: Image.Image) -> Image.Image:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
        buffer.seek(0)
        return Image.open(buffer).convert("L")

    return _per_face(_check(faces), roundtrip)


def blur_r1(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gaussian blur, radius (sigma) 1 pixel."""
    return _per_face(_check(faces), lambda im: im.filter(ImageFilter.GaussianBlur(radius=BLUR_RADIUS)))


def noise_s12(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Additive Gaussian noise, sigma 12 grey levels, rounded and clipped."""
    faces = _check(faces)
    return _to_uint8(faces.astype(np.float64) + rng.normal(0.0, NOISE_SIGMA, faces.shape))


def down_up_24(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bilinear downscale to 24x24 and back to the original size (a low-resolution camera)."""
    faces = _check(faces)
    h, w = faces.shape[1:]
    return _per_face(faces, lambda im: im.resize((DOWN_UP_SIZE, DOWN_UP_SIZE), Image.BILINEAR)
                     .resize((w, h), Image.BILINEAR))


def darker_60(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Every pixel 60 grey levels darker, clipped at 0 (under-exposure)."""
    return _to_uint8(_check(faces).astype(np.int16) - DARKER_BY)


def contrast_half(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Contrast halved around each face's own mean grey level."""
    x = _check(faces).astype(np.float64)
    mean = x.mean(axis=(1, 2), keepdims=True)
    return _to_uint8(mean + CONTRAST_FACTOR * (x - mean))


def _bilinear_sample(faces: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Sample (N, H, W) faces at per-face float coordinates (N, H, W), border replicated."""
    n, h, w = faces.shape
    ys = np.clip(ys, 0, h - 1)
    xs = np.clip(xs, 0, w - 1)
    y0 = np.minimum(np.floor(ys).astype(np.int64), h - 2)
    x0 = np.minimum(np.floor(xs).astype(np.int64), w - 2)
    fy, fx = ys - y0, xs - x0
    idx = np.arange(n)[:, None, None]
    f = faces.astype(np.float64)
    top = f[idx, y0, x0] * (1 - fx) + f[idx, y0, x0 + 1] * fx
    bottom = f[idx, y0 + 1, x0] * (1 - fx) + f[idx, y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def rotate_12(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rotation by 12 degrees about the centre, clockwise or anticlockwise per face (seeded)."""
    faces = _check(faces)
    n, h, w = faces.shape
    angles = np.deg2rad(ROTATION_DEGREES) * rng.choice([-1.0, 1.0], size=n)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    cos, sin = np.cos(angles)[:, None, None], np.sin(angles)[:, None, None]
    # Inverse map: each output pixel reads the input at the point rotated back.
    ys = cy + (yy - cy) * cos - (xx - cx) * sin
    xs = cx + (yy - cy) * sin + (xx - cx) * cos
    return _to_uint8(_bilinear_sample(faces, ys, xs))


_DIRECTIONS = np.array([(0, 1), (0, -1), (1, 0), (-1, 0)])  # (dy, dx): right, left, down, up


def shift_4(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Translation by 4 pixels up, down, left or right per face (seeded), border replicated."""
    faces = _check(faces)
    n, h, w = faces.shape
    out = np.empty_like(faces)
    for i, (dy, dx) in enumerate(_DIRECTIONS[rng.integers(0, len(_DIRECTIONS), size=n)]):
        ys = np.clip(np.arange(h) - dy * SHIFT_PIXELS, 0, h - 1)
        xs = np.clip(np.arange(w) - dx * SHIFT_PIXELS, 0, w - 1)
        out[i] = faces[i][np.ix_(ys, xs)]
    return out


SHIFTS: dict[str, Shift] = {
    "clean": clean,
    "jpeg_q20": jpeg_q20,
    "blur_r1": blur_r1,
    "noise_s12": noise_s12,
    "down_up_24": down_up_24,
    "darker_60": darker_60,
    "contrast_0.5": contrast_half,
    "rotate_12": rotate_12,
    "shift_4px": shift_4,
}


def shift_rng(name: str, seed: int = DEFAULT_SEED) -> np.random.Generator:
    """The generator a shift gets in the suite: one stream per (seed, shift name)."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def shifted(name: str, faces: np.ndarray, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Faces under the named shift, seeded as the suite seeds it."""
    if name not in SHIFTS:
        raise KeyError(f"unknown shift {name!r}; known: {', '.join(SHIFTS)}")
    return SHIFTS[name](faces, shift_rng(name, seed))

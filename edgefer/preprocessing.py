"""The one preprocessing definition, shared by training, export, parity and the runtime.

A face goes through three steps, in this order, everywhere:

1. canonical face: 8-bit grayscale at ``face_size`` x ``face_size`` (48, as FER2013);
2. model size: bilinear resize to ``input_size`` and replication to ``channels``;
3. value scaling: ``(x - mean) / std``.

Steps 1-2 run on uint8 arrays with Pillow (so a Raspberry Pi needs no TensorFlow);
step 3 is plain arithmetic, so the same :meth:`PreprocessSpec.normalize` works on
NumPy arrays and on TensorFlow tensors inside the training pipeline.
The spec is saved with every trained model and embedded in every exported one.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ConfigError, DataError

FACE_SIZE = 48
# ITU-R 601-2 luma, the weights Pillow's convert("L") applies in to_gray; exported models
# apply the same weights in the graph, so a colour crop and its grey version agree.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
# What a model file may declare. The sizes edgefer trains at are narrower, per model
# family (edgefer.families): from the face size up to about the family's design size.
MIN_INPUT_SIZE, MAX_INPUT_SIZE = 32, 600

FaceInput = Union[str, os.PathLike, Image.Image, np.ndarray]


@dataclass(frozen=True)
class PreprocessSpec:
    input_size: int = 48
    channels: int = 3
    mean: float = 127.0
    std: float = 128.0
    face_size: int = FACE_SIZE

    def __post_init__(self) -> None:
        if not MIN_INPUT_SIZE <= self.input_size <= MAX_INPUT_SIZE:
            raise ConfigError(f"input_size must be between {MIN_INPUT_SIZE} and {MAX_INPUT_SIZE}, got {self.input_size}")
        if self.channels not in (1, 3):
            raise ConfigError(f"channels must be 1 or 3, got {self.channels}")
        if self.std <= 0:
            raise ConfigError(f"std must be positive, got {self.std}")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.input_size, self.input_size, self.channels)

    @property
    def takes_canonical_face(self) -> bool:
        """Whether a model with this spec takes the canonical face itself (any resize to its
        network's size is inside it), so every runtime feeds it alike."""
        return self.input_size == self.face_size

    def normalize(self, x: Any) -> Any:
        """Value scaling; works on float NumPy arrays and TensorFlow tensors alike."""
        return (x - self.mean) / self.std

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PreprocessSpec":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ConfigError(f"unknown preprocessing field(s): {', '.join(sorted(unknown))}")
        return cls(**data)


# Decoding a huge image takes all memory; larger ones are refused before decoding.
# The default is the size Pillow itself warns about (Pillow refuses twice that anyway).
MAX_IMAGE_PIXELS_ENV, DEFAULT_MAX_IMAGE_PIXELS = "EDGEFER_MAX_IMAGE_PIXELS", 89_478_485


def max_image_pixels() -> int:
    text = os.environ.get(MAX_IMAGE_PIXELS_ENV, "")
    try:
        return int(text) if text else DEFAULT_MAX_IMAGE_PIXELS
    except ValueError:
        raise ConfigError(f"{MAX_IMAGE_PIXELS_ENV} must be a whole number of pixels, got {text!r}") from None


def _check_pixels(path: Path, size: tuple[int, int]) -> None:
    if size[0] * size[1] > max_image_pixels():
        raise _too_large(path, f"{size[0]}x{size[1]} = {size[0] * size[1]:,} pixels")


def _too_large(path: Path, size: str) -> DataError:
    return DataError(f"{path}: image too large ({size}; the limit is {max_image_pixels():,} pixels, "
                     f"set by {MAX_IMAGE_PIXELS_ENV})")


def load_image(path: str | os.PathLike) -> Image.Image:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the limit below decides
            img = Image.open(path)
    except Image.DecompressionBombError:
        raise _too_large(path, "over twice Pillow's own limit") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: not a readable image ({exc.__class__.__name__})") from None
    try:
        with img:
            _check_pixels(path, img.size)
            img.load()
            # Phones store portraits sideways with an EXIF rotation flag; faces must be upright.
            return ImageOps.exif_transpose(img)
    except Image.DecompressionBombError:
        raise _too_large(path, "over twice Pillow's own limit") from None
    # Pillow reports some malformed headers (a PNG's broken chunk) as SyntaxError.
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: not a readable image ({exc.__class__.__name__})") from None


def _array_to_image(arr: np.ndarray) -> Image.Image:
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise DataError(
            f"face array must be HxW, HxWx1, HxWx3 or HxWx4, got shape {tuple(arr.shape)}"
        )
    if min(arr.shape[:2]) < 1:
        raise DataError(f"face array is empty: shape {tuple(arr.shape)}")
    if arr.dtype == np.uint8:
        pass
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise DataError("face array contains NaN or infinity")
        # Float images are conventionally in [0, 1]; 0-255 floats are taken as they are.
        arr = arr * 255.0 if arr.max(initial=0.0) <= 1.0 else arr
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.integer):
        if arr.min(initial=0) < 0 or arr.max(initial=0) > 255:
            raise DataError("integer face array values must lie in 0..255")
        arr = arr.astype(np.uint8)
    else:
        raise DataError(f"face array dtype {arr.dtype} is not supported (use uint8 or float)")
    mode = {2: "L", 3: "RGB", 4: "RGBA"}[arr.ndim if arr.ndim == 2 else arr.shape[-1]]
    return Image.fromarray(np.ascontiguousarray(arr), mode=mode)


def _to_8bit(image: Image.Image) -> Image.Image:
    """An image in L or RGB: the two modes the rest of edgefer reads."""
    if image.mode in ("L", "RGB"):
        return image
    if image.mode.startswith("I"):
        # 16-bit files (PNG, TIFF) open as I;16 or I; Pillow's own conversion would
        # clip everything above 255 to white instead of scaling the range down.
        wide = np.asarray(image).astype(np.float64)
        return Image.fromarray(np.clip(np.rint(wide / 257.0), 0, 255).astype(np.uint8), mode="L")
    if image.mode == "F":
        return _array_to_image(np.asarray(image))
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        # Transparent pixels hold arbitrary colour (often black); on white, a cut-out
        # face looks as it does in any viewer and every encoder of it gives the same pixels.
        gray = image.mode in ("LA", "La")
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat = Image.alpha_composite(background, rgba).convert("RGB")
        return flat.convert("L") if gray else flat
    if image.mode == "1":
        return image.convert("L")
    try:  # CMYK, YCbCr, LAB, HSV
        return image.convert("RGB")
    except ValueError as exc:
        raise DataError(f"image mode {image.mode} cannot be converted to RGB ({exc})") from None


def _decode(image: FaceInput) -> Image.Image:
    if isinstance(image, (str, os.PathLike)):
        loaded = load_image(image)
        try:
            return _to_8bit(loaded)
        except DataError as exc:  # e.g. a float TIFF holding NaN: say which file
            raise DataError(f"{image}: {exc}") from None
    if isinstance(image, np.ndarray):
        return _to_8bit(_array_to_image(image))
    if isinstance(image, Image.Image):
        return _to_8bit(ImageOps.exif_transpose(image))
    raise DataError(f"cannot read an image from {type(image).__name__}")


def to_gray(image: FaceInput) -> np.ndarray:
    """Any image (path, PIL image, array of any mode) -> uint8 (H, W) grayscale at full size.

    16-bit images are scaled to 8 bits, transparency is composited on white and EXIF
    orientation is applied, so an image and its 8-bit opaque twin give the same pixels.
    """
    decoded = _decode(image)
    return np.asarray(decoded if decoded.mode == "L" else decoded.convert("L"), dtype=np.uint8)


def to_rgb(image: FaceInput) -> np.ndarray:
    """Any image -> uint8 (H, W, 3) RGB at full size, decoded exactly as :func:`to_gray` does."""
    decoded = _decode(image)
    return np.asarray(decoded if decoded.mode == "RGB" else decoded.convert("RGB"), dtype=np.uint8)


def to_face(image: FaceInput, face_size: int = FACE_SIZE) -> np.ndarray:
    """Any image (path, PIL image, array of any size and mode) -> uint8 face_size x face_size,
    resampled as :func:`sample_bilinear` does."""
    gray = to_gray(image)
    return gray if gray.shape == (face_size, face_size) else sample_bilinear(gray, face_size)


# Sub-pixel positions in 1/32 steps and 10-bit weights: OpenCV's warpAffine (INTER_LINEAR),
# which MediaPipe Tasks' CPU image-to-tensor step calls to fit a crop to a model's input.
_SUBPIXEL_BITS, _POSITION_BITS = 5, 10


def _sample_positions(source: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(left index, right index, weight of the right one in 1/32) of each output pixel: output
    pixel i samples the source at i * source / size, rounded to 1/32, edges replicated."""
    i = np.arange(size, dtype=np.int64)
    # round(i * source / size * 2**10) in integers (never a tie for a 48 px face), then OpenCV's shift.
    fixed = (2 * i * source * (1 << _POSITION_BITS) + size) // (2 * size)
    position = (fixed + (1 << (_POSITION_BITS - _SUBPIXEL_BITS - 1))) >> (_POSITION_BITS - _SUBPIXEL_BITS)
    left = position >> _SUBPIXEL_BITS
    return (np.minimum(left, source - 1), np.minimum(left + 1, source - 1),
            position & ((1 << _SUBPIXEL_BITS) - 1))


def sample_bilinear(gray: np.ndarray, size: int) -> np.ndarray:
    """uint8 (H, W) -> uint8 (size, size) by bilinear sampling without prefiltering, bit for bit
    as MediaPipe Tasks' ImageClassifier resizes a crop on the CPU: every runtime that feeds a
    model the canonical face (a 48 px crop, or a larger one it resizes this way) gets edgefer's answer."""
    y0, y1, fy = _sample_positions(gray.shape[0], size)
    x0, x1, fx = _sample_positions(gray.shape[1], size)
    g = gray.astype(np.int64)
    one = 1 << _SUBPIXEL_BITS
    wy, wx = fy[:, None], fx[None, :]
    total = ((one - wy) * ((one - wx) * g[y0][:, x0] + wx * g[y0][:, x1])
             + wy * ((one - wx) * g[y1][:, x0] + wx * g[y1][:, x1]))
    return ((total + (1 << (2 * _SUBPIXEL_BITS - 1))) >> (2 * _SUBPIXEL_BITS)).astype(np.uint8)


def resize_faces(faces: np.ndarray, size: int) -> np.ndarray:
    """(N, F, F) uint8 canonical faces -> (N, size, size) uint8, with Pillow's bilinear filter."""
    faces = np.asarray(faces)
    if faces.ndim != 3 or faces.dtype != np.uint8:
        raise DataError(f"faces must be a uint8 (N, H, W) array, got {faces.dtype} {faces.shape}")
    if faces.shape[1:] == (size, size):
        return faces
    out = np.empty((len(faces), size, size), dtype=np.uint8)
    for i, face in enumerate(faces):
        out[i] = np.asarray(Image.fromarray(face, mode="L").resize((size, size), Image.BILINEAR))
    return out


def replicate_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """(N, H, W) -> (N, H, W, channels)."""
    return np.repeat(x[..., None], channels, axis=-1) if channels > 1 else x[..., None]


def model_input(faces: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """(N, F, F) uint8 canonical faces -> float32 model input (N, S, S, C)."""
    resized = resize_faces(faces, spec.input_size).astype(np.float32)
    return spec.normalize(replicate_channels(resized, spec.channels)).astype(np.float32)

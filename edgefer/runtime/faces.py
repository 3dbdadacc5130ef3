"""Finding and cropping faces in whole photos and video frames.

The default detector is MediaPipe's BlazeFace (full range), shipped as package data
and run by the same TFLite interpreter as the classifier (:mod:`.blazeface`). OpenCV's
frontal-face Haar cascade, inside ``opencv-python-headless`` 4.x (the ``faces``
extra), remains selectable. Any callable mapping a grayscale image to (x, y, w, h)
boxes can stand in for either.
"""

from __future__ import annotations

import math
import os
import threading
from typing import Any, Iterable, Protocol, Sequence

import numpy as np
from PIL import Image

from ..errors import ConfigError, DataError, ModelError

Box = tuple[int, int, int, int]  # x, y, width, height in pixels
CASCADE_FILE = "haarcascade_frontalface_default.xml"
# FER2013 faces are tight crops; a little context keeps the chin and brows in view
# when a detector's box is snug, without pulling in much background.
DEFAULT_MARGIN = 0.1


# Names accepted by make_detector (and --detector). "blazeface" is the full-range model:
# on benchmarks/bench_faces.py it found all 10 faces (short range: 7, missing the small
# ones; Haar: 8, with 9 false boxes) for 5 ms per 640x480 photo against 3 ms. The default
# is also what the browser page of `edgefer web` runs, decoding as blazeface.py does.
DETECTORS = ("blazeface", "blazeface-short", "haar")
DEFAULT_DETECTOR = "blazeface"


class FaceDetector(Protocol):
    def __call__(self, gray: np.ndarray) -> Sequence[Box | Any]:
        """The faces in a uint8 (H, W) grayscale image: boxes, or records with ``.box``
        and ``.score`` (such as BlazeFace's). A detector whose ``wants_rgb`` is true is
        given the (H, W, 3) RGB image instead."""


def make_detector(name: str, min_score: float, num_threads: int | None = None, backend: str | None = None,
                  pool_size: int | None = None) -> FaceDetector:
    """A detector by name; `min_score` applies to BlazeFace (Haar gives no score)."""
    if name == "haar":
        return HaarFaceDetector()
    if name in ("blazeface", "blazeface-short"):
        from .blazeface import BlazeFaceDetector

        return BlazeFaceDetector("short" if name.endswith("short") else "full", min_score=min_score,
                                 num_threads=num_threads, backend=backend, pool_size=pool_size)
    raise ConfigError(f"unknown face detector {name!r} (choose from {', '.join(DETECTORS)})")


def import_cv2(purpose: str = "video") -> Any:
    """OpenCV, which only video and the Haar detector need (photos use BlazeFace, shipped)."""
    if not os.environ.get("EDGEFER_VERBOSE"):
        # FFmpeg's own lines ("[mjpeg @ 0x...] No JPEG data found") precede edgefer's one-line error.
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    try:
        import cv2
    except ImportError:
        raise ConfigError(f"{purpose} needs OpenCV: pip install 'edgefer[faces]' "
                          "(photos with the default BlazeFace detector do not)") from None
    return cv2


class HaarFaceDetector:
    """OpenCV's Haar cascade for frontal faces; safe to share between threads."""

    def __init__(self, scale_factor: float = 1.1, min_neighbors: int = 5, min_size: int = 24) -> None:
        cv2 = import_cv2("the haar detector")
        path = os.path.join(getattr(getattr(cv2, "data", None), "haarcascades", ""), CASCADE_FILE)
        # OpenCV 5 moved the Haar cascades (code and XML files) out of the main package.
        if not hasattr(cv2, "CascadeClassifier") or not os.path.isfile(path):
            raise ConfigError(
                f"OpenCV {cv2.__version__} ships no Haar face cascade; "
                "pip install 'opencv-python-headless>=4.8,<5' or pass face boxes yourself"
            )
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise ModelError(f"{path}: OpenCV's face cascade is unreadable; reinstall opencv-python-headless")
        self._options = dict(scaleFactor=scale_factor, minNeighbors=min_neighbors, minSize=(min_size, min_size))
        # The cascade keeps per-call scratch state, so concurrent calls are serialised.
        self._lock = threading.Lock()

    def __call__(self, gray: np.ndarray) -> list[Box]:
        with self._lock:
            found = self._cascade.detectMultiScale(gray, **self._options)
        # Left to right, then top to bottom, so output order is stable for the user.
        return sorted((tuple(int(v) for v in box) for box in found), key=lambda b: (b[0], b[1]))


def check_boxes(boxes: Iterable[Sequence[int]], shape: tuple[int, ...]) -> list[Box]:
    """Caller-given boxes as int tuples, refused when malformed or outside the image."""
    height, width = shape[:2]
    checked = []
    for box in boxes:
        values = tuple(box)
        if len(values) != 4 or not all(isinstance(v, (int, np.integer)) for v in values):
            raise DataError(f"a face box must be four integers (x, y, w, h), got {box!r}")
        x, y, w, h = (int(v) for v in values)
        if w <= 0 or h <= 0:
            raise DataError(f"face box {values} has no area")
        if x >= width or y >= height or x + w <= 0 or y + h <= 0:
            raise DataError(f"face box {values} lies outside the {width}x{height} image")
        checked.append((x, y, w, h))
    return checked


def crop_face(gray: np.ndarray, box: Box, margin: float = DEFAULT_MARGIN) -> np.ndarray:
    """The box grown by `margin` of its size on every side, clipped to the image."""
    x, y, w, h = box
    dx, dy = round(w * margin), round(h * margin)
    top, left = max(0, y - dy), max(0, x - dx)
    bottom, right = min(gray.shape[0], y + h + dy), min(gray.shape[1], x + w + dx)
    return gray[top:bottom, left:right]


def crop_aligned(gray: np.ndarray, box: Box, keypoints: np.ndarray, margin: float = DEFAULT_MARGIN) -> np.ndarray:
    """As :func:`crop_face`, with the face first turned about the box centre so that its
    eyes (keypoints 0 and 1: the subject's right, then left eye, in pixels) are level.

    FER2013 faces are upright; a tilted head otherwise reaches the classifier tilted.
    Pixels the turn brings in from outside the image are black.
    """
    (right_x, right_y), (left_x, left_y) = np.asarray(keypoints, np.float64)[:2]
    angle = math.degrees(math.atan2(left_y - right_y, left_x - right_x))
    x, y, w, h = box
    dx, dy = round(w * margin), round(h * margin)
    centre_x, centre_y = x + w / 2, y + h / 2
    # A square around the centre that holds the grown box at any angle.
    half = math.ceil(math.hypot(w / 2 + dx, h / 2 + dy)) + 1
    left, top = round(centre_x) - half, round(centre_y) - half
    region = Image.fromarray(gray).crop((left, top, left + 2 * half, top + 2 * half))
    turned = region.rotate(angle, resample=Image.BILINEAR, center=(centre_x - left, centre_y - top))
    crop_left, crop_top = round(centre_x - left - w / 2 - dx), round(centre_y - top - h / 2 - dy)
    return np.asarray(turned.crop((crop_left, crop_top, crop_left + w + 2 * dx, crop_top + h + 2 * dy)))

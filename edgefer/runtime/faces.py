"""Finding and cropping faces in whole photos and video frames.

The default detector is OpenCV's frontal-face Haar cascade, whose XML ships inside
``opencv-python-headless`` 4.x (the ``faces`` extra), so detection works offline.
Any callable mapping a grayscale image to (x, y, w, h) boxes can stand in for it.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Iterable, Protocol, Sequence

import numpy as np

from ..errors import ConfigError, DataError, ModelError


Box = tuple[int, int, int, int]  # x, y, width, height in pixels
CASCADE_FILE = "haarcascade_frontalface_default.xml"
# FER2013 faces are tight crops; a little context keeps the chin and brows in view
# when a detector's box is snug, without pulling in much background.
DEFAULT_MARGIN = 0.1


class FaceDetector(Protocol):
    def __call__(self, gray: np.ndarray) -> list[Box]:
        """Boxes of the faces in a uint8 (H, W) grayscale image."""


def import_cv2() -> Any:
    try:
        import cv2
    except ImportError:
        raise ConfigError("face detection and video need OpenCV: pip install 'edgefer[faces]'") from None
    return cv2


class HaarFaceDetector:
    """OpenCV's Haar cascade for frontal faces; safe to share between threads."""

    def __init__(self, scale_factor: float = 1.1, min_neighbors: int = 5, min_size: int = 24) -> None:
        cv2 = import_cv2()
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

"""Frames from a webcam or a video file, for :meth:`EmotionClassifier.stream`."""

from __future__ import annotations

import os
from typing import Iterator, Union

import numpy as np

from ..errors import DataError
from .faces import import_cv2

VideoSource = Union[int, str, os.PathLike]


def frames(source: VideoSource = 0, every: int = 1) -> Iterator[np.ndarray]:
    """RGB uint8 (H, W, 3) frames from a camera index or a video file, every `every`-th one.

    OpenCV decodes to BGR; frames are converted so they mean the same as any other
    colour array edgefer is given.
    """
    if every < 1:
        raise DataError(f"every must be at least 1, got {every}")
    if not isinstance(source, int) and not os.path.isfile(source):
        raise DataError(f"{source}: no such video file")
    cv2 = import_cv2()
    capture = cv2.VideoCapture(source if isinstance(source, int) else os.fspath(source))
    if not capture.isOpened():
        raise DataError(f"{source}: cannot open video source")
    try:
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            if index % every == 0:
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        capture.release()

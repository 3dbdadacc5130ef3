"""Emotion predictions for faces, photos and video streams from one loaded model."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from ..errors import DataError
from ..metadata import ModelInfo
from ..preprocessing import FaceInput, to_face, to_gray, to_rgb
from ..inference import as_logits, flip_averaged_logits, softmax
from .blazeface import DEFAULT_MIN_SCORE
from .faces import (
    DEFAULT_DETECTOR,
    Box,
    FaceDetector,
    check_boxes,
    crop_aligned,
    crop_face,
    make_detector,
)
from .model import ModelSource, TFLiteModel, resolve_model


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float
    probabilities: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": self.score, "probabilities": dict(self.probabilities)}


@dataclass(frozen=True)
class FaceDetection:
    box: Box
    prediction: Prediction
    face_score: float | None = None  # the detector's confidence; None for given boxes and Haar

    def __iter__(self) -> Iterator[Any]:
        # `for box, p in clf.detect(photo)` reads best; the score is there by name.
        return iter((self.box, self.prediction))


def probabilities(raw: np.ndarray, info: ModelInfo) -> np.ndarray:
    """(N, classes) raw outputs -> probabilities, with the same functions evaluation uses."""
    return softmax(as_logits(np.asarray(raw, np.float64), info.output), info.temperature)


class EmotionClassifier:
    """Classify faces with an edgefer TFLite model (the shipped one when `model` is None).

    Safe to call from several threads: concurrent calls, and the chunks of a batch, run
    on a pool of up to `pool_size` interpreters (default: one per CPU), made as needed.
    ``flip_tta`` averages the logits of each face and its mirror image: two inferences
    per face (better calibrated probabilities; the README has the measurements).
    ``detector`` is a name from :data:`~edgefer.runtime.faces.DETECTORS` (BlazeFace by
    default, loaded on first use) or any :class:`FaceDetector` callable;
    ``min_face_score`` is BlazeFace's confidence threshold; ``align`` turns each face
    BlazeFace found so that its eyes are level before it is cropped.
    """

    def __init__(
        self,
        model: ModelSource | None = None,
        num_threads: int | None = None,
        backend: str | None = None,
        detector: FaceDetector | str | None = None,
        flip_tta: bool = False,
        min_face_score: float = DEFAULT_MIN_SCORE,
        pool_size: int | None = None,
        align: bool = False,
    ) -> None:
        self.model = TFLiteModel(resolve_model(model), num_threads=num_threads, backend=backend, pool_size=pool_size)
        self.flip_tta = flip_tta
        self.align = align
        self.info = self.model.info
        self._detector_name = DEFAULT_DETECTOR if detector is None else detector if isinstance(detector, str) else None
        self._detector = None if self._detector_name else detector
        self._detector_options = dict(min_score=min_face_score, num_threads=num_threads, backend=backend,
                                      pool_size=pool_size)
        self._detector_lock = threading.Lock()

    @property
    def labels(self) -> tuple[str, ...]:
        return self.info.labels

    def predict(self, face: FaceInput) -> Prediction:
        """One face (path, PIL image or array of any size and mode), already cropped."""
        return self.predict_batch([face])[0]

    def predict_batch(self, faces: Iterable[FaceInput]) -> list[Prediction]:
        canonical = [to_face(face) for face in faces]
        if not canonical:
            return []
        return self._classify(np.stack(canonical))

    def detect(self, photo: FaceInput, boxes: Iterable[Sequence[int]] | None = None,
               require_face: bool = False) -> list[FaceDetection]:
        """Every face in a photo with its prediction; `boxes` (x, y, w, h) skip the detector.

        With `require_face`, a photo without a face is an error (a DataError naming the
        file) rather than an empty list.
        """
        if boxes is None:
            gray, found = self._find_faces(photo)
        else:
            gray = to_gray(photo)
            found = [(box, None, None) for box in check_boxes(boxes, gray.shape)]
        if not found:
            if require_face:
                name = os.fspath(photo) if isinstance(photo, (str, os.PathLike)) else "image"
                raise DataError(f"{name}: no face found")
            return []
        faces = np.stack([to_face(crop_aligned(gray, box, keypoints) if self.align and keypoints is not None
                                  else crop_face(gray, box)) for box, _, keypoints in found])
        return [FaceDetection(box, p, score) for (box, score, _), p in zip(found, self._classify(faces))]

    def stream(
        self, frames: Iterable[FaceInput], boxes: Iterable[Sequence[int]] | None = None
    ) -> Iterator[list[FaceDetection]]:
        """Per-frame detections for a video or webcam stream, reusing this interpreter.

        Pair with :func:`edgefer.runtime.video.frames`; fixed `boxes` (e.g. a kiosk
        camera framing one face) apply to every frame.
        """
        fixed = None if boxes is None else list(boxes)
        for frame in frames:
            yield self.detect(frame, fixed)

    @property
    def detector(self) -> FaceDetector:
        with self._detector_lock:
            # Created on first use so classifying pre-cropped faces loads no detector.
            if self._detector is None:
                self._detector = make_detector(self._detector_name, **self._detector_options)
        return self._detector

    def _find_faces(self, photo: FaceInput) -> tuple[np.ndarray, list[tuple[Box, float | None, Any]]]:
        """The photo in grayscale and its faces as (box, detector score, keypoints), None where
        the detector gives no score or keypoints."""
        detector = self.detector
        if getattr(detector, "wants_rgb", False):
            rgb = to_rgb(photo)
            gray, found = to_gray(rgb), detector(rgb)
        else:
            gray = to_gray(photo)
            found = detector(gray)
        return gray, [(tuple(f.box), float(f.score), getattr(f, "keypoints", None)) if hasattr(f, "box")
                      else (tuple(int(v) for v in f), None, None) for f in found]

    def _classify(self, faces: np.ndarray) -> list[Prediction]:
        if self.flip_tta:
            logits = flip_averaged_logits(self.model.run_faces, faces, self.info.output)
            probs = softmax(logits, self.info.temperature)
        else:
            probs = probabilities(self.model.run_faces(faces), self.info)
        labels = self.info.labels
        predictions = []
        for row in probs:
            best = int(np.argmax(row))
            predictions.append(Prediction(labels[best], float(row[best]), {l: float(p) for l, p in zip(labels, row)}))
        return predictions

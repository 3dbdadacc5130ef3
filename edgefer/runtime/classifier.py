"""Emotion predictions for faces, photos and video streams from one loaded model."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, NamedTuple, Sequence

import numpy as np

from ..metadata import ModelInfo
from ..scoring import as_logits, flip_averaged_logits, softmax
from ..preprocessing import FaceInput, to_face, to_gray
from .faces import Box, FaceDetector, HaarFaceDetector, check_boxes, crop_face
from .model import ModelSource, TFLiteModel, resolve_model


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float
    probabilities: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": self.score, "probabilities": dict(self.probabilities)}


class FaceDetection(NamedTuple):
    box: Box
    prediction: Prediction


def probabilities(raw: np.ndarray, info: ModelInfo) -> np.ndarray:
    """(N, classes) raw outputs -> probabilities, with the same functions evaluation uses."""
    return softmax(as_logits(np.asarray(raw, np.float64), info.output), info.temperature)


class EmotionClassifier:
    """Classify faces with an edgefer TFLite model (the shipped one when `model` is None).

    One instance holds one interpreter; it is safe to call from several threads.
    ``flip_tta`` averages the logits of each face and its mirror image: two inferences
    per face (on the shipped model, PublicTest: lower log loss, top-1 level).
    """

    def __init__(
        self,
        model: ModelSource | None = None,
        num_threads: int | None = None,
        backend: str | None = None,
        detector: FaceDetector | None = None,
        flip_tta: bool = False,
    ) -> None:
        self.model = TFLiteModel(resolve_model(model), num_threads=num_threads, backend=backend)
        self.flip_tta = flip_tta
        self.info = self.model.info
        self._detector = detector
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

    def detect(self, photo: FaceInput, boxes: Iterable[Sequence[int]] | None = None) -> list[FaceDetection]:
        """Every face in a photo with its prediction; `boxes` (x, y, w, h) skip the detector."""
        gray = to_gray(photo)
        found = self._find_faces(gray) if boxes is None else check_boxes(boxes, gray.shape)
        if not found:
            return []
        faces = np.stack([to_face(crop_face(gray, box)) for box in found])
        return [FaceDetection(box, p) for box, p in zip(found, self._classify(faces))]

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

    def _find_faces(self, gray: np.ndarray) -> list[Box]:
        with self._detector_lock:
            # Created on first use so classifying pre-cropped faces never needs OpenCV.
            if self._detector is None:
                self._detector = HaarFaceDetector()
        return list(self._detector(gray))

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

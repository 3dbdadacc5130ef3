"""Run-time maths shared by every engine: logits, softmax, flip averaging and predictor wrappers.

TensorFlow-free and torch-free, and free of datasets and reports, so the device runtime
stands on it: a :class:`Predictor` is anything with a ``raw`` method over preprocessed
inputs, whichever engine runs it (Keras in :mod:`edgefer.training`, TFLite in
:mod:`edgefer.runtime`, PyTorch in :mod:`edgefer.training.torch_engine`).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Callable, Protocol

import numpy as np

from .metadata import ModelInfo
from .preprocessing import model_input


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def as_logits(raw: np.ndarray, output: str) -> np.ndarray:
    """Logits from a model's raw output; log-probabilities serve as logits for softmax models."""
    return raw if output == "logits" else np.log(np.clip(raw, 1e-12, None))


def flip_averaged_logits(run: Callable[[np.ndarray], np.ndarray], batch: np.ndarray, output: str) -> np.ndarray:
    """Test-time augmentation: logits averaged over the batch and its mirror image.

    `batch` is faces (N, H, W) or model inputs (N, H, W, C); width is axis 2 in both.
    """
    mirrored = np.ascontiguousarray(batch[:, :, ::-1])
    return sum(as_logits(np.asarray(run(b), np.float64), output) for b in (batch, mirrored)) / 2


class Predictor(Protocol):
    name: str
    info: ModelInfo

    def raw(self, x: np.ndarray) -> np.ndarray:
        """Raw outputs (logits or probabilities, per ``info.output``) for preprocessed inputs."""


def logits(predictor: Predictor, faces: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """(N, 48, 48) uint8 faces -> (N, 7) logits, the shared preprocessing applied in batches."""
    out = []
    for start in range(0, len(faces), batch_size):
        x = model_input(faces[start : start + batch_size], predictor.info.preprocess)
        out.append(as_logits(np.asarray(predictor.raw(x), np.float64), predictor.info.output))
    return np.concatenate(out) if out else np.zeros((0, len(predictor.info.labels)))


def predict_proba(predictor: Predictor, faces: np.ndarray, batch_size: int = 256) -> np.ndarray:
    return softmax(logits(predictor, faces, batch_size), predictor.info.temperature)


class FlipAveraged:
    """Any predictor with horizontal-flip test-time augmentation (two passes per face)."""

    def __init__(self, inner: Predictor) -> None:
        self.inner = inner
        self.info = replace(inner.info, output="logits")
        self.name = f"{inner.name} +flip"

    def raw(self, x: np.ndarray) -> np.ndarray:
        return flip_averaged_logits(self.inner.raw, x, self.inner.info.output)


class MemoPredictor:
    """Caches raw outputs per input batch, for callers that re-score the same faces."""

    def __init__(self, inner: Predictor) -> None:
        self.inner, self.name, self.info = inner, inner.name, inner.info
        self._cache: dict[bytes, np.ndarray] = {}

    def raw(self, x: np.ndarray) -> np.ndarray:
        key = hashlib.sha1(np.ascontiguousarray(x).tobytes()).digest()
        if key not in self._cache:
            self._cache[key] = self.inner.raw(x)
        return self._cache[key]

"""One small interface over every model edgefer scores: Keras run dirs and TFLite files.

``load_predictor`` resolves ``default`` (the shipped int8 model), a training run
directory, a ``.keras`` file or a ``.tflite`` file. Keras needs the training extra;
TFLite goes through :mod:`edgefer.runtime` and never imports TensorFlow.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from .errors import ModelError
from .metadata import ModelInfo
from .preprocessing import model_input

MODEL_FILE = "model.keras"
MODEL_INFO_FILE = "model_info.json"


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


class KerasPredictor:
    """A trained Keras model; its logits come from the layer before the softmax."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        model_path = path / MODEL_FILE if path.is_dir() else path
        info_path = model_path.parent / MODEL_INFO_FILE
        if not model_path.is_file():
            raise ModelError(f"{model_path}: no such model file (train one with `edgefer train`)")
        if not info_path.is_file():
            raise ModelError(f"{info_path}: missing; edgefer needs the model's input spec beside it")
        try:
            self.info = ModelInfo.from_dict(json.loads(info_path.read_text()))
        except (ValueError, TypeError) as exc:
            raise ModelError(f"{info_path}: unreadable model info ({exc})") from None
        from .training.models import load_keras_model

        self._bind(load_keras_model(model_path), str(model_path))

    @classmethod
    def from_model(cls, model, info: ModelInfo, name: str) -> "KerasPredictor":
        self = cls.__new__(cls)
        self.info = info
        self._bind(model, name)
        return self

    def _bind(self, model, name: str) -> None:
        from .training.models import logits_model

        self.model = model
        self.info.output = "logits"
        self._logits = logits_model(model)
        self.name = name

    def raw(self, x: np.ndarray) -> np.ndarray:
        return self._logits(x, training=False).numpy()


class TFLitePredictor:
    """A TFLite file or its bytes, through the device runtime (no TensorFlow)."""

    def __init__(self, model: str | Path | bytes, num_threads: int | None = None, name: str | None = None) -> None:
        from .runtime.model import TFLiteModel

        self.model = TFLiteModel(model, num_threads=num_threads)
        self.info = self.model.info
        self.name = name or self.model.name

    def raw(self, x: np.ndarray) -> np.ndarray:
        return self.model.run(x)


class FlipAveraged:
    """Any predictor with horizontal-flip test-time augmentation (two passes per face)."""

    def __init__(self, inner: Predictor) -> None:
        self.inner = inner
        self.info = replace(inner.info, output="logits")
        self.name = f"{inner.name} +flip"

    def raw(self, x: np.ndarray) -> np.ndarray:
        return flip_averaged_logits(self.inner.raw, x, self.inner.info.output)


def load_predictor(model: str | Path, num_threads: int | None = None, flip_tta: bool = False) -> Predictor:
    predictor = _load_predictor(model, num_threads)
    return FlipAveraged(predictor) if flip_tta else predictor


def _load_predictor(model: str | Path, num_threads: int | None) -> Predictor:
    text = str(model)
    if text == "default":
        from .runtime.model import default_model_path

        return TFLitePredictor(default_model_path(), num_threads)
    path = Path(text)
    if not path.exists():
        raise ModelError(f"{path}: no such model file or run directory")
    if path.suffix == ".tflite":
        return TFLitePredictor(path, num_threads)
    if path.is_dir() or path.suffix in (".keras", ".h5"):
        return KerasPredictor(path)
    raise ModelError(f"{path}: unknown model format (expected a run directory, .keras or .tflite)")

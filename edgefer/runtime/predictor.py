"""The TFLite engine as a scoring :class:`~edgefer.inference.Predictor` (no TensorFlow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .model import TFLiteModel


class TFLitePredictor:
    """A TFLite file or its bytes, through the device runtime."""

    def __init__(self, model: str | Path | bytes, num_threads: int | None = None, name: str | None = None) -> None:
        self.model = TFLiteModel(model, num_threads=num_threads)
        self.info = self.model.info
        self.name = name or self.model.name

    def raw(self, x: np.ndarray) -> np.ndarray:
        return self.model.run(x)

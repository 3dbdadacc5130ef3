"""Load any model edgefer can score, by what the user names: the thin dispatcher on top.

``default`` (the shipped int8 model) and ``.tflite`` files run on the TensorFlow-free
runtime; run directories (either engine), ``.keras`` and ``.safetensors`` files run
in Keras (the ``train`` extra). The scoring maths is in :mod:`edgefer.scoring`.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ModelError
from .scoring import FlipAveraged, Predictor


def load_predictor(model: str | Path, num_threads: int | None = None, flip_tta: bool = False) -> Predictor:
    predictor = _load_predictor(model, num_threads)
    return FlipAveraged(predictor) if flip_tta else predictor


def _load_predictor(model: str | Path, num_threads: int | None) -> Predictor:
    from .runtime.predictor import TFLitePredictor

    text = str(model)
    if text == "default":
        from .runtime.model import default_model_path

        return TFLitePredictor(default_model_path(), num_threads)
    path = Path(text)
    if path.suffix == ".tflite" and path.is_file():
        return TFLitePredictor(path, num_threads)
    if path.suffix == ".tflite":
        raise ModelError(f"{path}: no such model file")
    from .training.rundir import load_run

    load_run(path)  # a missing or malformed run is one line, before TensorFlow is imported
    from .training.keras_predictor import KerasPredictor

    return KerasPredictor(path)

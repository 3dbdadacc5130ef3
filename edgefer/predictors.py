"""Load any model edgefer can score, by what the user names: the thin dispatcher on top.

Shipped models (by name) and ``.tflite`` files run on the TensorFlow-free
runtime; run directories (either engine), ``.keras`` and ``.safetensors`` files run
in Keras (the ``train`` extra). The run-time maths is in :mod:`edgefer.inference`.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError, ModelError
from .inference import FlipAveraged, Predictor


def load_predictor(model: str | Path, num_threads: int | None = None, flip_tta: bool = False) -> Predictor:
    predictor = _load_predictor(model, num_threads)
    return FlipAveraged(predictor) if flip_tta else predictor


def _load_predictor(model: str | Path, num_threads: int | None) -> Predictor:
    from .runtime.predictor import TFLitePredictor

    from .runtime.zoo import is_shipped, shipped_model_path

    text = str(model)
    if is_shipped(text):
        return TFLitePredictor(shipped_model_path(text), num_threads)
    path = Path(text)
    if path.suffix == ".tflite" and path.is_file():
        return TFLitePredictor(path, num_threads)
    if path.suffix == ".tflite":
        raise ModelError(f"{path}: no such model file")
    from .training.rundir import load_run

    load_run(path)  # a missing or malformed run is one line, before TensorFlow is imported
    try:
        from .training.keras_predictor import KerasPredictor
    except (ConfigError, ImportError):
        if not has_train_extra():
            raise ConfigError(f"{path}: scoring a run directory or a .keras/.safetensors model needs the train "
                              "extra (TensorFlow): pip install 'edgefer[train]'; .tflite models and shipped "
                              "models need only the base install") from None
        raise
    return KerasPredictor(path)


def has_train_extra() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("tensorflow", "tf_keras"))

"""The Keras engine as a scoring :class:`~edgefer.inference.Predictor`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..metadata import ModelInfo
from .keras_models import build_model, check_model, load_keras_model, logits_model
from .rundir import Run, load_run
from .tensorfile import load_model_weights
from .transfer import load_torch_state


def load_run_model(run: Run):
    """The float Keras model of a run from either engine (torch weights go into the Keras twin)."""
    if run.engine == "torch":
        model = keras_twin(run)
    else:
        model = load_keras_model(run.model_file)
    check_model(model, run.info, run.model_file)
    return model


def keras_twin(run: Run):
    """The Keras model of a torch run, with its weights: what export, evaluate and parity load."""
    family = run.info.source.get("family")
    if run.config is not None:
        family = run.config.family
    if not family:
        raise ModelError(f"{run.model_file}: model_info.json names no model family")
    model = build_model(family, run.info.preprocess.input_size, "none",
                        dropout=run.config.dropout if run.config else 0.0)
    load_torch_state(model, load_model_weights(run.model_file, family), str(run.model_file))
    return model


class KerasPredictor:
    """A trained model run by Keras; its logits come from the layer before the softmax."""

    def __init__(self, path: str | Path) -> None:
        run = load_run(path)
        self.info = run.info
        self._bind(load_run_model(run), str(run.model_file))

    @classmethod
    def from_model(cls, model, info: ModelInfo, name: str) -> "KerasPredictor":
        self = cls.__new__(cls)
        self.info = info
        self._bind(model, name)
        return self

    def _bind(self, model, name: str) -> None:
        self.model = model
        self.info.output = "logits"
        self._logits = logits_model(model)
        self.name = name

    def raw(self, x: np.ndarray) -> np.ndarray:
        return self._logits(x, training=False).numpy()

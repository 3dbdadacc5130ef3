"""Training the float classifier: the Keras engine (``train`` extra) or PyTorch (``torch`` extra).

Importing this package loads neither TensorFlow nor torch; :func:`train` picks the
engine named by ``TrainConfig.engine`` and imports only that one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..families import FAMILIES
from .config import PRESETS, AugmentConfig, TrainConfig, preset
from .recipe import TrainResult
from .rundir import resume_config


def train(config: TrainConfig, resume: bool = False) -> TrainResult:
    """Train (or with `resume`, continue) the run `config` describes, on its engine."""
    config.validate()
    if config.engine == "torch":
        from .torch_engine.trainer import train as run
    else:
        from .trainer import train as run
    return run(config, resume=resume)


def resume(run_dir: str | Path, **overrides: Any) -> TrainResult:
    """Continue an interrupted run from its last checkpoint (`overrides` e.g. epochs=40)."""
    return train(resume_config(run_dir, **overrides), resume=True)


def build_model(*args: Any, **kwargs: Any):
    """The Keras classifier (see :func:`edgefer.training.keras_models.build_model`)."""
    from .keras_models import build_model as build

    return build(*args, **kwargs)


__all__ = ["AugmentConfig", "FAMILIES", "PRESETS", "TrainConfig", "TrainResult", "build_model", "preset",
           "resume", "train"]

"""Training the float classifier: the Keras engine (``train`` extra) or PyTorch (``torch`` extra).

Importing this package loads neither TensorFlow nor torch; :func:`train` picks the
engine named by ``TrainConfig.engine`` and imports only that one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..families import FAMILIES
from ..fileio import keep_written, make_folder
from ..outputs import Input, Output, plan_outputs
from .config import PRESETS, AugmentConfig, TrainConfig, preset
from .recipe import TrainResult
from .rundir import CHECKPOINT_DIR, resume_config


def train(config: TrainConfig, resume: bool = False) -> TrainResult:
    """Train (or with `resume`, continue) the run `config` describes, on its engine."""
    config.validate()
    if not resume:
        plan_outputs([Output("--out", config.out, folder=True, parents=True)],
                     [Input("--data", config.data), Input("--weights", config.weights, tree=False),
                      *(Input("--teacher", t, tree=False) for t in config.teachers)])
    if config.engine == "torch":
        from .torch_engine.trainer import train as run
    else:
        from .trainer import train as run
    existed = Path(config.out).exists()
    if not resume:
        make_folder(config.out)  # a command that fails removes the folder it made
    before = _checkpoints(Path(config.out))
    try:
        return run(config, resume=resume)
    except BaseException:
        if _checkpoints(Path(config.out)) != before:  # an epoch was saved: the run can be resumed, so it stays
            keep_written(config.out)
        _remove_if_empty(Path(config.out), existed)
        raise


def _checkpoints(run_dir: Path) -> dict[str, int]:
    folder = run_dir / CHECKPOINT_DIR
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} if folder.is_dir() else {}


def _remove_if_empty(run_dir: Path, existed: bool) -> None:
    """A fresh run that failed before writing anything (bad data, say) leaves no folder behind."""
    if not existed and run_dir.is_dir() and not any(run_dir.iterdir()):
        run_dir.rmdir()


def resume(run_dir: str | Path, **overrides: Any) -> TrainResult:
    """Continue an interrupted run from its last checkpoint (`overrides` e.g. epochs=40)."""
    return train(resume_config(run_dir, **overrides), resume=True)


def build_model(*args: Any, **kwargs: Any):
    """The Keras classifier (see :func:`edgefer.training.keras_models.build_model`)."""
    from .keras_models import build_model as build

    return build(*args, **kwargs)


__all__ = ["AugmentConfig", "FAMILIES", "PRESETS", "TrainConfig", "TrainResult", "build_model", "preset",
           "resume", "train"]

"""The run directory: the one contract between trainers and everything that reads a run.

A run directory, from either engine, holds:

- ``config.json``       the full :class:`TrainConfig` (``--resume`` and ``--config`` read it)
- ``model_info.json``   labels and preprocessing of the model
- ``history.csv``, ``curves.png``   per-epoch metrics
- ``metrics.json`` (+ ``.confusion.png``, ``.reliability.png``)   the chosen model's validation report
- the final model: ``model.keras`` (Keras engine) or ``model.safetensors`` (torch engine)
- ``checkpoints/``      what ``--resume`` needs, in the engine's own format

TensorFlow-free and torch-free: readers check a run here before any engine loads it.
"""

from __future__ import annotations

import csv
import io
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, DataError, EdgeferError, ModelError
from ..fileio import check_output_dir, write_json, write_text
from ..configtypes import load_structured, parse_number
from ..metadata import ModelInfo
from ..outputs import Input
from .config import TrainConfig

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
MODEL_INFO_FILE = "model_info.json"
HISTORY_FILE = "history.csv"
CURVES_FILE = "curves.png"
METRICS_FILE = "metrics.json"
CHECKPOINT_DIR = "checkpoints"
KERAS_MODEL_FILE = "model.keras"
TORCH_MODEL_FILE = "model.safetensors"
MODEL_FILES = {"keras": KERAS_MODEL_FILE, "torch": TORCH_MODEL_FILE}
BEST_WEIGHTS = {"keras": "best_weights.h5", "torch": "best.safetensors"}
# The final-model candidate a resumed, finished run already holds: kept unless another scores higher.
KEPT_FINAL_MODEL = "kept: the run's final model"
# lr: the learning rate of the epoch's last step (recipe.scheduled_lr); head_only: 1 while the backbone was frozen.
HISTORY_KEYS = ("epoch", "head_only", "lr", "loss", "accuracy", "top3", "val_loss", "val_accuracy", "val_top3",
                "seconds")
MODEL_SUFFIXES = {".keras": "keras", ".h5": "keras", ".safetensors": "torch"}


# What a run holds and its readers open: no output of another command may replace them.
RUN_FILES = (CONFIG_FILE, MODEL_INFO_FILE, HISTORY_FILE, CURVES_FILE, METRICS_FILE,
             *(f"{Path(METRICS_FILE).stem}.{name}.png" for name in ("confusion", "reliability")),
             *MODEL_FILES.values(), *BEST_WEIGHTS.values(), CHECKPOINT_DIR)


def run_input(option: str, model: str | Path | None) -> Input:
    """A MODEL argument for the output plan: the path and, for a run or a Keras/torch model
    file (whose model_info.json and config.json lie beside it), the run's files."""
    path = Path(model or "")
    run_like = model is not None and (path.is_dir() or path.suffix in MODEL_SUFFIXES)
    return Input(option, model, tree=False, reads=RUN_FILES if run_like else ())


@dataclass
class Run:
    """A trained model as readers see it: its file, engine, ModelInfo and (in a run dir) config."""

    model_file: Path
    engine: str
    info: ModelInfo
    run_dir: Path | None
    config: TrainConfig | None


def read_info(path: Path) -> ModelInfo:
    if not path.is_file():
        raise ModelError(f"{path}: missing; edgefer needs the model's input spec beside the model")
    try:
        return ModelInfo.from_dict(load_structured(path.read_text(), str(path), error=ModelError))
    except (ValueError, TypeError, EdgeferError) as exc:
        raise ModelError(f"{path}: unreadable model info ({exc})") from None


def find_model_file(run_dir: Path) -> tuple[Path, str]:
    for engine, name in MODEL_FILES.items():
        if (run_dir / name).is_file():
            return run_dir / name, engine
    raise ModelError(f"{run_dir}: no {' or '.join(MODEL_FILES.values())}; not a finished edgefer run "
                     "(train one with `edgefer train`, or finish it with --resume)")


def load_run(path: str | Path) -> Run:
    """A run directory, or a model file (.keras, .safetensors) with model_info.json beside it."""
    path = Path(path)
    if path.is_dir():
        model_file, engine = find_model_file(path)
    elif path.is_file() and path.suffix in MODEL_SUFFIXES:
        model_file, engine = path, MODEL_SUFFIXES[path.suffix]
    elif path.exists():
        raise ModelError(f"{path}: unknown model format (expected a run directory, .keras or .safetensors)")
    else:
        raise ModelError(f"{path}: no such model file or run directory")
    folder = model_file.parent
    info = read_info(folder / MODEL_INFO_FILE)
    config = TrainConfig.load(folder / CONFIG_FILE) if (folder / CONFIG_FILE).is_file() else None
    return Run(model_file, engine, info, folder if config else None, config)


def prepare(config: TrainConfig, resume: bool) -> Path:
    """The run directory `config.out`: new for a fresh run, an existing run to resume."""
    run_dir = Path(config.out)
    check_output_dir(str(run_dir), "--out")
    if resume:
        if not (run_dir / CONFIG_FILE).is_file():
            raise ConfigError(f"{run_dir}: not a run directory to resume (no {CONFIG_FILE})")
    elif (run_dir / CONFIG_FILE).exists():
        raise ConfigError(f"{run_dir}: already holds a run; use --resume {run_dir} or another --out")
    return run_dir


def remove_partial_checkpoints(folder: Path) -> None:
    """TensorFlow writes a checkpoint into NAME_temp/ and renames it; an interrupted save leaves that folder."""
    for partial in folder.glob("*_temp"):
        if partial.is_dir():
            shutil.rmtree(partial)


def write_start(io_dir: Path, config: TrainConfig, info: ModelInfo, resume: bool) -> None:
    """The run's config and model record, once the data and weights have passed their checks;
    a resume rewrites the config only when its overrides changed it (the run dir describes what ran)."""
    path = io_dir / CONFIG_FILE
    if not resume or not path.is_file() or TrainConfig.load(path).to_dict() != config.to_dict():
        write_json(path, config.to_dict())
    write_json(io_dir / MODEL_INFO_FILE, info.to_dict())


def resume_config(run_dir: str | Path, **overrides) -> TrainConfig:
    """The config of a run to resume, with `overrides` (e.g. epochs=40) applied; the trainer
    records them in the run (write_start) once its checks have passed."""
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).is_file():
        raise ConfigError(f"{run_dir}: not a run directory to resume (no {CONFIG_FILE})")
    config = TrainConfig.load(run_dir / CONFIG_FILE)
    config.out = str(run_dir)
    changed = {k: v for k, v in overrides.items() if getattr(config, k) != v}
    for key, value in changed.items():
        log.info("resume: %s %s -> %s", key, getattr(config, key), value)
        setattr(config, key, value)
    if changed:
        config.validate()
    return config


def read_history(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return [{k: parse_number(v, f"{path}: line {n + 2}: {k}", float) for k, v in row.items()
                     if k in HISTORY_KEYS and isinstance(v, str) and v}
                    for n, row in enumerate(csv.DictReader(fh))]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a history file ({exc})") from None


def write_history(path: Path, history: list[dict[str, float]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_KEYS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(history)
    write_text(path, buf.getvalue())


def best_epoch(history: list[dict[str, float]]) -> int:
    """The epoch with the best validation top-1; ties go to the later epoch."""
    best = max((h.get("val_accuracy", -1.0) for h in history), default=None)
    return max((int(h["epoch"]) for h in history if h.get("val_accuracy", -1.0) == best), default=0)

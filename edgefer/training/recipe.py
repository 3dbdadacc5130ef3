"""What both training engines share: data, class weights, the model record, the report.

TensorFlow-free and torch-free, so the engines agree by construction and the exporter
can derive its fine-tuning recipe from a run without knowing which engine trained it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..data import FaceDataset, balanced_class_weights, stratified_split, train_val
from ..families import get_family
from ..metadata import ModelInfo
from ..scoring import write_report_files
from .config import AugmentConfig, TrainConfig
from .rundir import METRICS_FILE


@dataclass
class TrainResult:
    run_dir: Path
    metrics: dict[str, Any]
    history: list[dict[str, float]]


def class_weight_vector(labels: np.ndarray, mode: str) -> np.ndarray:
    """Per-class loss weights (balanced, sqrt of balanced, or none), mean 1 over the faces."""
    weights = balanced_class_weights(labels)
    if mode == "sqrt":
        weights = np.sqrt(weights)
    elif mode == "none":
        weights = np.ones_like(weights)
    return weights / np.sum(weights * np.bincount(labels, minlength=len(weights))) * len(labels)


def load_data(config: TrainConfig) -> tuple[FaceDataset, FaceDataset]:
    """Training faces (subsampled with max_train_samples) and validation faces."""
    train_ds, val_ds = train_val(config.data, config.train_split, config.val_split, config.val_fraction,
                                 config.seed, config.skip_bad)
    n = config.max_train_samples
    if n and n < len(train_ds):
        train_ds = stratified_split(train_ds, n / len(train_ds), config.seed)[1]
    return train_ds, val_ds


def model_info(config: TrainConfig, run_dir: Path) -> ModelInfo:
    spec = get_family(config.family).preprocess_spec(config.input_size)
    return ModelInfo(preprocess=spec, output="logits", edgefer_version=__version__,
                     source={"family": config.family, "weights": config.weights, "run": str(run_dir),
                             "engine": config.engine})


def write_metrics(io_dir: Path, report: dict[str, Any], config: TrainConfig, val_split: str,
                  training: dict[str, Any]) -> dict[str, Any]:
    """The chosen model's validation report, with how it was trained, as metrics.json + pictures."""
    report["training"] = {**training, "engine": config.engine, "edgefer_version": __version__}
    write_report_files(report, io_dir / METRICS_FILE, f"{config.family} on {val_split}")
    return report


@dataclass
class FineTuneRecipe:
    """How a trained model is fine-tuned further (QAT): the run's data handling, lighter."""

    class_weights: str
    label_smoothing: float
    augment: AugmentConfig


def fine_tune_recipe(config: TrainConfig | None) -> FineTuneRecipe:
    if config is None:
        return FineTuneRecipe("none", 0.0, AugmentConfig())
    aug = config.augment
    # Light augmentation: QAT only nudges trained weights towards the quantization grid.
    light = replace(aug, rotation_deg=aug.rotation_deg / 2, zoom=aug.zoom / 2, shift=aug.shift / 2,
                    brightness=aug.brightness / 2, contrast=aug.contrast / 2)
    return FineTuneRecipe(config.class_weights, config.label_smoothing, light)

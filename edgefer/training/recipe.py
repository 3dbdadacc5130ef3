"""What both training engines share: data, class weights, the model record, the report.

TensorFlow-free and torch-free, so the engines agree by construction and the exporter
can derive its fine-tuning recipe from a run without knowing which engine trained it.
"""

from __future__ import annotations

import logging
import math
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
from .targets import Targets, learns_ferplus, training_targets

log = logging.getLogger(__name__)


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
                                 config.seed, config.skip_bad, config.votes or None)
    n = config.max_train_samples
    if n and n < len(train_ds):
        train_ds = stratified_split(train_ds, n / len(train_ds), config.seed)[1]
    return train_ds, val_ds


def labelled(config: TrainConfig, train_ds: FaceDataset) -> tuple[FaceDataset, Targets]:
    """The training faces that have a target under ``config.labels``, and their targets."""
    targets = training_targets(train_ds, config.labels, config.votes_weight)
    return train_ds.subset(np.flatnonzero(targets.keep)), targets


def selection_score(config: TrainConfig, report: dict[str, Any]) -> float:
    """The validation top-1 that picks epochs and final models: against the labels the run learns from."""
    if learns_ferplus(config.labels) and report.get("ferplus", {}).get("top1") is not None:
        return report["ferplus"]["top1"]
    return report["top1"]


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


def scheduled_lr(config: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """The learning rate of training step `step` (from 0), the one definition both engines log.

    Head-only epochs use ``warmup_lr``; then a cosine fine-tune warmed up from ``lr / 10``
    to its peak ``lr`` (``plateau``: ``lr`` until the plateau callback lowers it).
    """
    head_steps = config.warmup_epochs * steps_per_epoch
    if step < head_steps:
        return config.warmup_lr
    if config.schedule == "plateau":
        return config.lr
    step -= head_steps
    total = max(1, (config.epochs - config.warmup_epochs) * steps_per_epoch)
    warmup = min(steps_per_epoch, total // 10)
    if step < warmup:
        return config.lr * (0.1 + 0.9 * step / max(1, warmup))
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return config.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))


def warn_if_too_short(config: TrainConfig) -> None:
    """A run whose epochs are all head-only never fine-tunes the backbone: say so before it starts."""
    if config.epochs <= config.warmup_epochs:
        log.warning("--epochs %d <= warmup_epochs %d: every epoch trains the head only and the backbone is "
                    "never fine-tuned; raise --epochs above %d or lower --warmup-epochs",
                    config.epochs, config.warmup_epochs, config.warmup_epochs)


def summary_lines(config: TrainConfig, run_dir: Path, metrics: dict[str, Any],
                  history: list[dict[str, float]]) -> list[str]:
    """What a finished run is and what to do next, for the end of ``edgefer train``."""
    head_only = sum(1 for h in history if h.get("head_only"))
    final = metrics.get("final_model", {})
    lines = [
        f"training finished: {config.engine} engine, {config.family} at {config.input_size} px, "
        f"weights {config.weights}",
        f"  epochs: {len(history)} of {config.epochs} run, {head_only} head-only, {len(history) - head_only} "
        f"fine-tuning{' (stopped early)' if metrics.get('training', {}).get('stopped_early') else ''}",
        f"  kept: {final.get('choice', '?')}: val top-1 {metrics['top1']:.4f}, top-3 {metrics['top3']:.4f}, "
        f"MCC {metrics['mcc']:.4f}, macro-F1 {metrics['macro_f1']:.4f} ({metrics.get('n', '?')} faces)",
        f"  run: {run_dir}",
        f"  next: edgefer export {run_dir} --int8 --data {config.data or 'DATA'}"
        + (f" --votes {config.votes}" if config.votes else ""),
    ]
    fp = metrics.get("ferplus")
    if fp and fp.get("top1") is not None:
        lines.insert(3, f"  FER+ plurality: top-1 {fp['top1']:.4f} ({fp['counts']['scored']} faces), mean vote "
                        f"share of the prediction {fp['mean_vote_share']:.4f}; labels learnt: {config.labels}")
    if len(history) == head_only:
        lines.insert(2, "  warning: no fine-tuning epoch ran, so the backbone kept its initial weights")
    return lines


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

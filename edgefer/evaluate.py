"""``edgefer evaluate``: score any model on a labelled split, write JSON and pictures."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .data import FaceDataset, load_split
from .fileio import write_json
from .metrics import classification_report, reliability
from .plots import confusion_matrices, reliability_diagram
from .predictors import Predictor, load_predictor, predict_proba

log = logging.getLogger(__name__)


@dataclass
class EvaluateConfig:
    model: str = "default"
    data: str = ""
    split: str | None = None
    json: str | None = None
    batch_size: int = 256
    skip_bad: bool = False
    num_threads: int | None = None
    flip_tta: bool = False  # average each face with its mirror image (twice the inference)


def score(predictor: Predictor, dataset: FaceDataset, batch_size: int = 256) -> tuple[dict[str, Any], np.ndarray]:
    """The evaluate report and the probabilities behind it."""
    probs = predict_proba(predictor, dataset.images, batch_size)
    report = classification_report(dataset.labels, probs)
    report["model"] = predictor.name
    report["data"] = dataset.source
    report["split"] = dataset.split
    report["reliability"] = reliability(dataset.labels, probs)
    return report, probs


def write_report_files(report: dict[str, Any], json_path: str | Path, title: str) -> None:
    json_path = Path(json_path)
    write_json(json_path, report)
    stem = json_path.with_suffix("")
    confusion_matrices([np.array(report["confusion_matrix"])], [title], f"{stem}.confusion.png")
    reliability_diagram([report["reliability"]], [title], f"{stem}.reliability.png")


def evaluate(config: EvaluateConfig) -> dict[str, Any]:
    predictor = load_predictor(config.model, config.num_threads, config.flip_tta)
    dataset = load_split(config.data, config.split, config.skip_bad)
    log.info("evaluating %s on %s [%s], %d faces", predictor.name, dataset.source, dataset.split, len(dataset))
    report, _ = score(predictor, dataset, config.batch_size)
    if config.json:
        write_report_files(report, config.json, f"{Path(predictor.name).name} on {dataset.split}")
    return report

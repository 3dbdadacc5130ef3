"""The evaluate report: a predictor scored on a labelled dataset, with its plots.

TensorFlow-free and torch-free, but not part of the device runtime: it reads datasets,
computes metrics and draws (the run-time maths live in :mod:`edgefer.inference`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import ferplus
from .data import FaceDataset
from .fileio import write_json
from .inference import Predictor, predict_proba
from .metrics import classification_report, reliability
from .plots import confusion_matrices, reliability_diagram


def score(predictor: Predictor, dataset: FaceDataset, batch_size: int = 256) -> tuple[dict[str, Any], np.ndarray]:
    """The evaluate report and the probabilities behind it."""
    probs = predict_proba(predictor, dataset.images, batch_size)
    report = classification_report(dataset.labels, probs)
    report["model"] = predictor.name
    report["data"] = dataset.source
    report["split"] = dataset.split
    report["reliability"] = reliability(dataset.labels, probs)
    report["labels"] = dataset.label_source
    if dataset.votes is not None:
        report["ferplus"] = ferplus.scores(dataset.votes, probs)
    return report, probs


def write_report_files(report: dict[str, Any], json_path: str | Path, title: str) -> None:
    """The report as JSON, plus its confusion matrix and reliability diagram beside it."""
    json_path = Path(json_path)
    write_json(json_path, report)
    stem = json_path.with_suffix("")
    confusion_matrices([np.array(report["confusion_matrix"])], [title], f"{stem}.confusion.png")
    reliability_diagram([report["reliability"]], [title], f"{stem}.reliability.png")

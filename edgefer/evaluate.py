"""``edgefer evaluate``: score any model on a labelled split, write JSON and pictures."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .data import load_split
from .outputs import Input, plan_outputs, report_outputs
from .predictors import load_predictor
from .scoring import score, write_report_files

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

def evaluate(config: EvaluateConfig) -> dict[str, Any]:
    plan_outputs(report_outputs(config.json), [Input("--data", config.data), Input("MODEL", config.model, tree=False)])
    predictor = load_predictor(config.model, config.num_threads, config.flip_tta)
    dataset = load_split(config.data, config.split, config.skip_bad)
    log.info("evaluating %s on %s [%s], %d faces", predictor.name, dataset.source, dataset.split, len(dataset))
    report, _ = score(predictor, dataset, config.batch_size)
    if config.json:
        write_report_files(report, config.json, f"{Path(predictor.name).name} on {dataset.split}")
    return report

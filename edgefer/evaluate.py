"""``edgefer evaluate``: score any model on a labelled split, write JSON and pictures."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .data import load_split
from .configtypes import MAX_BATCH, check_range
from .outputs import Input, plan_outputs, report_outputs
from .predictors import load_predictor
from .provenance import stamp_model, stamp_run
from .runtime.model import resolve_model
from .runtime.zoo import DEFAULT_MODEL_NAME, is_shipped
from .training.rundir import run_input
from .scoring import score, write_report_files

log = logging.getLogger(__name__)

@dataclass
class EvaluateConfig:
    model: str = DEFAULT_MODEL_NAME
    data: str = ""
    split: str | None = None
    json: str | None = None
    batch_size: int = 256
    skip_bad: bool = False
    num_threads: int | None = None
    flip_tta: bool = False  # average each face with its mirror image (twice the inference)
    votes: str | None = None  # FER+ votes paired with a FER2013 CSV: also scored against the FER+ plurality

def evaluate(config: EvaluateConfig) -> dict[str, Any]:
    check_range("--batch-size", config.batch_size, 1, MAX_BATCH)
    plan_outputs(report_outputs(config.json), [Input("--data", config.data), Input("--votes", config.votes),
                                               run_input("MODEL", None if is_shipped(config.model) else config.model)])
    predictor = load_predictor(config.model, config.num_threads, config.flip_tta)
    dataset = load_split(config.data, config.split, config.skip_bad, config.votes)
    log.info("evaluating %s on %s [%s], %d faces", predictor.name, dataset.source, dataset.split, len(dataset))
    report, _ = score(predictor, dataset, config.batch_size)
    stamp_model(report, resolve_model(config.model))
    stamp_run(report, config.data)
    if config.json:
        write_report_files(report, config.json, f"{Path(predictor.name).name} on {dataset.split}")
    return report

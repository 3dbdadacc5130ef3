"""Export options: one dataclass, filled by ``edgefer export`` or by library callers."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..configtypes import MAX_BATCH, MAX_SEED, check_ranges, typed_values
from ..errors import ConfigError
from ..parity import ParityThresholds
from ..training.config import MAX_EPOCHS
from .formats import FORMATS, INT8_IO_TYPES


# Declared ranges, checked before any work (seed -1: the run's own).
EXPORT_RANGES = {"qat_epochs": f"[1, {MAX_EPOCHS}]", "qat_steps": "[0, inf)", "qat_lr": "(0, 10]",
                 "qat_bn_freeze_fraction": "[0, 1]", "qat_range_freeze_fraction": "[0, 1)", "qat_distill": "[0, 1]",
                 "calibration_size": "[1, 1000000]", "batch_size": f"[1, {MAX_BATCH}]", "val_fraction": "[0, 1)",
                 "seed": f"[-1, {MAX_SEED}]"}


@dataclass
class ExportConfig:
    model: str = ""  # a run directory or a .keras file with model_info.json beside it
    data: str = ""  # calibration/QAT/validation faces; the run's training data if empty
    votes: str = ""  # FER+ votes paired with a FER2013 CSV --data; the run's own when it reads the run's data
    out: str = ""  # RUN_DIR/export (or MODEL_DIR/export) if empty
    formats: tuple[str, ...] = ("int8",)
    io: str = "uint8"  # int8 model input/output type: uint8 (what MediaPipe Tasks feed), int8 or float32
    qat: bool = True  # also fine-tune quantize-aware and keep the better of PTQ and QAT
    qat_epochs: int = 1
    qat_steps: int = 0  # 0: qat_epochs full passes over the training faces
    qat_lr: float = 2e-5
    qat_bn_freeze_fraction: float = 1.0  # last fraction of QAT steps with BatchNorm frozen
    qat_range_freeze_fraction: float = 0.3  # last fraction with fake-quant ranges frozen
    qat_distill: float = 1.0  # weight of the float model's soft targets vs the labels in QAT
    calibration_size: int = 400
    batch_size: int = 32
    train_split: str = ""  # the run's settings if empty
    val_split: str = ""
    val_fraction: float = 0.0  # 0: the run's value (0.1 without a run config)
    seed: int = -1  # -1: the run's seed (0 without a run config)
    allow_float_ops: bool = False
    parity_gate: bool = True
    thresholds: ParityThresholds = field(default_factory=ParityThresholds)
    skip_bad: bool = False

    def validate(self) -> None:
        if not self.model:
            raise ConfigError("no model given (a run directory or a .keras file)")
        unknown = [f for f in self.formats if f not in FORMATS]
        checks = [
            (bool(self.formats), "--formats names no format"),
            (not unknown, f"unknown format(s) {', '.join(unknown)} (choose from {', '.join(FORMATS)})"),
            (self.io in INT8_IO_TYPES, f"--io must be one of {', '.join(INT8_IO_TYPES)}"),
            (self.qat_epochs >= 1, "--qat-epochs must be >= 1"),
            (self.qat_steps >= 0, "--qat-steps must be >= 0"),
            (self.qat_lr > 0, "--qat-lr must be positive"),
            (0 <= self.qat_range_freeze_fraction < 1, "the QAT range freeze fraction must be in [0, 1)"),
            (self.qat_range_freeze_fraction <= self.qat_bn_freeze_fraction <= 1,
             "BatchNorm must freeze no later than the ranges (and the fraction be at most 1)"),
            (0 <= self.qat_distill <= 1, "--qat-distill must be in [0, 1]"),
            (self.calibration_size >= 1, "--calibration-size must be >= 1"),
            (self.batch_size >= 1, "--batch-size must be >= 1"),
            (0 <= self.val_fraction < 1, "--val-fraction must be in [0, 1)"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(msg)
        check_ranges(self, EXPORT_RANGES)
        self.thresholds.validate()

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["formats"] = list(self.formats)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ExportConfig":
        """A recipe (e.g. a report's ``config``); unknown names are refused, thresholds may be partial."""
        data = typed_values(cls, data)
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        unknown |= {f"thresholds.{k}" for k in set(data.get("thresholds", {})) - set(ParityThresholds.__dataclass_fields__)}
        if unknown:
            raise ConfigError(f"unknown export option(s): {', '.join(sorted(unknown))}")
        data["thresholds"] = ParityThresholds(**typed_values(ParityThresholds, data.get("thresholds", {}), "thresholds."))
        return cls(**data)

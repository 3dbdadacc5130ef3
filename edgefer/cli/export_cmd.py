from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..export.config import ExportConfig
from ..parity import ParityThresholds
from .app import app
from .options import read_config_file

_E, _T = ExportConfig(), ParityThresholds()


@app.command("export")
def export_command(
    model: str = typer.Argument(..., help="Run directory, or a .keras file with model_info.json beside it."),
    int8: bool = typer.Option(False, "--int8", help="Add the full-integer int8 model to --formats."),
    data: Optional[str] = typer.Option(None, "--data", help="FER2013 CSV or image-folder root.", show_default="the run's training data"),
    out: Optional[str] = typer.Option(None, "--out", help="Output directory.", show_default="RUN_DIR/export"),
    formats: Optional[str] = typer.Option(None, "--formats", help="Comma list of int8, float32, float16, dynamic.", show_default="int8"),
    io: str = typer.Option(_E.io, "--io", help="int8 model input/output type: int8, uint8 or float32."),
    qat: bool = typer.Option(_E.qat, "--qat/--no-qat", help="Also fine-tune quantize-aware and keep the better of PTQ and QAT."),
    qat_epochs: int = typer.Option(_E.qat_epochs, help="QAT epochs over the training faces."),
    qat_steps: int = typer.Option(_E.qat_steps, help="Cap on QAT steps, 0 = none."),
    qat_lr: float = typer.Option(_E.qat_lr, help="QAT learning rate (cosine-decayed)."),
    qat_bn_freeze_fraction: float = typer.Option(_E.qat_bn_freeze_fraction, "--qat-bn-freeze-fraction", "--qat-freeze-bn", help="Last fraction of QAT steps with BatchNorm frozen (1 = all)."),
    qat_range_freeze_fraction: float = typer.Option(_E.qat_range_freeze_fraction, "--qat-range-freeze-fraction", "--qat-freeze-ranges", help="Last fraction of QAT steps with fake-quant ranges frozen."),
    qat_distill: float = typer.Option(_E.qat_distill, help="QAT loss weight of the float model's soft targets (1) vs the labels (0)."),
    calibration_size: int = typer.Option(_E.calibration_size, help="Training faces (stratified) to calibrate int8 ranges on."),
    batch_size: int = typer.Option(_E.batch_size, help="QAT batch size."),
    train_split: Optional[str] = typer.Option(None, help="Training split.", show_default="the run's"),
    val_split: Optional[str] = typer.Option(None, help="Validation split for the PTQ/QAT choice, temperature and parity.", show_default="the run's"),
    seed: Optional[int] = typer.Option(None, help="Seed for the calibration sample and QAT.", show_default="the run's"),
    allow_float_ops: bool = typer.Option(_E.allow_float_ops, "--allow-float-ops", help="Export int8 even if float ops remain."),
    parity_gate: bool = typer.Option(_E.parity_gate, "--parity-gate/--no-parity-gate", help="Fail when int8 parity with float fails."),
    max_top1_drop: float = typer.Option(_T.max_top1_drop, help="Parity: largest allowed top-1 drop, percentage points."),
    max_top3_drop: float = typer.Option(_T.max_top3_drop, help="Parity: largest allowed top-3 drop, percentage points."),
    max_mcc_drop: float = typer.Option(_T.max_mcc_drop, help="Parity: largest allowed MCC drop."),
    min_agreement: float = typer.Option(_T.min_agreement, help="Parity: smallest allowed top-1 agreement with float."),
    skip_bad: bool = typer.Option(_E.skip_bad, "--skip-bad", help="Skip unreadable rows/images."),
    config_file: Optional[str] = typer.Option(None, "--config", help="Export recipe file (JSON or YAML) of ExportConfig fields; flags left at their defaults do not override it."),
) -> None:
    """Export a trained model to TFLite: int8 (PTQ vs QAT, the better kept), float32, float16, dynamic."""
    from ..export import export

    names = [f.strip() for f in formats.split(",") if f.strip()] if formats else ["int8"]
    if int8 and "int8" not in names:
        names.insert(0, "int8")
    config = ExportConfig(
        model=model, data=data or "", out=out or "", formats=tuple(dict.fromkeys(names)), io=io, qat=qat,
        qat_epochs=qat_epochs, qat_steps=qat_steps, qat_lr=qat_lr, qat_bn_freeze_fraction=qat_bn_freeze_fraction,
        qat_range_freeze_fraction=qat_range_freeze_fraction, qat_distill=qat_distill, calibration_size=calibration_size,
        batch_size=batch_size, train_split=train_split or "", val_split=val_split or "",
        seed=-1 if seed is None else seed, allow_float_ops=allow_float_ops, parity_gate=parity_gate,
        thresholds=ParityThresholds(max_top1_drop=max_top1_drop, max_top3_drop=max_top3_drop,
                                    max_mcc_drop=max_mcc_drop, min_agreement=min_agreement),
        skip_bad=skip_bad,
    )
    if config_file:
        config = _merge_file(config, read_config_file(config_file))
    report = export(config)
    if "int8" in report["formats"]:
        typer.echo(f"int8: {report['int8']['chosen'].upper()} kept ({report['int8']['reason']})")
    for fmt, entry in report["formats"].items():
        typer.echo(f"{fmt:<8} {Path(report['out']) / entry['file']}  {entry['bytes'] / 1e6:.2f} MB  "
                   f"{entry['seconds']:.1f} s")


def _merge_file(flags: ExportConfig, recipe: dict) -> ExportConfig:
    """The recipe file, with every flag the user changed from its default on top."""
    import dataclasses

    defaults, chosen = ExportConfig(), dataclasses.asdict(flags)
    base = {**dataclasses.asdict(defaults), **recipe}
    for name, value in chosen.items():
        if value != getattr(defaults, name) and name != "thresholds":
            base[name] = value
    thresholds = {**dataclasses.asdict(defaults.thresholds), **recipe.get("thresholds", {})}
    thresholds.update({k: v for k, v in chosen["thresholds"].items() if v != getattr(defaults.thresholds, k)})
    base["thresholds"] = ParityThresholds(**thresholds)
    base["formats"] = tuple(base["formats"])
    known = {f.name for f in dataclasses.fields(ExportConfig)}
    unknown = set(base) - known
    if unknown:
        from ..errors import ConfigError

        raise ConfigError(f"unknown export option(s) in the config file: {', '.join(sorted(unknown))}")
    return ExportConfig(**base)

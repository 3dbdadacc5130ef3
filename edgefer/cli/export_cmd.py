from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..export.config import ExportConfig
from ..export.formats import FORMATS
from ..parity import ParityThresholds
from .app import app
from .options import DATA_HELP, VOTES_HELP, default_of, given, read_config_file


def _e(name: str) -> str:
    return default_of(ExportConfig, name)


def _t(name: str) -> str:
    return default_of(ParityThresholds, name)


@app.command("export")
def export_command(
    model: str = typer.Argument(..., help="Run directory, or a .keras/.safetensors file with model_info.json beside it."),
    int8: bool = typer.Option(False, "--int8", help="Add the full-integer int8 model to --formats."),
    data: Optional[str] = typer.Option(None, "--data", help=DATA_HELP, show_default="the run's training data"),
    votes: Optional[str] = typer.Option(None, "--votes", help=VOTES_HELP, show_default="the run's, with the run's data"),
    out: Optional[str] = typer.Option(None, "--out", help="Output directory.", show_default="MODEL/export"),
    formats: Optional[str] = typer.Option(None, "--formats", help=f"Comma list of {', '.join(FORMATS)}.", show_default=_e("formats")),
    io: Optional[str] = typer.Option(None, "--io", help="int8 model input/output type: int8, uint8 or float32.", show_default=_e("io")),
    qat: Optional[bool] = typer.Option(None, "--qat/--no-qat", help="Also fine-tune quantize-aware and keep the better of PTQ and QAT.", show_default=_e("qat")),
    qat_epochs: Optional[int] = typer.Option(None, help="QAT epochs over the training faces.", show_default=_e("qat_epochs")),
    qat_steps: Optional[int] = typer.Option(None, help="Cap on QAT steps, 0 = none.", show_default=_e("qat_steps")),
    qat_lr: Optional[float] = typer.Option(None, help="QAT learning rate (cosine-decayed).", show_default=_e("qat_lr")),
    qat_bn_freeze_fraction: Optional[float] = typer.Option(None, "--qat-bn-freeze-fraction", "--qat-freeze-bn", help="Last fraction of QAT steps with BatchNorm frozen (1 = all).", show_default=_e("qat_bn_freeze_fraction")),
    qat_range_freeze_fraction: Optional[float] = typer.Option(None, "--qat-range-freeze-fraction", "--qat-freeze-ranges", help="Last fraction of QAT steps with fake-quant ranges frozen.", show_default=_e("qat_range_freeze_fraction")),
    qat_distill: Optional[float] = typer.Option(None, help="QAT loss weight of the float model's soft targets (1) vs the labels (0).", show_default=_e("qat_distill")),
    calibration_size: Optional[int] = typer.Option(None, help="Training faces (stratified) to calibrate int8 ranges on.", show_default=_e("calibration_size")),
    batch_size: Optional[int] = typer.Option(None, help="QAT batch size.", show_default=_e("batch_size")),
    train_split: Optional[str] = typer.Option(None, help="Training split.", show_default="the run's"),
    val_split: Optional[str] = typer.Option(None, help="Validation split for the PTQ/QAT choice, temperature and parity.", show_default="the run's"),
    seed: Optional[int] = typer.Option(None, help="Seed for the calibration sample and QAT.", show_default="the run's"),
    allow_float_ops: Optional[bool] = typer.Option(None, "--allow-float-ops", help="Export int8 even if float ops remain.", show_default=_e("allow_float_ops")),
    parity_gate: Optional[bool] = typer.Option(None, "--parity-gate/--no-parity-gate", help="Fail when int8 parity with float fails.", show_default=_e("parity_gate")),
    max_top1_drop: Optional[float] = typer.Option(None, help="Parity: largest allowed top-1 drop, percentage points.", show_default=_t("max_top1_drop")),
    max_top3_drop: Optional[float] = typer.Option(None, help="Parity: largest allowed top-3 drop, percentage points.", show_default=_t("max_top3_drop")),
    max_mcc_drop: Optional[float] = typer.Option(None, help="Parity: largest allowed MCC drop.", show_default=_t("max_mcc_drop")),
    min_agreement: Optional[float] = typer.Option(None, help="Parity: smallest allowed top-1 agreement with float.", show_default=_t("min_agreement")),
    skip_bad: Optional[bool] = typer.Option(None, "--skip-bad", help="Skip and count unreadable rows/images."),
    config_file: Optional[str] = typer.Option(None, "--config", help="Export recipe (JSON or YAML) of ExportConfig fields; flags override it."),
) -> None:
    """Export a trained model to TFLite: int8 (PTQ vs QAT, the better kept), float32, float16, dynamic."""
    from ..export import export

    # Checked by type as a whole before the flags are laid over it.
    recipe = ExportConfig.from_dict(read_config_file(config_file)).to_dict() if config_file else {}
    flags = given(
        model=model, data=data, votes=votes, out=out, io=io, qat=qat, qat_epochs=qat_epochs, qat_steps=qat_steps, qat_lr=qat_lr,
        qat_bn_freeze_fraction=qat_bn_freeze_fraction, qat_range_freeze_fraction=qat_range_freeze_fraction,
        qat_distill=qat_distill, calibration_size=calibration_size, batch_size=batch_size, train_split=train_split,
        val_split=val_split, seed=seed, allow_float_ops=allow_float_ops, parity_gate=parity_gate, skip_bad=skip_bad,
        formats=[f.strip() for f in formats.split(",") if f.strip()] if formats else None,
    )
    thresholds = {**recipe.get("thresholds", {}), **given(max_top1_drop=max_top1_drop, max_top3_drop=max_top3_drop,
                                                          max_mcc_drop=max_mcc_drop, min_agreement=min_agreement)}
    config = ExportConfig.from_dict({**recipe, **flags, "thresholds": thresholds})
    if int8 and "int8" not in config.formats:
        config.formats = ("int8", *config.formats)
    report = export(config)
    if "int8" in report["formats"]:
        typer.echo(f"int8: {report['int8']['chosen'].upper()} kept ({report['int8']['reason']})")
    for fmt, entry in report["formats"].items():
        typer.echo(f"{fmt:<8} {Path(report['out']) / entry['file']}  {entry['bytes'] / 1e6:.2f} MB  "
                   f"{entry['seconds']:.1f} s")

from __future__ import annotations

import json
from typing import Optional

import typer

from ..evaluate import EvaluateConfig, evaluate
from .app import app

_D = EvaluateConfig()


@app.command("evaluate")
def evaluate_command(
    model: str = typer.Argument("default", help="Run directory, .keras, .tflite, or 'default' (the shipped model)."),
    data: str = typer.Option(..., "--data", help="FER2013 CSV or image-folder root."),
    split: Optional[str] = typer.Option(None, help="Split to score (e.g. PublicTest, test); the test/val split if omitted."),
    json_path: Optional[str] = typer.Option(None, "--json", help="Write the report here (plus confusion and reliability PNGs)."),
    batch_size: int = typer.Option(_D.batch_size, help="Faces per inference batch."),
    threads: Optional[int] = typer.Option(None, help="Interpreter threads for TFLite models."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip and count unreadable rows/images."),
    flip_tta: bool = typer.Option(False, "--flip-tta", help="Average each face with its mirror image (2x inference)."),
) -> None:
    """Score a model: top-1/3, macro P/R/F1, MCC, log loss, ROC-AUC, ECE, per-class recall."""
    report = evaluate(EvaluateConfig(model=model, data=data, split=split, json=json_path,
                                     batch_size=batch_size, skip_bad=skip_bad, num_threads=threads,
                                     flip_tta=flip_tta))
    summary = {k: report[k] for k in ("n", "top1", "top3", "macro_f1", "mcc", "log_loss", "roc_auc", "ece")}
    typer.echo(json.dumps(summary, indent=2))
    typer.echo("per-class recall: " + ", ".join(f"{k} {v:.3f}" for k, v in report["per_class_recall"].items()))

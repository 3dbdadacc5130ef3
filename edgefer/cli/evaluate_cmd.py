from __future__ import annotations

import textwrap
from typing import Optional

import typer

from ..evaluate import EvaluateConfig, evaluate
from ..runtime.zoo import names_help
from .app import app
from .options import DATA_HELP, THREADS_HELP, VOTES_HELP

_D = EvaluateConfig()


@app.command("evaluate")
def evaluate_command(
    model: str = typer.Argument(_D.model, help=f"Run directory, .keras, .tflite, or a shipped model ({names_help()})."),
    data: str = typer.Option(..., "--data", help=DATA_HELP),
    split: Optional[str] = typer.Option(_D.split, help="Split to score (e.g. PublicTest, test); the test/val split if omitted."),
    json_path: Optional[str] = typer.Option(_D.json, "--json", help="Write the report here (plus confusion and reliability PNGs)."),
    batch_size: int = typer.Option(_D.batch_size, help="Faces per inference batch."),
    threads: Optional[int] = typer.Option(_D.num_threads, help=THREADS_HELP),
    skip_bad: bool = typer.Option(_D.skip_bad, "--skip-bad", help="Skip and count unreadable rows/images."),
    flip_tta: bool = typer.Option(_D.flip_tta, "--flip-tta", help="Average each face with its mirror image (2x inference)."),
    votes: Optional[str] = typer.Option(_D.votes, "--votes", help=VOTES_HELP),
) -> None:
    """Score a model: top-1/3, macro P/R/F1, MCC, log loss, ROC-AUC, ECE, per-class recall."""
    report = evaluate(EvaluateConfig(model=model, data=data, split=split, json=json_path,
                                     batch_size=batch_size, skip_bad=skip_bad, num_threads=threads,
                                     flip_tta=flip_tta, votes=votes))
    for line in summary_table(report):
        typer.echo(line)


SUMMARY_ROWS = (("faces", "n"), ("top-1", "top1"), ("top-3", "top3"), ("macro-F1", "macro_f1"), ("MCC", "mcc"),
                ("log loss", "log_loss"), ("ROC-AUC", "roc_auc"), ("ECE", "ece"))


def summary_table(report: dict) -> list[str]:
    """The headline scores at 4 decimals, then per-class recall (--json keeps every digit)."""
    lines = [f"{name:<10} {_fmt(report.get(key))}" for name, key in SUMMARY_ROWS]
    if report.get("labels", "fer2013") != "fer2013":
        lines[1:3] = [f"{line} (against the FER+ votes' emotion argmax: the data has no FER2013 labels)"
                      for line in lines[1:3]]
    if "ferplus" in report:
        fp, counts = report["ferplus"], report["ferplus"]["counts"]
        lines += [f"{'FER+ top-1':<10} {_fmt(fp['top1'])} (plurality of the annotators; {counts['scored']} faces, "
                  f"{counts['ties']} ties, {counts['non_emotion']} non-emotion and {counts['no_votes']} without "
                  "votes left out)",
                  f"{'FER+ top-3':<10} {_fmt(fp['top3'])}",
                  f"{'vote share':<10} {_fmt(fp['mean_vote_share'])} (mean fraction of annotators who chose "
                  "the predicted class)"]
    recall = report["per_class_recall"]
    text = "recall     " + ", ".join(f"{label} {value:.3f}" for label, value in recall.items())
    return lines + textwrap.wrap(text, 80, subsequent_indent=" " * 11)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "-" if value is None else str(value)

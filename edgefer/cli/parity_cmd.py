from __future__ import annotations

from typing import Optional

import typer

from ..parity import ParityConfig, ParityThresholds, parity, summary_table
from ..runtime.zoo import names_help
from .app import app
from .options import DATA_HELP, THREADS_HELP, VOTES_HELP

_T, _P = ParityThresholds(), ParityConfig()


@app.command("parity")
def parity_command(
    reference: str = typer.Argument(..., help="Reference model: run directory, .keras or .tflite."),
    candidate: str = typer.Argument(..., help=f"Candidate model (.tflite, a shipped model: {names_help()}, or any model)."),
    data: str = typer.Option(..., "--data", help=DATA_HELP),
    split: Optional[str] = typer.Option(_P.split, help="Split to compare on; the test/val split if omitted."),
    json_path: Optional[str] = typer.Option(_P.json, "--json", help="Write JSON here, plus .md and PNGs beside it."),
    max_top1_drop: float = typer.Option(_T.max_top1_drop, help="Largest allowed top-1 drop, percentage points."),
    max_top3_drop: float = typer.Option(_T.max_top3_drop, help="Largest allowed top-3 drop, percentage points."),
    max_mcc_drop: float = typer.Option(_T.max_mcc_drop, help="Largest allowed MCC drop."),
    min_agreement: float = typer.Option(_T.min_agreement, help="Smallest allowed top-1 agreement (fraction)."),
    bootstrap: int = typer.Option(_P.bootstrap, help="Paired-bootstrap resamples for the 95% intervals (0: none)."),
    seed: int = typer.Option(_P.seed, help="Bootstrap seed."),
    threads: Optional[int] = typer.Option(_P.num_threads, help=THREADS_HELP),
    skip_bad: bool = typer.Option(_P.skip_bad, "--skip-bad", help="Skip and count unreadable rows/images."),
    votes: Optional[str] = typer.Option(_P.votes, "--votes", help=VOTES_HELP),
) -> None:
    """Check that CANDIDATE stays near REFERENCE: exit 0 pass, 1 fail, 2 bad input."""
    thresholds = ParityThresholds(max_top1_drop, max_top3_drop, max_mcc_drop, min_agreement)
    report = parity(ParityConfig(reference=reference, candidate=candidate, data=data, split=split,
                                 json=json_path, thresholds=thresholds, bootstrap=bootstrap, seed=seed,
                                 num_threads=threads, skip_bad=skip_bad, votes=votes))
    ref, cand = report["reference"], report["candidate"]
    ferplus = "delta_ferplus_top1" in report
    typer.echo(f"{'':<10} {'top1':>7} {'top3':>7} {'mcc':>7} {'f1':>7} {'logloss':>8} {'ece':>7}"
               + (f" {'FER+ top1':>9} {'vote share':>10}" if ferplus else ""))
    for name, r in (("reference", ref), ("candidate", cand)):
        typer.echo(f"{name:<10} {r['top1']:>7.4f} {r['top3']:>7.4f} {r['mcc']:>7.4f} {r['macro_f1']:>7.4f} "
                   f"{r['log_loss']:>8.4f} {r['ece']:>7.4f}"
                   + (f" {r['ferplus']['top1']:>9.4f} {r['ferplus']['mean_vote_share']:>10.4f}" if ferplus else ""))
    typer.echo(summary_table(report))
    if not report["passed"]:
        raise typer.Exit(1)

from __future__ import annotations

import typer

from ..demo import DemoConfig, run_demo
from .app import app


_D = DemoConfig()


@app.command("demo")
def demo_command(
    out: str = typer.Option(_D.out, help="Directory for the generated faces, the run and the export."),
    faces_per_class: int = typer.Option(_D.faces_per_class, help="Generated training faces per class."),
    epochs: int = typer.Option(_D.epochs, help="Training epochs of the tiny preset."),
    seed: int = typer.Option(_D.seed, help="Seed of the generated faces and of training."),
) -> None:
    """The whole chain on generated faces: train -> QAT int8 export -> parity -> runtime."""
    result = run_demo(DemoConfig(out=out, faces_per_class=faces_per_class, epochs=epochs, seed=seed))
    export = result["export"]
    typer.echo(f"float model: {result['run']} (val top-1 {result['float_top1']:.3f})")
    for fmt, entry in export["formats"].items():
        typer.echo(f"{fmt:<8} {entry['file']:<24} {entry['bytes'] / 1e6:6.2f} MB  {entry['seconds']:6.1f} s")
    parity = export.get("parity") or {}
    if parity:
        typer.echo(f"parity float vs int8: agreement {parity['agreement']:.3f}, top-1 {100 * parity['delta_top1']:+.2f} pp: "
                   f"{'PASS' if parity['passed'] else 'FAIL'}")
    typer.echo(f"int8 on the runtime: {result['runtime_correct']} generated faces right ({result['int8_model']})")

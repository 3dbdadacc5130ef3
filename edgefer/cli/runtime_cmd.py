from __future__ import annotations

import json
from typing import List, Optional

import typer

from ..errors import ConfigError
from ..runtime.bench import BenchConfig, benchmark, format_table
from ..runtime.predict import PredictConfig, format_records, predict_images
from . import app

MODEL_HELP = "An edgefer .tflite file, or 'default' (the shipped model)."


def _thread_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--threads must be comma-separated integers such as 1,2, got {text!r}") from None
    if not counts:
        raise ConfigError("--threads needs at least one thread count")
    return counts


@app.command("predict")
def predict_command(
    images: List[str] = typer.Argument(..., help="Image files: cropped faces, or photos with --faces."),
    model: str = typer.Option("default", "--model", help=MODEL_HELP),
    faces: bool = typer.Option(False, "--faces", help="Detect faces in each image (needs the 'faces' extra)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of one line per image or face."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Interpreter threads."),
    backend: Optional[str] = typer.Option(None, "--backend", help="litert, tflite-runtime or tensorflow (first installed if omitted)."),
    flip_tta: bool = typer.Option(False, "--flip-tta", help="Average each face with its mirror image (2x inference)."),
) -> None:
    """Predict the emotion of each face image, or of every face found in each photo."""
    records = predict_images(PredictConfig(images=images, model=model, faces=faces, num_threads=threads, backend=backend,
                                           flip_tta=flip_tta))
    if json_out:
        typer.echo(json.dumps(records, indent=2))
    else:
        for line in format_records(records):
            typer.echo(line)


@app.command("bench")
def bench_command(
    models: List[str] = typer.Argument(..., help=f"Models to time. {MODEL_HELP}"),
    threads: str = typer.Option("1", "--threads", help="Comma-separated interpreter thread counts, e.g. 1,2."),
    runs: int = typer.Option(200, "--runs", help="Timed faces per model and thread count (200 or more for a stable p99)."),
    warmup: int = typer.Option(20, "--warmup", help="Untimed faces first."),
    json_path: Optional[str] = typer.Option(None, "--json", help="Also write the rows to this JSON file."),
    backend: Optional[str] = typer.Option(None, "--backend", help="litert, tflite-runtime or tensorflow (first installed if omitted)."),
) -> None:
    """Per-face latency p50/p90/p99, throughput, file size and peak RSS of TFLite models."""
    rows = benchmark(BenchConfig(models=models, threads=_thread_counts(threads), runs=runs, warmup=warmup,
                                 json=json_path, backend=backend))
    typer.echo(format_table(rows))

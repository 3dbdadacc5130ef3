from __future__ import annotations

from typing import List, Optional

import typer

from ..errors import ConfigError
from ..runtime import video
from ..runtime.bench import BenchConfig, benchmark, format_table
from ..runtime.faces import DETECTORS
from ..runtime.outputs import STDOUT, csv_text, strict_json
from ..runtime.predict import (
    CSV_HEADER,
    PredictConfig,
    csv_rows,
    format_records,
    predict_images,
)
from ..runtime.zoo import names_help
from .app import app
from .options import THREADS_HELP

MODEL_HELP = f"An edgefer .tflite file, or a shipped model: {names_help()} (see edgefer models)."


def _thread_counts(text: str, option: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"{option} must be comma-separated integers such as 1,2, got {text!r}") from None
    if not counts:
        raise ConfigError(f"{option} needs at least one count")
    return counts


_P = PredictConfig()


@app.command("predict")
def predict_command(
    images: List[str] = typer.Argument(..., help="Image files, folders (searched recursively) and glob patterns: "
                                                 "cropped faces, or photos with --faces."),
    model: str = typer.Option(_P.model, "--model", help=MODEL_HELP),
    faces: bool = typer.Option(_P.faces, "--faces", help="Find the faces in each image first."),
    detector: str = typer.Option(_P.detector, "--detector", help=f"Face detector: {', '.join(DETECTORS)} "
                                 "(haar needs the 'faces' extra)."),
    min_face_score: float = typer.Option(_P.min_face_score, "--min-face-score",
                                         help="BlazeFace confidence a face needs (0..1)."),
    require_face: bool = typer.Option(_P.require_face, "--require-face",
                                      help="With --faces: an image without a face is an error."),
    align: bool = typer.Option(_P.align, "--align", help="Turn each face so its eyes are level before classifying "
                               "(BlazeFace detectors)."),
    skip_bad: bool = typer.Option(_P.skip_bad, "--skip-bad",
                                  help="Report unreadable images on stderr and go on (exit 0 if any image was read)."),
    json_out: Optional[str] = typer.Option(_P.json, "--json", help="Write the records as JSON to this file ('-': stdout)."),
    csv_out: Optional[str] = typer.Option(_P.csv, "--csv", help="Write one row per face as CSV to this file ('-': stdout)."),
    annotate: Optional[str] = typer.Option(_P.annotate, "--annotate",
                                           help="Write each image with its boxes and labels drawn into this folder."),
    threads: Optional[int] = typer.Option(_P.num_threads, "--threads", help=THREADS_HELP),
    backend: Optional[str] = typer.Option(_P.backend, "--backend", help="litert, tflite-runtime or tensorflow (first installed if omitted)."),
    flip_tta: bool = typer.Option(_P.flip_tta, "--flip-tta", help="Average each face with its mirror image (2x inference)."),
) -> None:
    """Predict the emotion of each face image, or of every face found in each photo."""
    records = predict_images(PredictConfig(
        images=images, model=model, faces=faces, detector=detector, min_face_score=min_face_score,
        require_face=require_face, align=align, skip_bad=skip_bad, json=json_out, csv=csv_out, annotate=annotate,
        num_threads=threads, backend=backend, flip_tta=flip_tta))
    if json_out == STDOUT:
        typer.echo(strict_json(records), nl=False)
    elif csv_out == STDOUT:
        typer.echo(csv_text(CSV_HEADER, csv_rows(records)), nl=False)
    else:
        for line in format_records(records):
            typer.echo(line)


_B = BenchConfig()


def _counts_text(counts: list[int]) -> str:
    return ",".join(map(str, counts))


@app.command("bench")
def bench_command(
    models: List[str] = typer.Argument(..., help=f"Models to time. {MODEL_HELP}"),
    threads: str = typer.Option(_counts_text(_B.threads), "--threads",
                                help="Interpreter threads; a comma list such as 1,2 times each count."),
    callers: str = typer.Option(_counts_text(_B.callers), "--callers", help="Comma-separated counts of concurrent "
                                "callers sharing one classifier (a pool of as many interpreters), e.g. 1,2."),
    runs: int = typer.Option(_B.runs, "--runs", help="Timed faces per caller, model and thread count (200 or more for a stable p99)."),
    warmup: int = typer.Option(_B.warmup, "--warmup", help="Untimed faces first, per caller."),
    json_path: Optional[str] = typer.Option(_B.json, "--json", help="Also write the rows to this JSON file."),
    backend: Optional[str] = typer.Option(_B.backend, "--backend", help="litert, tflite-runtime or tensorflow (first installed if omitted)."),
) -> None:
    """Per-face latency p50/p90/p99, throughput, file size and peak RSS of TFLite models."""
    rows = benchmark(BenchConfig(models=models, threads=_thread_counts(threads, "--threads"),
                                 callers=_thread_counts(callers, "--callers"), runs=runs, warmup=warmup,
                                 json=json_path, backend=backend))
    typer.echo(format_table(rows))


_V = video.VideoConfig()


@app.command("video")
def video_command(
    source: str = typer.Argument(..., help="A video file, or a camera index such as 0."),
    model: str = typer.Option(_V.model, "--model", help=MODEL_HELP),
    detector: str = typer.Option(_V.detector, "--detector", help=f"Face detector: {', '.join(DETECTORS)}."),
    min_face_score: float = typer.Option(_V.min_face_score, "--min-face-score",
                                         help="BlazeFace confidence a face needs (0..1)."),
    every: int = typer.Option(_V.every, "--every", help="Analyse every N-th frame."),
    align: bool = typer.Option(_V.align, "--align", help="Turn each face so its eyes are level (BlazeFace detectors)."),
    max_frames: Optional[int] = typer.Option(_V.max_frames, "--max-frames", help="Stop after this many analysed frames."),
    json_out: Optional[str] = typer.Option(_V.json, "--json", help="Write the per-frame timeline as JSON ('-': stdout)."),
    csv_out: Optional[str] = typer.Option(_V.csv, "--csv", help="Write one row per face and frame as CSV ('-': stdout)."),
    annotate: Optional[str] = typer.Option(_V.annotate, "--annotate", help="Write the analysed frames with boxes and "
                                           "labels to this .mp4 or .avi file."),
    threads: Optional[int] = typer.Option(_V.num_threads, "--threads", help=THREADS_HELP),
    backend: Optional[str] = typer.Option(_V.backend, "--backend", help="litert, tflite-runtime or tensorflow (first installed if omitted)."),
) -> None:
    """Faces and emotions frame by frame in a video file or camera (needs the 'faces' extra)."""
    result = video.analyse_video(video.VideoConfig(
        source=source, model=model, detector=detector, min_face_score=min_face_score, every=every, align=align,
        max_frames=max_frames, json=json_out, csv=csv_out, annotate=annotate, num_threads=threads, backend=backend))
    if json_out == STDOUT:
        typer.echo(strict_json(result), nl=False)
    elif csv_out == STDOUT:
        typer.echo(csv_text(video.CSV_HEADER, video.csv_rows(result["timeline"])), nl=False)
    else:
        typer.echo(f"{source}: {_count(result['frames'], 'frame')} analysed (every {result['every']}), "
                   f"{_count(result['faces'], 'face')}, {result['analysed_fps']} frames/s")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"

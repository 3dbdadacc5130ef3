"""``edgefer bench``: per-face latency of edgefer TFLite models, preprocessing included.

Each measured call is what an application does for one detected face: a 48x48 uint8
crop through ``EmotionClassifier.predict`` (canonicalisation, resize, scaling,
quantization, invoke, dequantization, softmax). With several callers, that many threads
share one classifier, as a web server's workers would.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..fileio import write_json
from ..configtypes import MAX_SEED, check_range
from ..outputs import Input, Output, plan_outputs
from ..preprocessing import FACE_SIZE
from ..provenance import command_line, file_sha256, host_cpu, portable
from .classifier import EmotionClassifier
from .model import check_thread_count, resolve_model
from .zoo import DEFAULT_MODEL_NAME, is_shipped

MAX_RUNS = 1_000_000
TABLE_COLUMNS = ("model", "dtype", "threads", "callers", "p50_ms", "p90_ms", "p99_ms", "faces_per_s", "size_bytes", "peak_rss_mb")


@dataclass
class BenchConfig:
    models: list[str] = field(default_factory=lambda: [DEFAULT_MODEL_NAME])
    threads: list[int] = field(default_factory=lambda: [1])
    # Concurrent callers sharing one classifier (and its pool of as many interpreters).
    callers: list[int] = field(default_factory=lambda: [1])
    # Percentiles up to p99 need a few hundred samples to mean anything.
    runs: int = 200
    warmup: int = 20
    json: str | None = None
    backend: str | None = None
    seed: int = 0


def peak_rss_mb() -> float | None:
    """This process's peak resident set size so far, or None where the OS does not say."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def _check(config: BenchConfig) -> None:
    if not config.models:
        raise ConfigError("no models given")
    check_range("--runs", config.runs, 1, MAX_RUNS)
    check_range("--warmup", config.warmup, 0, MAX_RUNS)
    check_range("--seed", config.seed, 0, MAX_SEED)
    if not config.threads or not config.callers:
        raise ConfigError("--threads and --callers each need at least one count")
    for option, counts in (("--threads", config.threads), ("--callers", config.callers)):
        for count in counts:
            check_thread_count(count, f"{option}: {option[2:-1]} counts")
    plan_outputs([Output("--json", config.json)],
                 [Input("MODELS", model, tree=False) for model in config.models if not is_shipped(model)])


def _bench_one(model: str, threads: int, callers: int, face: np.ndarray, config: BenchConfig) -> dict[str, Any]:
    classifier = EmotionClassifier(model, num_threads=threads, backend=config.backend, pool_size=callers)
    elapsed = np.empty((callers, config.runs))
    ready = threading.Barrier(callers + 1)
    errors: list[BaseException] = []
    stop = threading.Event()  # Ctrl-C or a kill in the main thread: each caller ends after its current face

    def caller(row: int) -> None:
        try:
            for _ in range(config.warmup):
                if stop.is_set():
                    return
                classifier.predict(face)
            ready.wait()
            for i in range(config.runs):
                if stop.is_set():
                    return
                start = time.perf_counter()
                classifier.predict(face)
                elapsed[row, i] = time.perf_counter() - start
        except BaseException as exc:  # re-raised in the main thread, which must not wait forever
            errors.append(exc)
            ready.abort()

    workers = [threading.Thread(target=caller, args=(row,), daemon=True) for row in range(callers)]
    for worker in workers:
        worker.start()
    try:
        with contextlib.suppress(threading.BrokenBarrierError):
            ready.wait()  # every caller warmed up (and its interpreter made) before the clock starts
        wall_start = time.perf_counter()
        for worker in workers:
            worker.join()
    except BaseException:
        stop.set()
        ready.abort()
        raise
    wall = time.perf_counter() - wall_start
    if errors:
        raise errors[0]
    ms = elapsed * 1000.0
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    path = resolve_model(model)
    return {
        "model": model,
        "path": portable(str(path)),
        "model_sha256": file_sha256(path),
        "backend": classifier.model.backend.name,
        "dtype": str(classifier.model.input_dtype),
        "threads": threads,
        "callers": callers,
        "runs": config.runs,
        "p50_ms": round(float(p50), 4),
        "p90_ms": round(float(p90), 4),
        "p99_ms": round(float(p99), 4),
        "mean_ms": round(float(ms.mean()), 4),
        # Faces finished per second of wall time, all callers together; with one caller,
        # one face at a time back to back: the single-stream rate of a camera loop.
        "faces_per_s": round(callers * config.runs / wall, 1),
        "size_bytes": classifier.model.size_bytes,
        # Peak of the whole benchmarking process so far, so later rows include earlier ones.
        "peak_rss_mb": None if (rss := peak_rss_mb()) is None else round(rss, 1),
        # Where the row comes from, on each row: rows of several runs may be gathered in one file.
        "command": command_line(),
        "host_cpu": host_cpu(),
    }


def benchmark(config: BenchConfig) -> list[dict[str, Any]]:
    """One row per model and thread count; also written to ``config.json`` when set."""
    _check(config)
    face = np.random.default_rng(config.seed).integers(0, 256, (FACE_SIZE, FACE_SIZE), dtype=np.uint8)
    rows = [_bench_one(model, threads, callers, face, config)
            for model in config.models for threads in config.threads for callers in config.callers]
    if config.json:
        write_json(config.json, rows)
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    cells = [[Path(str(row[c])).name if c == "model" else str(row[c]) for c in TABLE_COLUMNS] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(TABLE_COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(TABLE_COLUMNS, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)

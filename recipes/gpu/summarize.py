"""Score torch run directories on a split (single view and flip TTA) and pack them to bring home.

Runs where the runs were trained (no TensorFlow needed). Writes ``summary.json`` and
``summary.md`` into OUT and, with --pack, one ``RUN.tar.gz`` per run holding its small
files and float16 weights (the device tool brings back at most 8 files of 16 MB).

    python recipes/gpu/summarize.py DATA OUT RUN_DIR... [--split PublicTest] [--pack]
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from edgefer.training.torch_engine.env import torch  # noqa: F401  (before anything that could import TensorFlow)
from edgefer.data import load_split
from edgefer.inference import FlipAveraged
from edgefer.scoring import score
from edgefer.training import rundir
from edgefer.training.tensorfile import load_model_weights, save_model_weights
from edgefer.training.torch_engine.nets import build_model, load_weights
from edgefer.training.torch_engine.predictor import TorchPredictor
from edgefer.training.torch_engine.trainer import resolve_device

KEYS = ("top1", "top3", "mcc", "macro_f1", "log_loss", "ece")
SMALL_FILES = (rundir.CONFIG_FILE, rundir.MODEL_INFO_FILE, rundir.HISTORY_FILE, rundir.METRICS_FILE, rundir.CURVES_FILE)


def evaluate(run_dir: Path, faces, device) -> dict:
    run = rundir.load_run(run_dir)
    net = build_model(run.config.family, "none", run.config.dropout, 0.0).to(device).eval()
    load_weights(net, run.model_file)
    predictor = TorchPredictor(net, run.info, str(run_dir), device)
    single, _ = score(predictor, faces)
    flip, _ = score(FlipAveraged(predictor), faces)
    return {"run": run_dir.name, "family": run.config.family, "input_size": run.config.input_size,
            "teachers": [Path(t).name for t in run.config.teachers], "distill_weight": run.config.distill_weight,
            "seconds": json.loads((run_dir / rundir.METRICS_FILE).read_text())["training"]["seconds_this_session"],
            "single": {k: single[k] for k in KEYS}, "flip": {k: flip[k] for k in KEYS},
            "per_class_recall": single["per_class_recall"]}


def pack(run_dir: Path, out: Path) -> Path:
    target = out / f"{run_dir.name}.tar.gz"
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(target, "w:gz") as tar:
        half = Path(tmp) / rundir.TORCH_MODEL_FILE
        family = rundir.load_run(run_dir).config.family
        weights = load_model_weights(run_dir / rundir.TORCH_MODEL_FILE, family)
        save_model_weights(half, {k: v.astype(np.float16) for k, v in weights.items()}, family)
        tar.add(half, f"{run_dir.name}/{rundir.TORCH_MODEL_FILE}")
        for name in SMALL_FILES:
            if (run_dir / name).is_file():
                tar.add(run_dir / name, f"{run_dir.name}/{name}")
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data")
    parser.add_argument("out")
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--split", default="PublicTest")
    parser.add_argument("--pack", action="store_true")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device("auto")
    faces = load_split(args.data, args.split)
    rows = [evaluate(Path(r), faces, device) for r in args.runs]
    (out / "summary.json").write_text(json.dumps(rows, indent=2))
    lines = ["| run | px | teachers | top-1 | top-1 flip | top-3 | MCC | macro-F1 | train s |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        s, f = r["single"], r["flip"]
        lines.append(f"| {r['run']} | {r['input_size']} | {', '.join(r['teachers']) or '-'} | {s['top1']:.4f} | "
                     f"{f['top1']:.4f} | {s['top3']:.4f} | {s['mcc']:.4f} | {s['macro_f1']:.4f} | {r['seconds']:.0f} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if args.pack:
        for r in args.runs:
            print(pack(Path(r), out), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

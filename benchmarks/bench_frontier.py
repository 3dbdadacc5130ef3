"""The accuracy-latency frontier against fer, from one bench_peers run, and the model to ship.

bench_peers times every candidate interleaved with fer's model in one process, so the
latency multiples are comparable; this script reads its JSON, prints the table sorted by
latency with the Pareto-optimal rows marked, plots top-1 against p50 as a multiple of
fer's, and names the most accurate model within the latency budget.

    python benchmarks/bench_peers.py runs/frontier/*/model_int8.tflite --data DATA --json peers.json
    python benchmarks/bench_frontier.py peers.json --max-latency 1.3 --png frontier.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def pareto(rows: list[dict]) -> set[str]:
    """Names no other model beats on both top-1 and latency."""
    return {r["name"] for r in rows
            if not any(o["top1"] >= r["top1"] and o["p50_vs_fer"] <= r["p50_vs_fer"]
                       and (o["top1"], o["p50_vs_fer"]) != (r["top1"], r["p50_vs_fer"]) for o in rows)}


def plot(rows: list[dict], chosen: str | None, budget: float, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in rows:
        fer = r["name"].startswith("fer")
        ax.scatter(r["p50_vs_fer"], r["top1"], marker="s" if fer else "o", s=60 if r["name"] == chosen else 30,
                   color="tab:red" if fer else ("tab:green" if r["name"] == chosen else "tab:blue"))
        ax.annotate(r["name"], (r["p50_vs_fer"], r["top1"]), fontsize=7, xytext=(4, 3), textcoords="offset points")
    ax.margins(x=0.2, y=0.1)  # room for the labels
    ax.axvline(budget, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("p50 latency per face, multiple of fer's (1 thread, same run)")
    ax.set_ylabel("top-1")
    ax.set_title("int8 models: accuracy against latency")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("peers_json", help="the --json output of bench_peers.py")
    parser.add_argument("--max-latency", type=float, default=1.3, help="latency budget, multiple of fer's p50")
    parser.add_argument("--png", help="write the frontier plot here")
    args = parser.parse_args()
    models = json.loads(Path(args.peers_json).read_text())["models"]
    rows = sorted(({"name": name, **m} for name, m in models.items() if "top1" in m and "p50_vs_fer" in m),
                  key=lambda r: r["p50_vs_fer"])
    front = pareto(rows)
    within = [r for r in rows if r["p50_vs_fer"] <= args.max_latency and not r["name"].startswith("fer")]
    chosen = max(within, key=lambda r: r["top1"])["name"] if within else None
    print("| model | size MB | top-1 | top-3 | MCC | p50 ms | p50 vs fer | frontier |")
    print("|---|---:|---:|---:|---:|---:|---:|:---:|")
    for r in rows:
        print(f"| {r['name']}{' **(ship)**' if r['name'] == chosen else ''} | {r['size_bytes'] / 1e6:.2f} | "
              f"{r['top1']:.4f} | {r['top3']:.4f} | {r['mcc']:.4f} | {r['p50_ms']:.3f} | {r['p50_vs_fer']:.2f}x | "
              f"{'yes' if r['name'] in front else ''} |")
    print(f"\nmost accurate within {args.max_latency}x fer's p50: {chosen or 'none'}")
    if args.png:
        plot(rows, chosen, args.max_latency, args.png)
        print(f"wrote {args.png}")
    return 0 if chosen else 1


if __name__ == "__main__":
    sys.exit(main())

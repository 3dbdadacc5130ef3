"""How long loading the FER2013 CSV takes.

    python benchmarks/bench_data.py ../shared/data/fer2013/fer2013-dev.csv.gz
"""

from __future__ import annotations

import argparse
import time

from edgefer.data import load_splits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        splits = load_splits(args.data)
        times.append(time.perf_counter() - start)
    faces = sum(len(s) for s in splits.values())
    print("| data | faces | splits | best s | mean s |")
    print("|---|---:|---|---:|---:|")
    print(f"| {args.data.split('/')[-1]} | {faces} | {', '.join(f'{k} {len(v)}' for k, v in splits.items())} "
          f"| {min(times):.2f} | {sum(times) / len(times):.2f} |")


if __name__ == "__main__":
    main()

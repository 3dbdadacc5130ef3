"""Float vs PTQ int8 vs QAT int8 on the validation split: top-1, top-3, MCC, agreement, size, time.

    python benchmarks/bench_export.py RUN_DIR --data fer2013.csv.gz [--qat-epochs 1]
        [--qat-steps 0] [--calibration-size 400] [--out DIR] [--json FILE]
    python benchmarks/bench_export.py --report RUN_DIR/export/export_report.json

The second form tables an export already made with ``edgefer export --formats
int8,float32,...`` instead of exporting again.

One ``edgefer export --formats int8,float32`` run: the exporter scores both int8
candidates (PTQ and QAT) against the float Keras model on the validation split
(PublicTest for FER2013) before keeping one, and the float32 TFLite is the size
baseline. Targets: QAT int8 within 0.5 pp top-1 and 0.01 MCC of float; int8 file at
most 30% of the float32 TFLite.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgefer.export import ExportConfig, export  # noqa: E402

TOP1_TARGET_PP, MCC_TARGET, SIZE_TARGET = 0.5, 0.01, 0.30


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?")
    parser.add_argument("--data")
    parser.add_argument("--report", help="Table this export_report.json instead of exporting.")
    parser.add_argument("--qat-epochs", type=int, default=1)
    parser.add_argument("--qat-steps", type=int, default=0)
    parser.add_argument("--calibration-size", type=int, default=400)
    parser.add_argument("--out", help="Keep the exported files here (a temporary directory otherwise).")
    parser.add_argument("--json", help="Also write the rows and target checks as JSON.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the export's progress lines
    for noisy in ("absl", "tensorflow", "h5py"):
        logging.getLogger(noisy).setLevel(logging.ERROR)

    if args.report:
        report = json.loads(Path(args.report).read_text())
        total = sum(f["seconds"] for f in report["formats"].values())
    else:
        if not (args.run_dir and args.data):
            parser.error("RUN_DIR and --data are needed unless --report is given")
        out = args.out or tempfile.mkdtemp(prefix="bench_export_")
        config = ExportConfig(model=args.run_dir, data=args.data, out=out, formats=("int8", "float32"),
                              qat_epochs=args.qat_epochs, qat_steps=args.qat_steps,
                              calibration_size=args.calibration_size, parity_gate=False)
        started = time.time()
        report = export(config)
        total = time.time() - started

    ref, float32 = report["reference"], report["formats"]["float32"]
    rows = [{"model": "float (Keras)", **{k: ref[k] for k in ("top1", "top3", "mcc")}, "agreement": 1.0,
             "bytes": float32["bytes"], "seconds": float32["seconds"]}]
    for name, c in report["int8"]["candidates"].items():
        rows.append({"model": f"{name.upper()} int8", **{k: c[k] for k in ("top1", "top3", "mcc", "agreement")},
                     "bytes": c["bytes"], "seconds": c["seconds"]})

    print(f"{report['data']['val_faces']} faces of {report['data']['val_split']}; export took {total:.0f} s; "
          f"kept {report['int8']['chosen'].upper()}: {report['int8']['reason']}")
    print(f"{'model':<14} {'top1':>7} {'top3':>7} {'mcc':>7} {'agree':>7} {'MB':>7} {'size':>6} {'time s':>7}")
    for r in rows:
        print(f"{r['model']:<14} {r['top1']:>7.4f} {r['top3']:>7.4f} {r['mcc']:>7.4f} {r['agreement']:>7.4f} "
              f"{r['bytes'] / 1e6:>7.2f} {r['bytes'] / float32['bytes']:>6.0%} {r['seconds']:>7.0f}")
    qat = next((r for r in rows if r["model"] == "QAT int8"), rows[-1])
    checks = {
        "qat_top1_within_0.5pp": 100 * (ref["top1"] - qat["top1"]) <= TOP1_TARGET_PP,
        "qat_mcc_within_0.01": ref["mcc"] - qat["mcc"] <= MCC_TARGET,
        "int8_size_at_most_30pct": qat["bytes"] <= SIZE_TARGET * float32["bytes"],
    }
    print("targets: " + ", ".join(f"{k} {'PASS' if v else 'FAIL'}" for k, v in checks.items()))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "targets": checks, "export_seconds": total}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# The CPU recipe in one command: a Lite0 student at 48 px from ImageNet, then the same
# network fine-tuned at 64 px from it (progressive resizing), each through distilled QAT
# to full int8 with its float16 reference; then fer, the shipped default and both
# candidates timed in one interleaved run, and the frontier that picks what ships.
#
#   bash recipes/cpu/run.sh DATA OUT [extra train flags]
#
# DATA: the FER2013 CSV or its `edgefer data pack`; OUT: where the tables and the plot go.
# Each step is skipped when its result exists, so a run cut by the end of a session goes
# on where it stopped (the training step itself continues with --resume).
set -euo pipefail
DATA=$1
OUT=$2
shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
RUNS=${RUNS:-runs/cpu}
PY=${PYTHON:-python}
mkdir -p "$OUT" "$RUNS"

train() {  # recipe name, extra flags...
  local name=$1; shift
  if [ -f "$RUNS/$name/model.safetensors" ]; then return; fi
  if [ -f "$RUNS/$name/config.json" ]; then
    "$PY" -m edgefer train --resume "$RUNS/$name"
  else
    "$PY" -m edgefer train --config "$HERE/$name.json" --data "$DATA" --out "$RUNS/$name" "$@"
  fi
}

export_int8() {  # run name
  if [ -f "$RUNS/$1/export/model_int8.tflite" ]; then return; fi
  "$PY" -m edgefer export "$RUNS/$1" --int8 --data "$DATA" --formats int8,float16 --out "$RUNS/$1/export"
}

train student-lite0-48 "$@"
train student-lite0-64-from-48 --weights "$RUNS/student-lite0-48" "$@"
export_int8 student-lite0-48
export_int8 student-lite0-64-from-48
"$PY" benchmarks/bench_peers.py "$RUNS/student-lite0-48/export/model_int8.tflite" \
  "$RUNS/student-lite0-64-from-48/export/model_int8.tflite" --data "$DATA" --json "$OUT/peers.json"
"$PY" benchmarks/bench_frontier.py "$OUT/peers.json" --png "$OUT/frontier.png"

#!/usr/bin/env bash
# The GPU recipe in one command: three teachers, then the 64 px Lite0 student with and
# without distillation from them; a PublicTest summary and the packed runs in OUT.
#
#   bash recipes/gpu/run.sh DATA.facepack OUT [extra train flags, e.g. --epochs 2 --device cpu]
#
# DATA is made beforehand with `edgefer data pack` (the GPU machine has no network);
# extra flags go to every `edgefer train`, so a CPU dry run is
#   bash recipes/gpu/run.sh DATA OUT --device cpu --epochs 1 --max-train-samples 256 --no-mixed-precision
set -euo pipefail
DATA=$1
OUT=$2
shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
RUNS=${RUNS:-runs/gpu}
PY=${PYTHON:-python}
mkdir -p "$OUT" "$RUNS"
TEACHERS=()
for recipe in teacher-lite0-96 teacher-lite1-128 teacher-lite2-128; do
  rm -rf "${RUNS:?}/$recipe"
  "$PY" -m edgefer train --config "$HERE/$recipe.json" --data "$DATA" --out "$RUNS/$recipe" "$@"
  TEACHERS+=("$RUNS/$recipe")
done
rm -rf "$RUNS/student-lite0-64" "$RUNS/student-lite0-64-distilled"
"$PY" -m edgefer train --config "$HERE/student-lite0-64.json" --data "$DATA" --out "$RUNS/student-lite0-64" "$@"
"$PY" -m edgefer train --config "$HERE/student-lite0-64.json" --data "$DATA" --out "$RUNS/student-lite0-64-distilled" \
  --teacher "$(IFS=,; echo "${TEACHERS[*]}")" --distill-weight 0.7 "$@"
"$PY" "$HERE/summarize.py" "$DATA" "$OUT" "${TEACHERS[@]}" "$RUNS/student-lite0-64" "$RUNS/student-lite0-64-distilled" --pack

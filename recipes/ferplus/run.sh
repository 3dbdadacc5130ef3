#!/usr/bin/env bash
# The FER+ recipe on CPUs: a Lite0 trained on the votes alone (the `ferplus` model), a short
# sweep of label mixes at one budget (which weight of votes against FER2013's one-hot label
# pays), then the `fast` candidate on the chosen mix (48 px, then 64 px from it).
#
#   bash recipes/ferplus/run.sh FER2013_CSV FERPLUS_VOTES_CSV [MIX_WEIGHT]
#
# Each step is skipped when its run is finished and resumed when it was cut short, so the
# command goes on where a session stopped. Exports and the shipping rule follow by hand:
# see the README's FER+ section.
set -euo pipefail
DATA=$1
VOTES=$2
MIX=${3:-0.3}
HERE=$(cd "$(dirname "$0")" && pwd)
RUNS=${RUNS:-runs/ferplus}
PY=${PYTHON:-python}
mkdir -p "$RUNS"

train() {  # run name, recipe file, extra flags...
  local name=$1 recipe=$2; shift 2
  if [ -f "$RUNS/$name/metrics.json" ]; then return; fi
  if [ -f "$RUNS/$name/config.json" ]; then
    "$PY" -m edgefer train --resume "$RUNS/$name"
  else
    "$PY" -m edgefer train --config "$HERE/$recipe.json" --data "$DATA" --votes "$VOTES" --out "$RUNS/$name" "$@"
  fi
}

train votes-lite0-48 votes-lite0-48
train sweep-fer2013 sweep-lite0-48 --labels fer2013
for w in 0.15 0.3 0.5; do
  train "sweep-mix-$w" sweep-lite0-48 --labels mix --votes-weight "$w"
done
train mix-lite0-48 mix-lite0-48 --votes-weight "$MIX"
train mix-lite0-64-from-48 mix-lite0-64-from-48 --votes-weight "$MIX" --weights "$RUNS/mix-lite0-48"

#!/bin/bash
# Real-time priority for the jam's timing threads, A/B on a busy machine: the default trading
# jam (improv.bench.soak --trade) with two processes spinning on the 2 cores, alternating runs
# with [timing] realtime = false (A) and the default, true (B), so both see the same machine.
#   JACK_DEFAULT_SERVER=NAME PYTHON=.venv/bin/python figures/realtime-soak/ab.sh OUTDIR PAIRS MINUTES [--trade]
set -u
out=$1; pairs=${2:-2}; min=${3:-4}; mode=${4:-}
py=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
python3 -c "while True: pass" & h1=$!
python3 -c "while True: pass" & h2=$!
trap 'kill $h1 $h2 2>/dev/null' EXIT
for i in $(seq 1 "$pairs"); do
  "$py" -m improv.bench.soak $mode --minutes "$min" --seed 7 --config "$here/normal-priority.toml" \
    --json "$out/normal-$i.json" > "$out/normal-$i.log" 2>&1
  "$py" -m improv.bench.soak $mode --minutes "$min" --seed 7 --json "$out/realtime-$i.json" > "$out/realtime-$i.log" 2>&1
done

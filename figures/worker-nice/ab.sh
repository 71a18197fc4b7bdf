#!/bin/bash
# The partner's worker at nice 5 (A: the engine before) against nice 0 where the jam's timing
# threads run real-time (B), on a busy machine: the default trading jam (improv.bench.soak
# --trade) over a real-time JACK server with SPIN processes spinning on the 2 cores, runs taken
# in turn so both arms see the same machine.
#   JACK_DEFAULT_SERVER=NAME PYTHON=.venv/bin/python figures/worker-nice/ab.sh OUTDIR TREE_A TREE_B PAIRS MINUTES SPIN
set -u
out=$1; a=$2; b=$3; pairs=${4:-3}; min=${5:-3}; spin=${6:-4}
py=${PYTHON:-python3}
mkdir -p "$out"
pids=()
for i in $(seq 1 "$spin"); do python3 -c "while True: pass" & pids+=($!); done
trap 'kill ${pids[*]} 2>/dev/null' EXIT
for i in $(seq 1 "$pairs"); do
  (cd "$a" && PYTHONPATH="$a" "$py" -m improv.bench.soak --trade --minutes "$min" --seed 7 \
    --json "$out/nice5-$i.json" > "$out/nice5-$i.log" 2>&1)
  (cd "$b" && PYTHONPATH="$b" "$py" -m improv.bench.soak --trade --minutes "$min" --seed 7 \
    --json "$out/nice0-$i.json" > "$out/nice0-$i.log" 2>&1)
done

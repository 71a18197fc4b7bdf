#!/bin/bash
# The default free jam played by validation solos as recorded over JACK (improv.bench.soak),
# on a busy machine: two processes spinning at normal priority on the 2 cores for the whole run.
#   JACK_DEFAULT_SERVER=NAME figures/busy-soak/busy_soak.sh TREE OUT.json [MINUTES]
# TREE: the working tree whose improv runs (a `git worktree` of the engine measured); its soak
# is seed 7, as in figures/busy-soak/*.json.
set -u
tree=$1; out=$2; min=${3:-4}
py=${PYTHON:-python3}
python3 -c "while True: pass" & h1=$!
python3 -c "while True: pass" & h2=$!
trap 'kill $h1 $h2 2>/dev/null' EXIT
(cd "$tree" && PYTHONPATH="$tree" "$py" -m improv.bench.soak --minutes "$min" --seed 7 --json "$out")

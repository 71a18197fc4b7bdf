#!/bin/bash
# The built-in synth on a busy machine, A/B: `improv jam` on JACK with nothing played (the
# synth renders silence, as between notes), two processes spinning on the 2 cores, alternating
# [timing] realtime = false (A) and the default (B); counts the blocks that ran dry (its
# closing line; none said = under its threshold).
#   JACK_DEFAULT_SERVER=NAME PYTHON=.venv/bin/python figures/realtime-soak/synth_ab.sh OUTDIR PAIRS SECONDS
set -u
out=$1; pairs=${2:-3}; secs=${3:-60}
py=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
python3 -c "while True: pass" & h1=$!
python3 -c "while True: pass" & h2=$!
trap 'kill $h1 $h2 2>/dev/null' EXIT
for i in $(seq 1 "$pairs"); do
  (cd "$out" && "$py" -m improv jam --duration "$secs" --no-record --no-view --config "$here/normal-priority.toml" \
    > "normal-$i.log" 2>&1)
  (cd "$out" && "$py" -m improv jam --duration "$secs" --no-record --no-view > "realtime-$i.log" 2>&1)
done
grep -H "ran dry\|real-time\|normal priority" "$out"/*.log

# The collector's log behind figures/gc-soak.json: put on PYTHONPATH as sitecustomize.py, it
# notes every collection of generation 1 or 2 in each Python process started (the soak, its
# jam, the partner's worker) and, at exit, writes one line to /tmp/gcsite/log-PID.txt: the
# objects tracked then, the generation-1 collections after the first 5 s (count, longest ms),
# and every generation-2 collection as (seconds since the process started, ms). Explicit
# collections count too (gctime.settle's at the start, the worker's idle ones).
#
#   mkdir -p /tmp/gcsite && cp figures/gc_soak_log.py /tmp/gcsite/sitecustomize.py
#   cd TREE && PYTHONPATH=/tmp/gcsite:TREE JACK_DEFAULT_SERVER=NAME \
#       python3 -m improv.bench.soak ../shared/data/wjazzd-solos.tar.gz --minutes 20 --seed 15
import gc, time, sys, os, atexit
_ev = []; _st = {}; _T0 = time.perf_counter()
def _cb(phase, info):
    if phase == "start": _st['t'] = time.perf_counter()
    elif info['generation'] >= 1:
        _ev.append((info['generation'], _st['t'], (time.perf_counter() - _st['t']) * 1e3))
gc.callbacks.append(_cb)
def _report():
    g2 = [(round(t - _T0, 1), round(d, 2)) for g, t, d in _ev if g == 2]; g1 = [d for g, t, d in _ev if g == 1 and t - _T0 > 5]
    with open(f"/tmp/gcsite/log-{os.getpid()}.txt", "w") as f:
        f.write(f"{' '.join(sys.argv)[:80]} objects {len(gc.get_objects())} gen1 {len(g1)} max {max(g1, default=0):.2f}; gen2 {len(g2)} {g2}\n")
atexit.register(_report)

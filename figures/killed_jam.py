"""A jam killed outright (SIGKILL) over JACK: how soon its partner's worker has silenced the
synth, and whether it then ends. The README's figure under "Play" (a jam killed outright),
written to figures/killed-jam.json. Run from the repository root, with a JACK server running
(`jackd -d dummy -r 48000 -p 128 &`; `JACK_DEFAULT_SERVER` names another):

    python3 figures/killed_jam.py [RUNS] [SERVER] > figures/killed-jam.json

(SERVER: how the running server was started, kept in the JSON; a synchronous one, `jackd -S`,
stalls as it waits out the dead jam's clients, and the silence comes when it answers again:
figures/killed-jam-sync.json.)

Each run starts `improv jam` (the default partner, the model) playing to a listener port
opened with `--out`, or wired to the jam's `--virtual-out` after it started, and kills it
with SIGKILL at one of these moments:
- **waiting**: a second after it says it is jamming, nothing played yet;
- **key down**: a key held down by the player (passed through to the synth);
- **mid-answer**: while a note of the partner's answer sounds (the call a soloist's phrase as
  played, tests/test_e2e_partner.py's `played_call`);
- **mid-answer, band**: the same with `--comp --bass` (their notes on channels 3 and 4).

Timed from the kill: to nothing sounding on the listener any more (`sounding_notes`, after an
All Notes Off came; `quiet_s`), and to All Notes Off on all 16 channels (`silenced_s`: the
panic goes channel by channel, a note-off for each pitch after it, paced for JACK's
buffer). The median of the runs with the lowest and highest. Also counted: runs where
that never came (within 60 s), and workers still running 20 s after.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from improv.bench.jackprobe import Listener, sounding_notes, unique  # noqa: E402
from jackutil import Jam  # noqa: E402
from test_e2e_jack import TEMPO  # noqa: E402
from test_e2e_partner import played_call, running  # noqa: E402

MOMENTS = ("waiting", "key down", "mid-answer", "mid-answer, band")
WIRINGS = ("out", "virtual-out")


def one(moment: str, wiring: str, seed: int) -> dict:
    own = Listener(unique("killed-synth")) if wiring == "out" else None
    flags = ["--tempo", f"{TEMPO:g}", "--seed", str(seed)] + (["--comp", "--bass", "--tune", "blues-f"]
                                                             if moment.endswith("band") else [])
    try:
        with Jam(Path(tempfile.mkdtemp(prefix="killed-jam-")), duration=120, extra=flags,
                 out_port=f"{own.client}:{own.port_name}" if own is not None else "") as jam:
            synth = own or jam.listener
            deadline = time.monotonic() + 30
            while "jamming" not in jam.stderr() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)  # (a watch round or two: the worker has been told the ports wired to it)
            workers = jam.children()
            if moment == "key down":
                jam.player.send([0x90, 60, 90])
                synth.wait(lambda a: any(x.data == (0x90, 60, 90) for x in a), timeout=5)
            elif moment.startswith("mid-answer"):
                jam.player.play(played_call(), start=time.perf_counter() + 0.2)
                synth.wait(lambda a: any(ch == 2 for ch, _ in sounding_notes(a)), timeout=15)
            sounding = sorted(sounding_notes(synth.arrivals))
            jam.proc.send_signal(signal.SIGKILL)
            timed = time_the_silence(synth, time.perf_counter(), sounding_notes, workers)
            return {"moment": moment, "wiring": wiring, "seed": seed, "sounding_at_kill": sounding,
                    "quiet_s": timed["quiet_s"], "silenced": timed["silenced"], "silenced_s": timed["silenced_s"],
                    "worker_left": timed["left"]}
    finally:
        if own is not None:
            own.close()


def time_the_silence(synth: Listener, killed: float, sounding, pids: list[int]) -> dict:
    """From a kill at `killed` (perf_counter seconds): how soon nothing sounds on `synth`
    (`sounding(arrivals)` empty) after an All Notes Off came (`quiet_s`), and how soon it came
    on all 16 channels (`silenced_s`), None for never (within 60 s); then whether any of
    `pids` (what does the silencing) still runs 20 s after (`left`)."""
    offs = lambda a: {x.channel for x in a if x.t > killed and x.data[0] & 0xF0 == 0xB0  # noqa: E731
                      and x.data[1] == 123}
    quiet = synth.wait(lambda a: not sounding(a) and offs(a), timeout=60)
    quiet_s = time.perf_counter() - killed
    silenced = synth.wait(lambda a: not sounding(a) and offs(a) == set(range(1, 17)), timeout=60)
    took = time.perf_counter() - killed
    deadline = time.monotonic() + 20
    alive = lambda: [p for p in pids if running(p)]  # noqa: E731
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"quiet_s": round(quiet_s, 3) if quiet else None, "silenced": silenced,
            "silenced_s": round(took, 3) if silenced else None, "left": bool(alive())}


def spread(results: list[dict], key: str) -> dict | None:
    """The median of the runs' `key` with the lowest and highest (runs where it never came left out)."""
    xs = [r[key] for r in results if r[key] is not None]
    return {"median": median(xs), "min": min(xs), "max": max(xs), "n": len(xs)} if xs else None


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    server = sys.argv[2] if len(sys.argv) > 2 else "jackd -d dummy -r 48000 -p 128"
    results = [one(m, w, seed) for seed in range(runs) for w in WIRINGS for m in MOMENTS]
    write(results, server, workers_left=sum(r["worker_left"] for r in results))
    return 0


def write(results: list[dict], server: str, **counts: int) -> None:
    """The runs as JSON on stdout, with the commit, the spreads and `counts` beside them."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    out = {"commit": commit, "date": time.strftime("%Y-%m-%d %H:%M"), "server": server, "runs": results,
           "quiet_s": spread(results, "quiet_s"), "silenced_s": spread(results, "silenced_s"),
           "never_silenced": sum(not r["silenced"] for r in results), **counts, "load_average": os.getloadavg()}
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    sys.exit(main())

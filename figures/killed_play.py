"""`improv play` killed outright (SIGKILL) over JACK: how soon its sentinel has silenced the
synth it played into, and whether the sentinel then ends. The README's figure under "Play"
(a playback killed outright), written to figures/killed-play.json. Run from the repository
root, with a JACK server running (`jackd -d dummy -r 48000 -p 128 &`; `JACK_DEFAULT_SERVER`
names another):

    python3 figures/killed_play.py [RUNS] [SERVER] > figures/killed-play.json

Each run plays tests/test_play.py's dense recording (a dozen notes sounding at any moment,
on three channels) with `--out` a fresh listener port, and kills play with SIGKILL once 40
notes have arrived, at a moment that moves from run to run (a further 0-0.5 s). Timed from
the kill, as figures/killed_jam.py times a killed jam: to nothing sounding on the listener
after an All Notes Off came (`quiet_s`), and to All Notes Off on all 16 channels
(`silenced_s`). The median of the runs with the lowest and highest; also counted: runs
where that never came (within 60 s), and sentinels still running 20 s after.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from improv.bench.jackprobe import Listener, unique  # noqa: E402
from improv.core.formats.midifile import save_recording  # noqa: E402
from jackutil import ROOT  # noqa: E402
from test_e2e_partner import running  # noqa: E402
from test_play import dense_session, unmatched  # noqa: E402


def children(pid: int) -> list[int]:
    """The processes `pid` started (Linux /proc)."""
    out = []
    for p in Path("/proc").iterdir():
        try:
            if p.name.isdigit() and int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(p.name))
        except (OSError, IndexError, ValueError):
            pass
    return out


def one(path: Path, run: int) -> dict:
    listener = Listener(unique("killed-play"))
    env = dict(os.environ, IMPROV_MIDI_API="jack", JACK_NO_START_SERVER="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen([sys.executable, "-m", "improv", "play", str(path), "--out", listener.client, "--quiet"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        listener.wait(lambda a: sum(x.is_note_on for x in a) >= 40, timeout=30)
        time.sleep(0.05 * (run % 11))
        sentinels = children(proc.pid)
        sounding = sorted(unmatched(listener.arrivals))
        proc.send_signal(signal.SIGKILL)
        killed = time.perf_counter()
        offs = lambda a: {x.channel for x in a if x.t > killed and x.data[0] & 0xF0 == 0xB0  # noqa: E731
                          and x.data[1] == 123}
        quiet = listener.wait(lambda a: not unmatched(a) and offs(a), timeout=60)
        quiet_s = time.perf_counter() - killed
        silenced = listener.wait(lambda a: not unmatched(a) and offs(a) == set(range(1, 17)), timeout=60)
        took = time.perf_counter() - killed
        deadline = time.monotonic() + 20
        alive = lambda: [s for s in sentinels if running(s)]  # noqa: E731
        while alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        _, err = proc.communicate(timeout=30)
        return {"run": run, "sounding_at_kill": [list(k) for k in sounding],
                "quiet_s": round(quiet_s, 3) if quiet else None,
                "silenced": silenced, "silenced_s": round(took, 3) if silenced else None,
                "sentinels": len(sentinels), "sentinel_left": bool(alive()),
                "said": "the playback ended without closing: all notes off on" in err}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        listener.close()


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    server = sys.argv[2] if len(sys.argv) > 2 else "jackd -d dummy -r 48000 -p 128"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    path = save_recording(dense_session(), Path(os.environ.get("TMPDIR", "/tmp")) / f"killed-play-{os.getpid()}.mid")
    try:
        results = [one(path, i) for i in range(runs)]
    finally:
        path.unlink(missing_ok=True)

    def spread(key: str) -> dict | None:
        xs = [r[key] for r in results if r[key] is not None]
        return {"median": median(xs), "min": min(xs), "max": max(xs), "n": len(xs)} if xs else None

    out = {"commit": commit, "date": time.strftime("%Y-%m-%d %H:%M"), "server": server, "runs": results,
           "quiet_s": spread("quiet_s"), "silenced_s": spread("silenced_s"),
           "never_silenced": sum(not r["silenced"] for r in results),
           "sentinels_left": sum(r["sentinel_left"] for r in results),
           "said": sum(r["said"] for r in results),
           "load_average": os.getloadavg()}
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

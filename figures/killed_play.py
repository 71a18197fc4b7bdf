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

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from improv.bench.jackprobe import Listener, unique  # noqa: E402
from improv.core.formats.midifile import save_recording  # noqa: E402
from jackutil import ROOT  # noqa: E402
from killed_jam import time_the_silence, write  # noqa: E402
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
        timed = time_the_silence(listener, time.perf_counter(), unmatched, sentinels)
        _, err = proc.communicate(timeout=30)
        return {"run": run, "sounding_at_kill": [list(k) for k in sounding],
                "quiet_s": timed["quiet_s"], "silenced": timed["silenced"], "silenced_s": timed["silenced_s"],
                "sentinels": len(sentinels), "sentinel_left": timed["left"],
                "said": "the playback ended without closing: all notes off on" in err}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        listener.close()


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    server = sys.argv[2] if len(sys.argv) > 2 else "jackd -d dummy -r 48000 -p 128"
    path = save_recording(dense_session(), Path(os.environ.get("TMPDIR", "/tmp")) / f"killed-play-{os.getpid()}.mid")
    try:
        results = [one(path, i) for i in range(runs)]
    finally:
        path.unlink(missing_ok=True)
    write(results, server, sentinels_left=sum(r["sentinel_left"] for r in results),
          said=sum(r["said"] for r in results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

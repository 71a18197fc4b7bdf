"""Drives the stage view (improv/live/view.py) with scripted snapshots, as the jam would,
for tests/test_view.py, which runs it in tmux.

    python tests/view_driver.py run     # until Ctrl-C
    python tests/view_driver.py crash   # raises after 8 snapshots
    python tests/view_driver.py hang PIDFILE  # writes its pid, then runs until killed
    python tests/view_driver.py hang PIDFILE hold  # the same, and starts a process that holds
        # the view's pipe open (as a child of the jam might), its pid in PIDFILE.holder: when
        # the driver is killed, the view sees no end of its pipe
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from improv.live.status import Snapshot  # noqa: E402
from improv.live.view import StageView  # noqa: E402

CHORDS = ["F7", "Bb7", "F7", "Cm7", "Bb7", "Bdim7", "F7", "D7", "Gm7", "C7", "F7", "Gm7"]


def snapshot(k: int) -> Snapshot:
    bar, beat = 1 + k // 4, 1 + k % 4
    return Snapshot(120.0, bar, beat, "answering" if (k // 8) % 2 else "listening", CHORDS[(bar - 1) % 12], 2,
                    0.05, 0.3, k, 0, "embrace 0.5", tempo_heard=118.0, tempo_sure=0.8, chorus=1 + (bar - 1) // 12,
                    section="A", form_bar=1 + (bar - 1) % 12, form_bars=12, chord_next=CHORDS[bar % 12],
                    heard="bar 3: E over F7 (outside, long)", did="reharmonise as Gb7",
                    controls=(("outside", "embrace"), ("daring", "0.50")))


def main() -> None:
    mode = sys.argv[1]
    if hasattr(signal, "SIGTSTP"):
        signal.signal(signal.SIGTSTP, lambda *_: None)  # as the jam: Ctrl-Z does not stop it (a handler: not inherited)
    print("driver: starting the view", file=sys.stderr, flush=True)
    view = StageView(sys.stderr)
    if mode == "hang" and sys.argv[3:] == ["hold"]:
        holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], pass_fds=(view._fd,))
        Path(sys.argv[2] + ".holder").write_text(str(holder.pid))
    interrupted = False
    try:
        k = 0
        while True:
            view.update(time.monotonic(), snapshot(k), force=True)
            view.log(f"driver line {k}")
            if mode == "crash" and k == 8:
                raise RuntimeError("scripted crash")
            if mode == "hang" and k == 0:
                Path(sys.argv[2]).write_text(str(os.getpid()))  # (after the holder's pid)
            k += 1
            time.sleep(0.15)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        view.finish()
    if interrupted:
        print("driver: interrupted, terminal restored", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Drives the stage view (improv/live/view.py) with scripted snapshots, as the jam would,
for tests/test_view.py, which runs it in tmux.

    python tests/view_driver.py run     # until Ctrl-C
    python tests/view_driver.py crash   # raises after 8 snapshots
    python tests/view_driver.py hang PIDFILE  # writes its pid, then runs until killed
"""

from __future__ import annotations

import os
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
    if mode == "hang":
        Path(sys.argv[2]).write_text(str(os.getpid()))
    print("driver: starting the view", file=sys.stderr, flush=True)
    view = StageView(sys.stderr)
    interrupted = False
    try:
        k = 0
        while True:
            view.update(time.monotonic(), snapshot(k), force=True)
            view.log(f"driver line {k}")
            if mode == "crash" and k == 8:
                raise RuntimeError("scripted crash")
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

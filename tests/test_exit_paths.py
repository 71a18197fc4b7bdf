"""Every exit path writes the recording or says where the journal is: two Ctrl-Cs within
50 ms (the second cuts the clean shutdown short) over a real `improv jam` on JACK."""

from __future__ import annotations

import re
import signal
import time

import pytest

from jackutil import Jam, note_events, require_jam, wired

pytestmark = pytest.mark.jack  # (over the JACK server: skipped when none runs, rerun after a failure)

TEMPO = 120.0


def test_two_ctrl_cs_still_write_the_recording(tmp_path):
    require_jam()
    with Jam(tmp_path, duration=60, extra=["--tempo", f"{TEMPO:g}"]) as jam:
        wired(jam)
        jam.player.play(note_events([(60, 0.0, 0.5), (64, 0.5, 0.5)], TEMPO), start=time.perf_counter() + 0.01)
        time.sleep(1.5)
        jam.proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
        jam.proc.send_signal(signal.SIGINT)
        jam.wait(timeout=15)
        log = jam.stderr()
        recs = jam.recordings()
    assert len(recs) == 1, f"no recording after two Ctrl-Cs:\n{log[-2000:]}"
    assert re.search(r"recorded to .*\.mid", log), log[-2000:]
    assert not list((tmp_path / "sessions").glob("*.journal"))

"""`exit_after` ends the process with the status given even while the GIL is held in C (as
python-rtmidi holds it while libjack waits on a stalled JACK server), and not once cancelled.
Each case runs in a child process."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import ctypes, sys, time
sys.path.insert(0, {root!r})
from improv.live.exitdeadline import exit_after
cancel = exit_after(0.5, 7)
print("armed", flush=True)
if {cancel}:
    cancel()
    time.sleep(1.5)
    sys.exit(0)
ctypes.PyDLL(None).sleep(30)  # C with the GIL held: no Python thread or signal handler can run
sys.exit(3)
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timer_create: Linux only")


@pytest.mark.parametrize("cancel", [False, True], ids=["held-gil", "cancelled"])
def test_the_deadline_ends_the_process_with_its_status_unless_cancelled(cancel):
    t = time.monotonic()
    done = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), cancel=cancel)],
                          capture_output=True, text=True, timeout=60)
    took = time.monotonic() - t
    assert "armed" in done.stdout  # (printed before the deadline: flushed, not lost with the process)
    if cancel:
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode == 7, done.stderr
        assert took < 15.0  # (not the 30 s the GIL was held for; room for a slow start on a busy machine)

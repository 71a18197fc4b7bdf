"""PortAudio through sounddevice, loaded once for the process and kept loaded.

At exit Python frees its modules, and cffi's handle on PortAudio with them, which unloads
the library. A JACK client of PortAudio's still open then (sounddevice's exit handler is
skipped after a stream that did not stop within `CLOSE_WAIT_S`: improv/live/audio.py) goes
on being called by libjack's threads, into code that is gone: the jam ended in a segfault
after its session was over, on libjack's thread, in PortAudio's JACK xrun callback
(`improv jam --duration 1` on a loaded machine: 3 runs in 40, all three among the 4 whose
stream took over 2 s to stop). A second handle (ctypes never lets go of one) keeps the code
there for as long as the process lives.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any, Callable

from improv.live.quiet import quiet_stderr

_KEPT: list[ctypes.CDLL] = []


def load_sounddevice(say: Callable[[str], None] | None = None) -> Any:
    """`import sounddevice` (quietly: PortAudio's start probes every host API, and ALSA and
    JACK complain), with PortAudio's library kept loaded until the process ends (see the
    module doc). PortAudio's start opens a JACK client, which a server that takes the
    connection and never answers holds for ever: the server is asked first
    (`improv.live.jackwatch.server_answers`; a wait past two seconds is said on `say`).

    Raises:
        ImportError, OSError: sounddevice or the PortAudio library is missing.
        PortError: a JACK server runs and does not answer.
        sounddevice.PortAudioError: PortAudio would not start (its JACK host API asked a
            server that did not answer: "Could not read result type", on a busy machine).
    """
    if "sounddevice" not in sys.modules:
        from improv.live.jackwatch import server_answers

        server_answers(say, keep=False)
    with quiet_stderr():
        import sounddevice as sd
    name = getattr(sd, "_libname", None)
    if name and not _KEPT:
        try:
            _KEPT.append(ctypes.CDLL(name))
        except OSError:
            pass
    return sd

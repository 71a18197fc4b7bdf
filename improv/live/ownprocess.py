"""What a live command (`improv jam`, `improv demo`) does to the process it owns: its timing
threads' priority at the start (`ask_realtime`), and a deadline on letting its ports go at the
end (`let_go`). Only where the command owns its process (`improv.stops.OWN_PROCESS`: the
console script, `python -m improv`); called in another program's process (a test's
`main([...])`) both leave the process as it is.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from improv.config import Config

LET_GO_S = 2.0  # how long the jam's ports are given to close once the session has ended (see `let_go`)


def ask_realtime(cfg: Config) -> None:
    """Whether the jam's timing threads ask for real-time priority (improv/realtime.py):
    `[timing] realtime`, unless the jam's MIDI goes through a JACK server that is not
    real-time itself: above it, our threads delayed its cycle. The server is asked only where
    the jam will use JACK (`--midi-api jack`, or no ALSA sequencer to use first): a jam on ALSA
    opens no JACK client for it (on a PipeWire desktop that would show in its graph)."""
    from improv import realtime, stops
    from improv.live.midiapi import ALSA_SEQ, api_name, midi_line

    if not cfg.timing.realtime or not stops.OWN_PROCESS:  # (a test's process keeps its own priorities)
        realtime.want(False)
        return
    api = api_name(cfg.midi.api)
    if sys.platform.startswith("linux") and (api == "jack" or (api == "" and not os.access(ALSA_SEQ, os.R_OK | os.W_OK))):
        from improv.live.jackwatch import shared_watch

        watch = shared_watch(midi_line)
        if watch is not None and not watch.realtime:
            realtime.want(False, "improv's timing threads run at normal priority, under the JACK server, which is "
                          "not real-time (started with --no-realtime): start jackd without it for steadier timing "
                          "on a busy machine")
            return
    realtime.want(True)


def let_go(ports: list[Any], status: int) -> None:
    """Close the inputs and outputs, last of all: the notes were released, the recording
    written and the report made. On a busy machine a JACK server took 3-10 s (once over 30 s)
    to let a jam's ports go, and python-rtmidi holds the GIL while it waits: past
    `LET_GO_S` the process ends there, with `status` (`improv.live.exitdeadline`), and the
    server drops the ports itself."""
    from improv import stops
    from improv.live.exitdeadline import exit_after

    cancel = exit_after(LET_GO_S, status) if stops.OWN_PROCESS else (lambda: None)
    try:
        for port in ports:
            try:
                port.close()
            except Exception:  # noqa: BLE001 - the next port is closed all the same
                pass
    finally:
        cancel()

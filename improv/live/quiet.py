"""Keeping the sound libraries' own error printing off the terminal.

Opening a MIDI client or PortAudio makes the C libraries under python-rtmidi and
sounddevice print to the process's stderr when a system is missing: ALSA's
`ALSA lib seq_hw.c:466:(snd_seq_hw_open) open /dev/snd/seq failed` and JACK's
`Cannot connect to server socket` / `JackShmReadWritePtr::~JackShmReadWritePtr` lines.
improv says what is missing in one line of its own instead.

How: file descriptor 2 is pointed at a temporary file while the library call runs, and
afterwards every captured line that is not library noise is written back to stderr (so a
line another thread printed meanwhile is delayed, never lost). A redirect was chosen over
the libraries' own hooks (ALSA's `snd_lib_error_set_handler`, JACK's
`jack_set_error_function`) because python-rtmidi's wheels carry their own copy of libjack
under a hashed name: a hook set through ctypes on the system's libjack does not reach it,
while the redirect catches every library, bundled or not, on every platform.

Use it only around opening clients and streams (milliseconds, at start-up), never on a
real-time path: the redirect is process-wide.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from contextlib import contextmanager
from typing import Iterator

# What ALSA, JACK and PortAudio print when a system is missing or a client cannot connect.
NOISE = re.compile(
    r"^\s*(ALSA lib "  # alsa-lib's error handler
    r"|Cannot connect to (?:the )?server|jack server is not running|Cannot lock down|Jack(?:[A-Z]\w*)?::"  # libjack
    # libjack when a signal interrupts its handshake with the server (Ctrl-C as a client opens)
    r"|Cannot (?:read|write) socket fd|CheckRes error|Could not (?:read|write) result type"
    r"|Client name = .* conflits with another running client|Cannot open .* client$"
    r"|Expression '.*' failed in '.*'"  # PortAudio's ALSA host API
    r")")

_lock = threading.RLock()  # a block inside a block redirects again, harmlessly


def is_noise(line: str) -> bool:
    """Whether a line printed by a C library is known noise (ALSA, JACK, PortAudio)."""
    return bool(NOISE.match(line))


@contextmanager
def quiet_stderr() -> Iterator[list[str]]:
    """Hold back the C libraries' noise on fd 2 for the duration of the block (calling
    thread; blocks are serialised).

    Yields:
        A list that, once the block ends, holds the noise lines that were dropped (for
        diagnostics); other lines written to fd 2 meanwhile are written back to it.
    """
    dropped: list[str] = []
    with _lock:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        try:
            saved = os.dup(2)
        except OSError:  # no fd 2 at all: nothing to keep quiet
            yield dropped
            return
        try:
            sink = tempfile.TemporaryFile()
        except OSError:
            os.close(saved)
            yield dropped
            return
        try:
            os.dup2(sink.fileno(), 2)
            try:
                yield dropped
            finally:
                os.dup2(saved, 2)
        finally:
            os.close(saved)
            try:
                sink.seek(0)
                text = sink.read().decode("utf-8", "replace")
            finally:
                sink.close()
            kept = []
            for line in text.splitlines():
                (dropped if is_noise(line) else kept).append(line)
            if kept:
                try:
                    os.write(2, ("\n".join(kept) + "\n").encode("utf-8", "replace"))
                except OSError:
                    pass

"""What silences a synth when improv dies without closing (SIGKILL, the out-of-memory
killer, a crash in native code, "Force Quit"): nothing sent the note-offs, so what it was
playing hangs on an outside synth until someone runs `improv panic`. A process that
outlives it runs that panic instead.

- `silence(outputs, who)` runs `improv panic` on each (MIDI backend, port) and says so in
  one line on stderr (the dying program's terminal). The jam's partner worker calls it when
  its stdin ends with no `Closing` (improv/partner/worker.py).
- `Sentinel` is that process for a command with no worker (`improv play` into a MIDI
  output): `python -m improv.sentinel WHO [API PORT]...`, which reads its stdin to the end
  and silences the ports unless the command said `closed` first (`Sentinel.close`, after
  its own note-offs went out). Its stdin ends when its command ends, however it ends.

The built-in synth needs none of this: it stops with the process that plays it. This module
imports nothing of improv's real-time package: the panic runs as `python -m improv panic`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import IO


SILENCE_TIMEOUT_S = 45.0  # for each `improv panic`: a synchronous JACK server (`jackd -S`) stalls while it
# waits out the dead program's clients (25 s for a jam's in a test here); `improv panic` waits up to
# OPEN_WAIT_S (30 s) for it to answer, and then up to DRAIN_WAIT_S (8 s) for its note-offs to leave
CLOSED = b"closed\n"  # the command's last word to its sentinel: it closed its outputs itself
CLOSE_WAIT_S = 1.0  # how long `Sentinel.close` waits for the sentinel to end (it ends at once)


def silence(outputs: tuple[tuple[str, str], ...], who: str = "the jam") -> None:
    """`who` (a program's name in words) ended without closing, so nothing sent the
    note-offs of what it left sounding: run `improv panic` on each (backend, port) of
    `outputs`. Each is said on stderr in one line, the command to run by hand with it when
    the port could not be opened."""
    import shlex

    for api, port in outputs:
        cmd = [sys.executable, "-m", "improv", "panic", "--out", port] + (["--midi-api", api] if api else [])
        try:
            done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=SILENCE_TIMEOUT_S)
            said = (done.stdout if done.returncode == 0 else done.stderr).strip().splitlines()
            ok = done.returncode == 0
        except (OSError, subprocess.SubprocessError) as e:
            said, ok = [str(e)], False
        last = said[-1] if said else "it said nothing"
        line = last if ok else f"its MIDI output {port!r} could not be silenced ({last}): " \
            f"`improv panic --out {shlex.quote(port)}`"
        try:
            print(f"improv: {who} ended without closing: {line}", file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass  # (no terminal left to say it on)


class Sentinel:
    """The process that silences `outputs` should this one die unclosed. Start it once the
    outputs are open, `close()` it once they are closed (their note-offs sent)."""

    def __init__(self, proc: subprocess.Popen | None) -> None:
        self.proc = proc

    @classmethod
    def start(cls, who: str, outputs: tuple[tuple[str, str], ...]) -> "Sentinel":
        """Start watching (a few milliseconds: the sentinel's Python starts on its own time;
        a death before it has read anything still ends its stdin). A sentinel that cannot
        start watches nothing: the command plays on as before."""
        cmd = [sys.executable, "-m", "improv.sentinel", who] + [x for pair in outputs for x in pair]
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    start_new_session=os.name == "posix")  # the terminal's Ctrl-C is the command's
        except OSError:
            proc = None
        return cls(proc)

    def close(self) -> None:
        """The outputs were closed as they should be: the sentinel ends without a panic."""
        p, self.proc = self.proc, None
        if p is None:
            return
        try:
            p.stdin.write(CLOSED)
            p.stdin.close()
        except (OSError, ValueError):
            pass
        try:
            p.wait(CLOSE_WAIT_S)
        except subprocess.TimeoutExpired:
            pass  # (it ends by itself when it gets to reading; nothing waits for it)


def watch(stdin: IO[bytes]) -> bool:
    """Read `stdin` to its end: whether the command said it closed (`CLOSED`) before."""
    said = b""
    while True:
        chunk = stdin.read(64)
        if not chunk:
            return said.endswith(CLOSED)
        said = (said + chunk)[-len(CLOSED):]


def main(argv: list[str]) -> int:
    """`python -m improv.sentinel WHO [API PORT]...` (see the module's docstring)."""
    for name in ("SIGINT", "SIGQUIT", "SIGBREAK", "SIGTSTP"):  # the terminal's keys are the command's
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    if not argv or len(argv) % 2 != 1:
        print("usage: python -m improv.sentinel WHO [API PORT]...", file=sys.stderr)
        return 2
    who, rest = argv[0], argv[1:]
    outputs = tuple(zip(rest[::2], rest[1::2]))
    if not watch(sys.stdin.buffer):
        silence(outputs, who)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

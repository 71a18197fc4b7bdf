"""Key to sound over JACK: a MIDI note-on into `improv jam` (thru to the built-in synth) ->
the first non-silent sample on the synth's JACK audio output.

The set-up, all on one JACK server: a scripted player (an rtmidi JACK output) wired to the
jam's virtual input; the jam (a subprocess, no partner answers: its calls never end, see
`JAM_CONFIG`) plays the player's notes through on its built-in synth, a PortAudio stream on
JACK; a capture client (libjack through ctypes, below) has the synth's first output port
wired into it and, in its process callback, notes the JACK time of the first sample above
`THRESHOLD` after each note-on.

Key to sound = that sample's time minus the time the player handed the note-on to rtmidi,
both on `time.perf_counter`. The sample's time is when the capture client's callback ran
for its cycle, plus its place in the cycle: an upper bound of when it reached the port
(the cycle began a little earlier). JACK's own frame times (`jack_frames_to_time`) were
tried first and are not used: on a busy machine the dummy driver runs late, and its
estimated cycle times wandered by up to +-100 ms from the system clock within a minute.
The figure includes the MIDI input's quantisation to a JACK period, the jam's passthrough,
and the synth placing the note one block after it was sent; not the playback buffer after
the port (on a real sound card, about one more period). Target: p99 <= one period + one
block + 1 ms.
"""

from __future__ import annotations

import ctypes
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from improv.bench.jackprobe import Patchbay, Player, unique
from improv.errors import PortError
from improv.live.jackwatch import load_libjack

THRESHOLD = 1e-4  # |sample| above this is sound (-80 dBFS)
QUIET_S = 0.08  # silence this long before each note-on: the last note's tail has ended
NOTES_BUDGET_S = 100.0  # a run stops taking notes after this long and reports what it has (a busy
# machine can keep the synth from falling silent: 3 s waits per note would outlast the section)
TARGET_BEYOND_MS = 1.0  # target: p99 <= period + block + this
AUDIO_TYPE = b"32 bit float mono audio"
_NO_START_SERVER, _IS_INPUT, _IS_OUTPUT = 0x01, 0x1, 0x2
# The jam's calls must never end (an answer would sound on the same synth): at 20 bpm, not
# following the player, a 16-beat gap is 48 s and 32-bar calls last 384 s, longer than a run.
JAM_CONFIG = """[synth]
device = "{device}"
block_size = {block}
[phrase]
gap_beats = 16.0
max_call_bars = 32
[timing]
tempo = 20.0
follow = false
"""
_PROCESS = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_uint32, ctypes.c_void_p)


def _libjack() -> ctypes.CDLL:
    """libjack with the calls the capture client makes.

    Raises:
        PortError: libjack is not installed.
    """
    vp, u32 = ctypes.c_void_p, ctypes.c_uint32
    lib = load_libjack([
        ("jack_client_open", vp, [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]),
        ("jack_client_close", ctypes.c_int, [vp]), ("jack_activate", ctypes.c_int, [vp]),
        ("jack_deactivate", ctypes.c_int, [vp]), ("jack_get_sample_rate", u32, [vp]),
        ("jack_get_buffer_size", u32, [vp]),
        ("jack_port_register", vp, [vp, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_ulong]),
        ("jack_port_name", ctypes.c_char_p, [vp]), ("jack_port_get_buffer", vp, [vp, u32]),
        ("jack_set_process_callback", ctypes.c_int, [vp, _PROCESS, vp]),
        ("jack_get_ports", ctypes.POINTER(ctypes.c_char_p), [vp, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong]),
        ("jack_free", None, [vp]), ("jack_connect", ctypes.c_int, [vp, ctypes.c_char_p, ctypes.c_char_p])])
    if lib is not None:
        return lib
    raise PortError("libjack is not installed (apt install libjack-jackd2-0)")


class Capture:
    """A JACK client with one audio input that notes when sound starts and stops.

    Its process callback runs on JACK's thread (Python through ctypes: keep the GIL
    switch interval short while it runs). After `arm()`, the first sample above
    THRESHOLD sets `onset` (perf_counter seconds: the callback's time plus the sample's
    place in the cycle) and the `heard` event.

    Raises:
        PortError: no JACK server, or the client or port cannot be made.
    """

    def __init__(self, name: str) -> None:
        import numpy as np

        self._np = np
        self.lib = _libjack()
        status = ctypes.c_int(0)
        self.client = self.lib.jack_client_open(name.encode(), _NO_START_SERVER, ctypes.byref(status))
        if not self.client:
            raise PortError(f"no JACK server runs (status 0x{status.value:x})")
        self.rate = int(self.lib.jack_get_sample_rate(self.client))
        self.period = int(self.lib.jack_get_buffer_size(self.client))
        self.port = self.lib.jack_port_register(self.client, b"in", AUDIO_TYPE, _IS_INPUT, 0)
        if not self.port:
            self.lib.jack_client_close(self.client)
            raise PortError("cannot register the capture port")
        self.port_name = self.lib.jack_port_name(self.port).decode()
        self.onset: float | None = None
        self.last_loud = 0.0  # perf_counter seconds: the end of the last cycle with sound in it
        self.cycles = 0
        self.heard = threading.Event()
        self._armed = False
        self._callback = _PROCESS(self._process)  # kept alive as long as the client
        self.lib.jack_set_process_callback(self.client, self._callback, None)
        if self.lib.jack_activate(self.client):
            self.lib.jack_client_close(self.client)
            raise PortError("cannot activate the capture client")

    def _process(self, nframes: int, _arg: Any) -> int:
        """JACK's thread: find the first loud sample of this cycle."""
        t0 = time.perf_counter()
        try:
            self.cycles += 1
            buf = self.lib.jack_port_get_buffer(self.port, nframes)
            samples = self._np.ctypeslib.as_array(ctypes.cast(buf, ctypes.POINTER(ctypes.c_float)), (nframes,))
            loud = self._np.flatnonzero(self._np.abs(samples) > THRESHOLD)
            if loud.size:
                self.last_loud = t0 + nframes / self.rate
                if self._armed and self.onset is None:
                    self.onset = t0 + int(loud[0]) / self.rate
                    self.heard.set()
        except Exception:  # noqa: BLE001 - never raise into JACK's thread
            pass
        return 0

    def arm(self) -> None:
        """Wait for the next onset (main thread)."""
        self.onset = None
        self.heard.clear()
        self._armed = True

    @staticmethod
    def now() -> float:
        """The clock onsets are on (perf_counter), seconds."""
        return time.perf_counter()

    def audio_outputs(self) -> list[str]:
        """Every audio output port on the server (full names)."""
        arr = self.lib.jack_get_ports(self.client, None, AUDIO_TYPE, _IS_OUTPUT)
        names, i = [], 0
        while arr and arr[i]:
            names.append(arr[i].decode(errors="replace"))
            i += 1
        if arr:
            self.lib.jack_free(ctypes.cast(arr, ctypes.c_void_p))
        return names

    def connect(self, source: str) -> None:
        rc = self.lib.jack_connect(self.client, source.encode(), self.port_name.encode())
        if rc not in (0, 17):
            raise PortError(f"cannot connect {source!r} to the capture port (error {rc})")

    def close(self) -> None:
        if self.client:
            self.lib.jack_deactivate(self.client)
            self.lib.jack_client_close(self.client)
            self.client = None


def _wait(predicate: Any, timeout: float, step: float = 0.002) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


def _pitch(k: int) -> int:
    """The key the `k`th note plays: C3 up by fifths, folded into two octaves."""
    return 48 + (k * 7) % 25


def run_once(notes: int, block: int, device: str = "system", seed: int = 0,
             budget_s: float = NOTES_BUDGET_S) -> dict[str, Any]:
    """One jam, `notes` notes: key-to-sound of each (ms) and what the jam said of its synth.
    Notes stop after `budget_s` seconds of playing (`stopped_early` then says after how many).
    A note is not played while the synth still sounds (`not_silent_before` counts them).
    A synth still sounding 3 s after its last note-off met a note-off the server lost (a
    non-real-time JACK server drops a client's MIDI when it misses its period): the
    player's note-offs are sent again for every key played (`note_offs_resent` counts
    it), as a player would lift the key again, instead of waiting for that key to come
    round 25 notes later.

    Raises:
        PortError: no JACK server, or the jam's synth did not appear on JACK.
    """
    from improv.bench.parts import summary

    old_switch = sys.getswitchinterval()
    sys.setswitchinterval(0.0002)  # the capture callback waits for the GIL on JACK's thread
    capture = Capture(unique("keysound-capture"))
    before = set(capture.audio_outputs())
    root = Path(__file__).resolve().parent.parent.parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
               JACK_NO_START_SERVER="1", PYTHONUNBUFFERED="1")
    vin = unique("keysound-in")
    with tempfile.TemporaryDirectory(prefix="improv-keysound-") as tmp:
        cfg = Path(tmp) / "keysound.toml"
        cfg.write_text(JAM_CONFIG.format(device=device, block=block))
        err = open(Path(tmp) / "jam.stderr", "w+")
        proc = subprocess.Popen([sys.executable, "-m", "improv", "jam", "--midi-api", "jack", "--virtual-in", vin,
                                 "--no-record", "--duration", f"{notes * 1.0 + 60:g}", "--responder", "markov",
                                 "--config", str(cfg)], cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=err,
                                stdin=subprocess.DEVNULL)
        player = patch = None
        try:
            patch = Patchbay(unique("keysound-patch"))
            jam_in = None
            new: list[str] = []

            def ready() -> bool:
                nonlocal jam_in, new
                jam_in = jam_in or patch.find(vin, inputs=True)
                new = [p for p in capture.audio_outputs() if p not in before and not p.startswith("system:")]
                return bool(jam_in and new) or proc.poll() is not None

            if not _wait(ready, 30.0, 0.05) or proc.poll() is not None:
                err.seek(0)
                raise PortError(f"the jam's synth did not appear on JACK: {err.read()[-1500:]}")
            capture.connect(sorted(new)[0])
            player = Player(unique("keysound-player"))
            patch.connect(f"{player.client}:{player.port_name}", jam_in)
            time.sleep(0.5)
            rng = random.Random(seed)
            latencies, missed, stuck, played, resent = [], 0, 0, 0, 0

            def quiet() -> bool:
                return capture.now() - capture.last_loud >= QUIET_S

            deadline = time.monotonic() + budget_s
            for k in range(notes + 3):  # the first three warm the path up and are not counted
                if time.monotonic() > deadline:
                    break
                played = k + 1
                if not _wait(quiet, 3.0):
                    resent += 1  # a lost note-off holds a voice: lift every key again
                    for key in sorted({_pitch(j) for j in range(k)}):
                        player.send([0x80, key, 0])
                    if not _wait(quiet, 3.0):
                        if k >= 3:  # still sounding: an onset now could not be told from the tail, so no note
                            stuck += 1
                        continue
                time.sleep(rng.random() * capture.period / capture.rate)  # a random phase in the period
                pitch = _pitch(k)
                capture.arm()
                sent = player.send([0x90, pitch, 100])
                heard = capture.heard.wait(1.0)
                if heard and capture.onset is not None:
                    if k >= 3:
                        latencies.append((capture.onset - sent) * 1000.0)
                elif k >= 3:
                    missed += 1
                time.sleep(0.03)
                player.send([0x80, pitch, 0])
            proc.terminate()
            proc.wait(15)
            err.seek(0)
            log = err.read()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
            for c in (player, patch):
                if c is not None:
                    c.close()
            capture.close()
            err.close()
            sys.setswitchinterval(old_switch)
    said = re.search(r"output latency ([\d.]+) ms", log)
    thru = re.findall(r"passthrough p99 ([\d.]+) ms", log)
    answers = len(re.findall(r"answer \d+:", log))
    return {"key_to_sound_ms": summary(latencies), "missed": missed, "not_silent_before": stuck,
            "note_offs_resent": resent,
            "stopped_early": max(0, played - 3) if played < notes + 3 else None,
            "answers_during_run": answers, "jam_thru_in_process_p99_ms": float(thru[-1]) if thru else None,
            # what the stream reported: 0 where the device reports none (the jam says "not reported")
            "synth_output_latency_ms": float(said.group(1)) if said else (
                0.0 if "output latency not reported" in log else None),
            "period_frames": capture.period, "rate": capture.rate, "block_frames": block}


def bench_keysound(notes: int = 150, runs: int = 3, block: int = 128, device: str = "system") -> dict[str, Any]:
    """`runs` fresh jams of `notes` notes each: per-run p50/p99 (ms), their median and spread,
    next to the JACK period and the synth's block, and the target.

    Raises:
        PortError: no JACK server, or the synth did not open on JACK.
    """
    import statistics

    per_run = [run_once(notes, block, device, seed=r) for r in range(runs)]
    first = per_run[0]
    period_ms = 1000.0 * first["period_frames"] / first["rate"]
    block_ms = 1000.0 * block / first["rate"]
    target = period_ms + block_ms + TARGET_BEYOND_MS
    p50s = [r["key_to_sound_ms"]["median"] for r in per_run if r["key_to_sound_ms"].get("n")]
    p99s = [r["key_to_sound_ms"]["p99"] for r in per_run if r["key_to_sound_ms"].get("n")]
    out: dict[str, Any] = {"runs": per_run, "notes_per_run": notes, "period_ms": period_ms, "block_ms": block_ms,
                           "target_p99_ms": target}
    if p99s:
        out.update(p50_median_ms=statistics.median(p50s), p50_spread_ms=[min(p50s), max(p50s)],
                   p99_median_ms=statistics.median(p99s), p99_spread_ms=[min(p99s), max(p99s)],
                   meets_target=statistics.median(p99s) <= target)
    return out

"""Benchmarks for the built-in synth: the audio callback's cost as a fraction of its block
budget, and offline render speed. `bench_synth()` returns the figures as a dict."""

from __future__ import annotations

import time

import mido
import numpy as np

from improv.core.formats.midifile import Recording, TimedMessage
from improv.core.audio.render import recording_to_parts
from improv.live.synthengine import SynthEngine


def callback_load(voices: int, sample_rate: int = 48000, block: int = 128, blocks: int = 2000) -> dict[str, float]:
    """Run the real callback body (`SynthEngine.process`) with `voices` notes held, half
    on each part, a message arriving every 8th block; returns the time per callback as a
    fraction of the block's duration (mean, p99, max)."""
    eng = SynthEngine(sample_rate, channels=2, polyphony=max(32, voices))
    pitches = [36 + (k * 7) % 60 for k in range(voices)]
    for k, pitch in enumerate(pitches):
        eng.push(k % 2, 0x90, pitch, 100, 0.0)
    out = np.zeros((block, 2), np.float32)
    budget = block / sample_rate
    eng.process(out, block, 1.0)  # warm up
    times = np.empty(blocks)
    count = np.empty(blocks)
    for i in range(blocks):
        if i % 64 == 0:  # a held partner note struck again now and then (its old voice rings out)
            k = 1 + 2 * ((i // 64) % (voices // 2))
            eng.push(1, 0x90, pitches[k], 90, 0.0)
        t = time.perf_counter()
        eng.process(out, block, 2.0 + i)
        times[i] = time.perf_counter() - t
        count[i] = eng.state.n
    frac = times / budget
    return {"voices": float(count.mean()), "mean": float(frac.mean()), "median": float(np.median(frac)),
            "p99": float(np.percentile(frac, 99)), "max": float(frac.max())}


def dense_session(seconds: float = 300.0, tempo: float = 120.0) -> Recording:
    """A busy session: the player's eighth notes and the partner's four-note chords on
    every beat (as dense as a real set gets)."""
    beat = 60.0 / tempo
    events: list[TimedMessage] = []
    k = 0
    while k * beat / 2 < seconds:
        t = k * beat / 2
        p = 60 + (k * 7) % 24
        events += [TimedMessage(t, "player", mido.Message("note_on", note=p, velocity=90)),
                   TimedMessage(t + 0.8 * beat / 2, "player", mido.Message("note_off", note=p))]
        if k % 2 == 0:
            for q in (48, 55, 62, 65):
                q += (k // 2) % 5
                events += [TimedMessage(t, "partner", mido.Message("note_on", note=q, velocity=80)),
                           TimedMessage(t + 0.9 * beat, "partner", mido.Message("note_off", note=q))]
        k += 1
    events.sort(key=lambda e: e.t)
    return Recording(tuple(events))


def render_speed(seconds: float = 300.0, sample_rate: int = 48000) -> dict[str, float]:
    """Render a dense `seconds`-long session offline; returns seconds taken and x real time."""
    rec = dense_session(seconds)
    t = time.perf_counter()
    parts = recording_to_parts(rec, sample_rate)
    took = time.perf_counter() - t
    audio = parts.shape[1] / sample_rate
    return {"audio_s": audio, "render_s": took, "x_realtime": audio / took}


def bench_synth(render_seconds: float = 300.0) -> dict[str, object]:
    """The synth's figures at 48 kHz / 128 frames: callback load with 16 and 32 voices
    (fraction of the 2.67 ms budget; target <= 0.25) and render speed (x real time)."""
    return {
        "callback_16": callback_load(16),
        "callback_32": callback_load(32),
        "render": render_speed(render_seconds),
    }


if __name__ == "__main__":  # python3 -m improv.bench.audio
    import json

    print(json.dumps(bench_synth(), indent=2))

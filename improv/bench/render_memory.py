"""Memory and speed of `improv render` on a long session: a generated band session of N
minutes (player and partner trading phrases, comping, a walking bass and a click, about
as dense as a real set) rendered by `improv render` in a child process, whose peak
resident memory the operating system reports (VmHWM on Linux: `ru_maxrss` would also count
the parent's memory at fork). Several runs; the median and the spread are reported.

    python -m improv.bench.render_memory --minutes 60 --runs 3 --json render-memory.json

Target (issue 15): a 1-hour session renders in under 200 MB peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import mido

from improv.bench.parts import json_output_error
from improv.core.formats.midifile import Recording, TimedMessage, save_recording

TARGET_PEAK_MB = 200.0


def long_session(minutes: float, seed: int = 1, tempo: float = 160.0) -> Recording:
    """A generated session of `minutes`: 4-bar phrases traded by the player and the
    partner (eighth notes with rests), comping on every bar, a bass note and a click on
    every beat. Roughly 9 messages a second."""
    rng = random.Random(seed)
    spb = 60.0 / tempo
    beats = int(minutes * 60.0 / spb)
    events: list[tuple[float, int, str, mido.Message]] = []
    order = 0

    def note(t: float, dur: float, part: str, ch: int, pitch: int, vel: int) -> None:
        nonlocal order
        events.append((t, order, part, mido.Message("note_on", channel=ch, note=pitch, velocity=vel)))
        events.append((t + dur, order + 1, part, mido.Message("note_off", channel=ch, note=pitch, velocity=0)))
        order += 2

    for beat in range(beats):
        t = beat * spb
        note(t, 0.05, "click", 9, 76 if beat % 4 == 0 else 77, 90)
        note(t, spb * 0.9, "bass", 3, rng.randint(28, 48), 80)
        if beat % 4 == 1:
            for pitch in rng.sample(range(52, 70), 4):
                note(t, spb * 1.5, "comp", 2, pitch, 60)
        part, ch = ("player", 0) if (beat // 16) % 2 == 0 else ("partner", 1)
        for half in (0.0, 0.5):
            if rng.random() < 0.8:
                note(t + half * spb, spb * 0.45, part, ch, rng.randint(60, 84), rng.randint(60, 110))
    events.sort(key=lambda e: (e[0], e[1]))
    return Recording(tuple(TimedMessage(t, part, msg) for t, _, part, msg in events), tempos=((0.0, tempo),),
                     title=f"generated {minutes:g}-minute session")


_CHILD = """
import resource, sys, time
from improv.cli import main
t = time.perf_counter()
rc = main(['render', sys.argv[1], '-o', sys.argv[2]])
took = time.perf_counter() - t
try:  # the high-water mark of this program's own memory (ru_maxrss may also count the parent's at fork)
    peak = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print('took', took, 'peak_kb', peak)
sys.exit(rc)
"""


def render_once(midi: Path, wav: Path) -> dict[str, float]:
    """Run `improv render` on `midi` in a child; its peak RSS (MB) and wall time (s)."""
    code = _CHILD
    r = subprocess.run([sys.executable, "-c", code, str(midi), str(wav)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"improv render failed ({r.returncode}): {r.stderr[-2000:]}")
    words = r.stdout.split()
    took = float(words[words.index("took") + 1])
    peak_kb = float(words[words.index("peak_kb") + 1])
    return {"peak_mb": peak_kb / 1024.0, "seconds": took}


def bench_render_memory(minutes: float = 60.0, runs: int = 3, folder: Path | None = None) -> dict[str, Any]:
    """Render a generated `minutes`-long session `runs` times; figures for --json."""
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        midi = save_recording(long_session(minutes), Path(tmp) / "long.mid")
        wav = Path(tmp) / "long.wav"
        results = [render_once(midi, wav) for _ in range(runs)]
        audio_s = long_session_seconds(midi)
        wav_mb = wav.stat().st_size / 1e6
    peaks = [r["peak_mb"] for r in results]
    times = [r["seconds"] for r in results]
    return {
        "minutes": minutes, "runs": runs, "midi_seconds": round(audio_s, 1), "wav_mb": round(wav_mb, 1),
        "peak_rss_mb": {"median": round(statistics.median(peaks), 1), "min": round(min(peaks), 1),
                        "max": round(max(peaks), 1)},
        "render_s": {"median": round(statistics.median(times), 2), "min": round(min(times), 2),
                     "max": round(max(times), 2)},
        "x_real_time_median": round(audio_s / statistics.median(times), 1),
        "target_peak_mb": TARGET_PEAK_MB,
        "met": statistics.median(peaks) <= TARGET_PEAK_MB and max(peaks) <= TARGET_PEAK_MB,
        "load_average_1min_at_start": os.getloadavg()[0],
    }


def long_session_seconds(midi: Path) -> float:
    from improv.core.formats.midifile import load_recording

    return load_recording(midi).duration


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--json", metavar="OUT")
    args = p.parse_args(argv)
    if args.runs < 1 or not args.minutes > 0:
        p.error(f"--runs must be at least 1 and --minutes above 0, got {args.runs} and {args.minutes:g}")
    bad = json_output_error(args.json) if args.json else None  # before the renders, not after them
    if bad:
        p.error(bad)
    started = time.perf_counter()
    r = bench_render_memory(args.minutes, args.runs)
    r["wall_s"] = round(time.perf_counter() - started, 1)
    print(f"render of a generated {args.minutes:g}-minute band session ({r['wav_mb']:.0f} MB of WAV), {args.runs} runs:")
    print(f"  peak RSS median {r['peak_rss_mb']['median']:.1f} MB (spread {r['peak_rss_mb']['min']:.1f}-"
          f"{r['peak_rss_mb']['max']:.1f}), target <= {TARGET_PEAK_MB:g} MB: {'met' if r['met'] else 'MISSED'}")
    print(f"  render time median {r['render_s']['median']:.1f} s (spread {r['render_s']['min']:.1f}-"
          f"{r['render_s']['max']:.1f}), {r['x_real_time_median']:.0f}x real time "
          f"(load average {r['load_average_1min_at_start']:.2f} at start: time figures are only as quiet as the machine)")
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

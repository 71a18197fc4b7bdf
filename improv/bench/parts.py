"""What `improv bench`'s sections share: the material (a blues, plausible calls), the
summary of a list of figures and of several runs', the `--json` check, and the synth's own
figures (`bench_synth()`)."""

from __future__ import annotations

import random
import statistics
from typing import Any

from improv.core.theory.notes import Phrase

CHART = "F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | D7 | Gm7 | C7 | F7 D7 | Gm7 C7"  # a blues in F
TEMPO = 120.0


def summary(values: list[float]) -> dict[str, float]:
    """{"n", "median", "p99", "max", "min"} of a list (ms); p99 by nearest rank."""
    if not values:
        return {"n": 0}
    s = sorted(values)
    p99 = s[min(len(s) - 1, max(0, -(-99 * len(s) // 100) - 1))]
    return {"n": len(s), "median": statistics.median(s), "p99": p99, "max": s[-1], "min": s[0]}


def spread(values: list[float]) -> dict[str, float]:
    """{"median", "min", "max"} of several runs' figures: how the README reports a batch."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def spread_each(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """`spread` of each figure over runs that each give the same figures."""
    return {k: spread([r[k] for r in runs]) for k in runs[0]}


def fresh_run(code: str, *args: Any, cwd: Any = None, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `code` in a fresh Python (this one's) with `args` as its argv: the JSON object
    its last line of output prints (a run's figures; each run starts cold, as a jam does).

    Raises:
        subprocess.CalledProcessError: the run failed.
    """
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=cwd, env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def json_output_error(path: Any) -> str | None:
    """Why `--json PATH` cannot be written (a missing folder, a folder, a device), or None:
    asked before a run, not after it, so that a run is never lost to a bad path."""
    from improv.core.formats.paths import writable_output
    from improv.errors import ImprovError

    try:
        writable_output(path, "--json")
    except ImprovError as e:
        return str(e)
    return None


def engine() -> dict[str, Any]:
    """Which code measured: {"commit": the checkout's HEAD, "dirty": whether tracked files
    differ from it}, or {} outside a git checkout. Every figure's JSON carries it, so that a
    published figure's engine is read from the file, not from notes written beside it."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return {}
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip()) if status.returncode == 0 else None}


# --- material ------------------------------------------------------------------------------
def random_call(rng: random.Random, bars: int = 2, start: float = 0.0) -> Phrase:
    """A plausible jazz call: eighth-note-ish line around F, `bars` bars of 4/4 (beats)."""
    scale = [0, 2, 3, 4, 5, 7, 9, 10]
    notes, beat, step = [], 0.0, rng.randrange(len(scale))
    octave = 60
    while beat < bars * 4 - 0.5:
        dur = rng.choice([0.5, 0.5, 0.5, 1.0, 0.25, 1.5])
        if rng.random() < 0.12:
            beat += dur  # a rest
            continue
        step += rng.choice([-2, -1, -1, 1, 1, 2, 3])
        pitch = octave + 5 + 12 * (step // len(scale)) + scale[step % len(scale)]
        pitch = min(84, max(48, pitch))
        notes.append((pitch, beat, min(dur, bars * 4 - beat) * 0.9, rng.randint(60, 110)))
        beat += dur
    return Phrase.of(notes, start=start, length=bars * 4.0)


# --- synth -------------------------------------------------------------------------------
def bench_synth_figures(quick: bool = False) -> dict[str, Any]:
    """The built-in synth's own figures (`bench_synth()`), when its module offers them."""
    import inspect

    for module in ("improv.bench.audio", "improv.live.audio"):
        try:
            mod = __import__(module, fromlist=["bench_synth"])
        except ImportError:
            continue
        fn = getattr(mod, "bench_synth", None)
        if fn is not None:
            kwargs = {"render_seconds": 30.0} if quick and "render_seconds" in inspect.signature(fn).parameters else {}
            return dict(fn(**kwargs))
    return {"skipped": "the built-in synth offers no bench_synth() yet"}

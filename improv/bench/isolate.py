"""Running a bench section in a child process, so that a crash of its measuring JACK
clients (python-rtmidi's and libjack's threads: a segfault now and then on a busy machine)
costs that section only, is reported in its place, and the run goes on.

    isolated("improv.bench.timing", "bench_timing", {"notes": 2000, ...}, timeout=300,
             what="partner timing", cfg=True)

The child prints one line `RESULT <json>`; a section that fails the way sections do (the
jam failed, no port) comes back as {"skipped": why}, as it would in process.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

NOISE = ("Cannot", "jack server", "JackShm", "CheckRes", "JackSocket")


def isolated(module: str, func: str, kwargs: dict[str, Any], timeout: float, what: str,
             cfg: bool = False) -> dict[str, Any]:
    """`module.func(**kwargs)` (with `cfg=load_config(None)` added when `cfg`) in a child
    process: its JSON result, or {"skipped": why} when it failed, died or hung."""
    root = Path(__file__).resolve().parent.parent.parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    argv = [sys.executable, "-X", "faulthandler", "-m", "improv.bench.isolate", module, func, json.dumps(kwargs)]
    if cfg:
        argv.append("--cfg")
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"skipped": f"the {what} section's measuring process did not finish within {timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    lines = [x for x in proc.stderr.splitlines() if x.strip() and not x.startswith(NOISE)]
    crash = crash_report(lines)
    if crash is None:
        return {"skipped": f"the {what} section's measuring process died (exit {proc.returncode}): "
                           f"{' | '.join(lines[-6:])}"}
    return {"skipped": f"the {what} section's measuring process died (exit {proc.returncode}): {crash['fault']} "
                       f"in {crash['where']}", "crash": crash}


def crash_report(lines: list[str]) -> dict[str, Any] | None:
    """What Python's fault handler said of a fatal error (None if it said nothing): the
    fault, where it was, and its whole dump. The thread that faulted is the one it marks
    "Current thread"; when none is marked, the fault was on a thread that never ran Python
    (a C library's own: libjack's process thread, or rtmidi's), which the dump cannot show."""
    start = next((i for i, x in enumerate(lines) if x.startswith("Fatal Python error:")), None)
    if start is None:
        return None
    dump = lines[start:]
    fault = dump[0].split(":", 1)[1].strip() or "a fatal error"
    current = next((i for i, x in enumerate(dump) if x.startswith("Current thread ")), None)
    if current is None:
        where = "a thread that runs no Python (a C library's own, such as libjack's process thread)"
    else:
        frame = dump[current + 1].strip() if current + 1 < len(dump) else ""
        where = f"a Python thread, at {frame}" if frame.startswith("File ") else "a Python thread"
    threads = sum(x.startswith(("Thread ", "Current thread ")) for x in dump)
    return {"fault": fault, "where": where, "python_threads": threads, "dump": dump[:200]}


def main(argv: list[str]) -> int:
    module, func, kwargs = argv[0], argv[1], json.loads(argv[2])
    if "--cfg" in argv[3:]:
        from improv.config import load_config

        kwargs["cfg"] = load_config(None)
    from improv.bench.jamprocess import JamFailed
    from improv.errors import PortError

    try:
        result = getattr(importlib.import_module(module), func)(**kwargs)
    except (JamFailed, PortError) as e:
        result = {"skipped": f"{type(e).__name__}: {e}"}
    print("RESULT " + json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

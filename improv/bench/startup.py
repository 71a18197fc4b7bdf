"""`improv bench --startup`: how long the commands take to start, and what a lean install weighs.

Each figure is the median of `runs` fresh processes, with the spread (min-max) beside it,
after one unmeasured run whose time is kept as `first_s` (cold caches: the first start
after an install also compiles the bytecode). Rows (seconds, wall, spawn to exit unless
said otherwise):

- `python_start`: `python -c pass`, the interpreter alone (the floor under every row);
- `import_responder`: `python -c "import improv.core.model.responder"` (numpy, no torch);
- `help`: `improv --help` (target <= 0.3 s);
- `respond`: `improv respond <the demo's calls> --responder model` (target <= 1 s), with
  the child's peak memory;
- `demo_first_note`: spawn to the line "first note at X.XX s" that `improv demo` prints
  (target <= 2 s), with the demo's own X; the demo is then interrupted (Ctrl-C, so that it
  releases its notes). Skipped, saying why, when the demo prints no such line;
- `venv` (given a path): a virtual environment of the runtime install (`pip install -e
  ROOT` into a new venv, timed; or an existing one, measured as it is): its size as `du`
  counts it (target <= 150 MB) and whether torch is in it. The other rows then run that
  venv's `improv`, so that the figures are the fresh install's.

Nothing here runs inside a jam: a bench of processes, measured from outside.
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
DEMO_CALLS = ROOT / "improv" / "data" / "demo_calls.mid"
FIRST_NOTE = re.compile(r"first note at (\d+(?:\.\d+)?) s")

TARGET_HELP_S = 0.3
TARGET_RESPOND_S = 1.0
TARGET_DEMO_FIRST_NOTE_S = 2.0
TARGET_VENV_MB = 150.0
TARGET_INSTALL_S = 60.0
DEMO_WAIT_S = 10.0  # for the first-note line (target 2 s) before the row is skipped


def spread(values: list[float]) -> dict[str, Any]:
    """{"n", "median", "min", "max", "samples"} of a list (seconds)."""
    if not values:
        return {"n": 0}
    return {"n": len(values), "median": statistics.median(values), "min": min(values), "max": max(values),
            "samples": [round(v, 4) for v in values]}


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, float | None, str]:
    """Run to exit: (wall s, exit status, peak RSS MiB or None, stderr's tail).

    stderr goes to a file, not a pipe: a chatty child cannot fill a pipe nobody reads.
    """
    with tempfile.TemporaryFile() as err_file:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err_file)
        rss = None
        if hasattr(os, "wait4"):  # this child's own peak RSS (Linux: KiB, macOS: bytes)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status)
            rss = usage.ru_maxrss / (1024.0 ** 2 if sys.platform == "darwin" else 1024.0)
        else:  # pragma: no cover - Windows
            proc.wait()
            wall = time.perf_counter() - t0
        err_file.seek(0)
        err = err_file.read().decode(errors="replace")
    return wall, proc.returncode, rss, err.strip()[-300:]


def time_command(argv: list[str], runs: int, cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """One unmeasured run, then `runs` timed ones: the spread of their wall times (s).

    A non-zero exit stops the row: {"failed": "<why>"}.
    """
    first, code, _, err = _run(argv, cwd, env)
    if code != 0:
        return {"failed": f"exit {code}: {err.splitlines()[-1] if err else 'no message'}"}
    walls, rss = [], []
    for _ in range(runs):
        wall, code, peak, err = _run(argv, cwd, env)
        if code != 0:
            return {"failed": f"exit {code}: {err.splitlines()[-1] if err else 'no message'}"}
        walls.append(wall)
        if peak is not None:
            rss.append(peak)
    out = {"first_s": first, "wall_s": spread(walls)}
    if rss:
        out["peak_rss_mib"] = max(rss)
    return out


def demo_first_note(improv: list[str], runs: int, env: dict[str, str]) -> dict[str, Any]:
    """Spawn `improv demo` `runs` times; the time to its "first note at X.XX s" line.

    Returns {"skipped": why} when the first run prints no such line within DEMO_WAIT_S.
    """
    walls, own = [], []
    for i in range(runs):
        with tempfile.TemporaryDirectory(prefix="improv-startup-") as tmp:  # its sessions/ go here
            t0 = time.perf_counter()
            proc = subprocess.Popen([*improv, "demo"], cwd=tmp, env={**env, "PYTHONUNBUFFERED": "1"},
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            found, lines = _read_until(proc, FIRST_NOTE, t0 + DEMO_WAIT_S)
            wall = time.perf_counter() - t0
            _interrupt(proc)
        if found is None:
            if i == 0:
                tail = next((ln.strip() for ln in reversed(lines) if ln.strip()), "no output")
                return {"skipped": f"improv demo printed no 'first note at X.XX s' line in {DEMO_WAIT_S:g} s "
                                   f"(exit {proc.returncode}; its last line: {tail[:120]})"}
            return {"failed": f"run {i + 1} printed no first-note time"}
        walls.append(wall)
        own.append(found)
    return {"spawn_to_line_s": spread(walls), "demo_reports_s": spread(own)}


def _read_until(proc: subprocess.Popen, pattern: re.Pattern, deadline: float) -> tuple[float | None, list[str]]:
    """Read the child's lines until one matches (its number) or the deadline or its exit.

    Reads the pipe's file descriptor directly: a buffered readline could hold the wanted
    line in its buffer while select() waits on an empty pipe.
    """
    import selectors

    assert proc.stdout is not None
    fd, pending, lines = proc.stdout.fileno(), b"", []
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while time.perf_counter() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.perf_counter())):
                break
            chunk = os.read(fd, 65536)
            *done, pending = (pending + chunk).split(b"\n")
            for raw in done + ([pending] if not chunk else []):
                lines.append(raw.decode(errors="replace"))
                m = pattern.search(lines[-1])
                if m:
                    return float(m.group(1)), lines
            if not chunk:
                break  # exited
    return None, lines


def _interrupt(proc: subprocess.Popen) -> None:
    """Ctrl-C (the jam's clean exit: every note released), then wait; kill if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    elif proc.stdout:
        proc.stdout.read()


def du_mib(path: Path) -> float:
    """Disk use of a tree in MiB, as `du -s` counts it (allocated blocks, links once)."""
    seen, total = set(), 0
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            st = os.lstat(os.path.join(root, name))
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += getattr(st, "st_blocks", 0) * 512 or st.st_size
    return total / 2**20


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def lean_venv(venv: Path, env: dict[str, str], out: Callable[[str], None]) -> dict[str, Any]:
    """A new venv at `venv` with the runtime install (timed), or an existing one; its size.

    Raises:
        ConfigError: the venv cannot be made or the install fails.
    """
    from improv.errors import ConfigError

    made = not venv.exists()
    r: dict[str, Any] = {"path": str(venv), "created": made}
    if made:
        pip = [str(venv_python(venv)), "-m", "pip", "install", "-q", "-e", str(ROOT)]
        out(f"  making {venv} and installing the runtime: {' '.join(pip[1:])}")
        steps = [[sys.executable, "-m", "venv", str(venv)], pip]
        t0 = time.perf_counter()
        for i, argv in enumerate(steps):
            t1 = time.perf_counter()
            done = subprocess.run(argv, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no message"]
                raise ConfigError(f"could not make the venv at {venv} ({' '.join(argv[:4])}...): {tail[0]}")
            if i == 1:
                r["install_s"] = time.perf_counter() - t1
        r["venv_and_install_s"] = time.perf_counter() - t0
        r["install_command"] = "pip install -e ."
    elif not venv_python(venv).exists():
        raise ConfigError(f"{venv} is not a virtual environment (no {venv_python(venv).relative_to(venv)}): "
                          f"give a venv, or a path that does not exist yet for the bench to make one")
    r["size_mib"] = du_mib(venv)
    has_torch = "import importlib.util as u; print(u.find_spec('torch') is not None)"
    probe = subprocess.run([str(venv_python(venv)), "-c", has_torch], env=env, capture_output=True, text=True)
    r["torch_installed"] = probe.stdout.strip() == "True"
    return r


def improv_argv(python: Path) -> list[str]:
    """How to start `improv` with this interpreter: its venv's console script, else `-m`."""
    script = python.parent / ("improv.exe" if os.name == "nt" else "improv")
    return [str(script)] if script.exists() else [str(python), "-m", "improv"]


def bench_startup(runs: int = 7, venv: Path | None = None, demo: bool = True,
                  out: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure every row (see the module docstring); returns the figures, printing as it goes."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    results: dict[str, Any] = {"runs": runs}
    python = Path(sys.executable)
    if venv is not None:
        results["venv"] = lean_venv(venv, env, out)
        python = venv_python(venv)
    improv = improv_argv(python)
    results["improv"] = " ".join(improv)
    with tempfile.TemporaryDirectory(prefix="improv-startup-") as tmp:
        cwd = Path(tmp)
        answer = str(cwd / "answer.mid")
        rows = {
            "python_start": [str(python), "-c", "pass"],
            "import_responder": [str(python), "-c", "import improv.core.model.responder"],
            "help": [*improv, "--help"],
            "respond": [*improv, "respond", str(DEMO_CALLS), "-o", answer, "--responder", "model", "--tune", "blues-f",
                        "--seed", "1"],
        }
        for name, argv in rows.items():
            results[name] = {"command": " ".join(argv), **time_command(argv, runs, cwd, env)}
    results["demo_first_note"] = demo_first_note(improv, runs, env) if demo else {"skipped": "--no-demo"}
    return results


def report(results: dict[str, Any], out: Callable[[str], None] = print) -> None:
    """Print the figures against their targets."""
    def line(label: str, r: dict[str, Any], key: str, target: float | None) -> None:
        if "failed" in r or "skipped" in r:
            out(f"  {label:28s} {r.get('failed') or r.get('skipped')}")
            return
        s = r[key]
        verdict = "" if target is None else ("  meets target" if s["median"] <= target else "  MISSES target")
        goal = "" if target is None else f" (target <= {target:g} s)"
        extra = f"  first {r['first_s']:.2f} s" if "first_s" in r else ""
        extra += f"  peak {r['peak_rss_mib']:.0f} MiB" if "peak_rss_mib" in r else ""
        out(f"  {label:28s} median {s['median']:.3f} s  spread {s['min']:.3f}-{s['max']:.3f} s  "
            f"(n={s['n']}){extra}{goal}{verdict}")

    out(f"start-up: median of {results['runs']} runs each, after one unmeasured run; improv = {results['improv']}")
    line("python -c pass", results["python_start"], "wall_s", None)
    line("import model responder", results["import_responder"], "wall_s", None)
    line("improv --help", results["help"], "wall_s", TARGET_HELP_S)
    line("improv respond (model)", results["respond"], "wall_s", TARGET_RESPOND_S)
    demo = results["demo_first_note"]
    line("improv demo: first note", demo, "spawn_to_line_s", TARGET_DEMO_FIRST_NOTE_S)
    if "demo_reports_s" in demo:
        out(f"  {'':28s} the demo's own figure: median {demo['demo_reports_s']['median']:.2f} s")
    v = results.get("venv")
    if v:
        ok = "meets target" if v["size_mib"] * 2**20 / 1e6 <= TARGET_VENV_MB else "MISSES target"
        out(f"  venv {v['path']}: {v['size_mib']:.0f} MiB ({v['size_mib'] * 2**20 / 1e6:.0f} MB; target <= "
            f"{TARGET_VENV_MB:g} MB) {ok}; torch {'INSTALLED' if v['torch_installed'] else 'not installed'}")
        if "install_s" in v:
            ok = "meets target" if v["install_s"] <= TARGET_INSTALL_S else "MISSES target"
            out(f"  {v['install_command']} into the new venv: {v['install_s']:.1f} s (target <= "
                f"{TARGET_INSTALL_S:g} s from the registry; pip's own index here) {ok}")

"""The layering of ../shared/STYLE.md, checked: improv/core stays pure (no threads, clocks,
ports, devices or torch) and imports no higher layer, packages import each other without
cycles, and the real-time path runs without torch.

Imports are read from the source (every `import`, at module level or inside a function,
and `importlib.import_module("...")` with a literal name), so that a lazy import counts
as the dependency it is.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "improv"
CORE_FORBIDDEN = {"threading", "time", "queue", "asyncio", "rtmidi", "sounddevice", "torch"}
CORE_MAY_NOT_IMPORT = ("improv.live", "improv.partner", "improv.bench", "improv.train", "improv.commands",
                       "improv.config", "improv.cli")


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in PKG.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = module_files()


def imports_of(source: str, module: str, is_package: bool = False) -> list[tuple[str, int]]:
    """(imported module, line) for every import in `source`, the module `module`.

    `from X import y` counts as an import of X.y when that is a module of ours, else of X;
    relative imports are resolved against `module`.
    """
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for a in node.names:
                sub = f"{base}.{a.name}"
                found.append((sub if sub in MODULES else base, node.lineno))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            found.append((node.args[0].value, node.lineno))
    return found


def package_of(module: str) -> str | None:
    """The package a module belongs to for layering: improv.core's subpackages each count
    as one (improv.core.theory), as do improv.live, improv.commands...; a top-level module
    (improv.config) is its own. None for modules outside improv."""
    parts = module.split(".")
    if parts[0] != "improv":
        return None
    if len(parts) > 2 and parts[1] == "core":
        return ".".join(parts[:3])
    return ".".join(parts[:2])


def all_imports() -> list[tuple[str, str, int]]:
    """(importing module, imported module, line) over the whole package."""
    out = []
    for module, path in MODULES.items():
        for name, line in imports_of(path.read_text(), module, path.name == "__init__.py"):
            out.append((module, name, line))
    from improv.cli import COMMANDS  # the parser imports these by name, from a table

    out += [("improv.cli", mod, 0) for mod, _ in COMMANDS.values()]
    return out


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph as [a, b, ..., a], or None (depth-first search)."""
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        path.append(v)
        for w in sorted(edges.get(v, ())):
            if state.get(w) == 1:
                return path[path.index(w):] + [w]
            if w not in state and (found := visit(w)):
                return found
        path.pop()
        state[v] = 2
        return None

    for v in sorted(edges):
        if v not in state and (found := visit(v)):
            return found
    return None


def package_cycle(skip: set[tuple[str, str]] = frozenset()) -> str | None:
    """The first cycle between packages, with the imports that make it, or None.

    `skip`: (importing module, imported package) pairs left out of the graph."""
    edges: dict[str, set[str]] = defaultdict(set)
    why: dict[tuple[str, str], list[str]] = defaultdict(list)
    for src, dst, line in all_imports():
        a, b = package_of(src), package_of(dst)
        if a and b and a != b and (src, b) not in skip:
            edges[a].add(b)
            why[a, b].append(f"{src}:{line} imports {dst}")
    cycle = find_cycle(edges)
    if cycle is None:
        return None
    return " -> ".join(cycle) + "; via " + "; ".join(why[a, b][0] for a, b in zip(cycle, cycle[1:]))


# --------------------------------------------------------------------------- the checker itself


def test_imports_of_reads_every_form():
    src = ("import time\nfrom improv.core.theory import chart\nfrom . import segment\nfrom ..model import tokens\n"
           "def f():\n    import threading\n    importlib.import_module('improv.live.clock')\n")
    got = [name for name, _ in imports_of(src, "improv.core.listen.harmony")]
    assert got == ["time", "improv.core.theory.chart", "improv.core.listen.segment", "improv.core.model.tokens",
                   "threading", "improv.live.clock"]


@pytest.mark.parametrize("edges, cycle", [
    ({"a": {"b"}, "b": {"c"}}, None),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ({"a": {"b", "c"}, "c": {"d"}, "d": {"c"}}, ["c", "d", "c"]),
])
def test_find_cycle(edges, cycle):
    assert find_cycle(edges) == cycle


def test_package_of():
    assert package_of("improv.core.theory.chart") == "improv.core.theory"
    assert package_of("improv.core.tomlfile") == "improv.core.tomlfile"
    assert package_of("improv.live.session") == "improv.live"
    assert package_of("improv.config") == "improv.config"
    assert package_of("numpy.linalg") is None


# --------------------------------------------------------------------------- the rules


def test_core_imports_nothing_real_time():
    offenders = [f"{path.relative_to(ROOT)}:{line} imports {name}"
                 for module, path in MODULES.items() if module.startswith("improv.core")
                 for name, line in imports_of(path.read_text(), module, path.name == "__init__.py")
                 if name.split(".")[0] in CORE_FORBIDDEN]
    assert not offenders, offenders


def test_core_imports_no_higher_layer():
    offenders = [f"{src}:{line} imports {dst}" for src, dst, line in all_imports()
                 if src.startswith("improv.core") and dst.startswith(CORE_MAY_NOT_IMPORT)]
    assert not offenders, offenders


def test_no_import_cycle_between_packages():
    assert package_cycle() is None, package_cycle()


def test_the_real_time_package_holds_no_model_code():
    """improv.live never imports the phrase model or training: the partner thinks in its own
    process (improv/partner/worker.py), and the real-time process only talks to it."""
    offenders = [f"{src}:{line} imports {dst}" for src, dst, line in all_imports()
                 if src.startswith("improv.live") and dst.startswith(("improv.core.model", "improv.train",
                                                                       "improv.partner.core",
                                                                       "improv.partner.worker"))]
    assert not offenders, offenders
    code = ("import sys, improv.commands.jam, improv.commands.demo, improv.live.session, improv.partner.process; "
            "print(sorted(m for m in sys.modules if m.startswith(('improv.core.model', 'improv.train', 'torch'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "[]", (out.stdout, out.stderr[-2000:])


def test_the_real_time_path_imports_no_torch():
    """The jam, the demo and respond run on a lean install: importing their whole path, and
    loading the shipped model, brings no torch (which costs seconds and ~190 MiB)."""
    live = sorted(m for m in MODULES if m.startswith(("improv.live", "improv.partner")))
    names = live + ["improv.commands.jam", "improv.commands.demo", "improv.commands.respond",
                    "improv.core.model.responder"]
    code = (f"import importlib, sys\nfor name in {names!r}:\n    importlib.import_module(name)\n"
            "from improv.core.model.responder import DEFAULT_CHECKPOINT, ModelResponder\n"
            "if DEFAULT_CHECKPOINT.exists():\n    ModelResponder.load()\n"
            "print('TORCH', sorted(m for m in sys.modules if m.split('.')[0] == 'torch')[:3])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "TORCH []" in out.stdout, out.stdout


def test_the_live_path_imports_without_posix_only_modules():
    """macOS and Windows: the jam, demo, respond, play, render and recover import where
    fcntl, termios, tty, resource, pwd and grp are missing and the signal and os modules
    lack their POSIX-only names (SIGQUIT, SIGHUP, SIGTSTP, os.fork, os.pread, ...), as on
    Windows: one unguarded use at module level would end every command there in a traceback."""
    live = sorted(m for m in MODULES if m.startswith(("improv.live", "improv.partner")))
    names = live + [f"improv.commands.{c}" for c in ("jam", "demo", "respond", "play", "render", "recover",
                                                      "ports", "panic", "learn", "tunes")] + ["improv.cli"]
    code = ("import importlib, os, signal, sys\n"
            "for m in ('fcntl', 'termios', 'tty', 'resource', 'pwd', 'grp', 'pty'):\n    sys.modules[m] = None\n"
            "for n in ('SIGQUIT', 'SIGHUP', 'SIGTSTP', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT', 'SIGSTOP',\n"
            "          'SIGPIPE', 'SIGCHLD', 'SIGALRM', 'SIGKILL', 'pthread_sigmask', 'setitimer', 'alarm'):\n"
            "    if hasattr(signal, n):\n        delattr(signal, n)\n"
            "for n in ('fork', 'setsid', 'killpg', 'getpgid', 'getuid', 'geteuid', 'pread', 'pwrite', 'nice',\n"
            "          'sched_setaffinity', 'getloadavg'):\n"
            "    if hasattr(os, n):\n        delattr(os, n)\n"
            f"for name in {names!r}:\n    importlib.import_module(name)\n"
            "import improv.cli\nimprov.cli.build_parser([])\nprint('OK')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "OK", out.stderr[-2000:]

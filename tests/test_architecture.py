"""improv/core stays pure: no threads, clocks, ports or devices (see ../shared/STYLE.md)."""

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "improv" / "core"
FORBIDDEN = {"threading", "time", "rtmidi", "sounddevice", "improv.live", "queue", "asyncio"}


def test_core_imports_nothing_real_time():
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name in FORBIDDEN or any(name.startswith(f + ".") for f in FORBIDDEN):
                    offenders.append(f"{path.name}: {name}")
    assert not offenders, offenders

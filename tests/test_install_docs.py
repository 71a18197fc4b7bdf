"""The install the README tells a user is the one CI runs and the one pyproject declares:
the three are kept in step here, so that a green CI proves the README."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from improv.commands.common import TRAIN_INSTALL

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def ci_commands() -> list[str]:
    return [ln.strip() for ln in CI.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def test_the_runtime_needs_no_torch_and_the_train_extra_brings_it():
    names = lambda reqs: {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower() for r in reqs}  # noqa: E731
    runtime = names(PYPROJECT["project"]["dependencies"])
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {"numpy", "mido", "python-rtmidi", "sounddevice"} <= runtime
    assert "torch" not in runtime and "torch" not in names(extras["test"])
    assert "torch" in names(extras["train"])


def test_ci_runs_the_readmes_install_smoke_check_torch_and_test_command_in_order():
    cmds = ci_commands()

    def where(fragment: str) -> int:
        found = [i for i, c in enumerate(cmds) if fragment in c]
        assert found, f".ci/run has no command with {fragment!r}"
        return found[0]

    assert 'pip install -e ".[test]"' in README
    # the README's test command runs on the lean install (the training-side tests skip), then with torch
    runs = [i for i, c in enumerate(cmds) if c == "python3 -m pytest"]
    steps = [where("apt-get install"), where('pip install -q -e ".[test]"'), where("find_spec(\"torch\")"),
             where("improv respond"), where("jackd "), runs[0], where("pip install -q \"torch=="),
             runs[-1]]
    assert len(runs) == 2 and steps == sorted(steps), "CI's steps are out of the README's order"
    assert cmds[-1] == "python3 -m pytest" and "python3 -m pytest" in README


def test_the_torch_commands_are_the_same_in_the_message_the_readme_and_ci():
    for command in TRAIN_INSTALL.split(" && "):
        assert command in README, f"the README does not give {command!r}"
        pip_q = command.replace("pip install", "pip install -q", 1)
        assert pip_q in CI, f".ci/run does not run {command!r}"


def test_the_readmes_apt_packages_are_installed_by_ci():
    apt = re.search(r"sudo apt-get install ([a-z0-9. -]+)`", README).group(1).split()
    line = next(c for c in ci_commands() if c.startswith("apt-get install"))
    assert set(apt) | {"jackd2", "python3-venv"} <= set(line.split())

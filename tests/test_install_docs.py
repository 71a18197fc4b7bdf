"""The install the README tells a user is the one CI runs and the one pyproject declares:
the three are kept in step here, so that a green CI proves the README."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

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



def test_a_package_the_readme_installs_without_its_dependencies_is_in_no_extra():
    """`pip install -e ".[soundfont]"` brought tinysoundfont with the pyaudio it requires: no
    Linux wheel, and its build fails without PortAudio's headers, so the whole install
    failed. The README installs it `--no-deps` (improv uses its synth only)."""
    no_deps = set(re.findall(r"pip install\s+--no-deps\s+([A-Za-z0-9_.-]+)", README))
    assert "tinysoundfont" in no_deps
    for extra, reqs in PYPROJECT["project"]["optional-dependencies"].items():
        brought = {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower() for r in reqs}
        assert not brought & no_deps, f"the {extra!r} extra brings {sorted(brought & no_deps)} with its dependencies"


def test_the_readme_says_what_a_python_newer_than_python_rtmidis_wheels_needs():
    """python-rtmidi has wheels up to the newest Python it is released for (its classifiers);
    on a newer one pip builds it from source, and with the README's runtime libraries alone
    `pip install` stopped at meson's `Dependency "alsa" not found` (Python 3.13)."""
    from importlib.metadata import metadata

    minors = [int(c.rsplit(".", 1)[1]) for c in metadata("python-rtmidi").get_all("Classifier")
              if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    install = " ".join(README[README.index("## Install"):README.index("```bash")].split())
    assert f"Python 3.10 to 3.{max(minors)}" in install and f"on 3.{max(minors) + 1} or newer" in install, install
    build = re.search(r"sudo apt-get install (libasound2-dev [a-z0-9+. -]+)`", install)
    assert build and {"libasound2-dev", "libjack-jackd2-dev", "g++", "python3-dev"} <= set(build.group(1).split())
    ci = next((c for c in ci_commands() if c.startswith("apt-get install") and "libasound2-dev" in c), "")
    assert set(build.group(1).split()) <= set(ci.split()), "CI does not install the README's build packages"

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


def installed_copy(tmp_path: Path, prefix: Path | None = None) -> Path:
    """improv installed as `pip install .` installs it (not editable: the package and its data
    files copied, no checkout beside them) into a new venv that borrows this one's dependencies;
    returns that venv's python. The wheel is installed by the new venv's own pip, which sees
    only that venv: pip run from this one (`--prefix`) uninstalls the improv installed here.
    `prefix`: install there instead of the venv, a prefix that is not `sys.prefix` (as ~/.local
    for `pip install --user`, or /usr/local for a system pip on Debian, whose sys.prefix is /usr)."""
    import os
    import shutil
    import subprocess

    try:  # (setuptools 70.1 on builds wheels itself; an older one needs the wheel package)
        import setuptools.command.bdist_wheel  # noqa: F401
    except ImportError:
        pytest.importorskip("wheel", reason="building improv's wheel offline needs setuptools>=70.1 (the test extra's)")
    # built from a copy of what the build reads: setuptools builds in the source tree, and a build/
    # left there by an earlier `pip install .` puts the files since deleted from it into the wheel
    src, venv, wheels = tmp_path / "src", tmp_path / "venv", tmp_path / "wheels"
    for name in ("improv", "models"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "-w", str(wheels), str(src)], check=True, capture_output=True, timeout=300)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    where = ["--prefix", str(prefix)] if prefix is not None else []
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", *where,
                    *map(str, wheels.glob("*.whl"))], check=True, capture_output=True, timeout=300)
    purelib = "import sys, sysconfig; print(sysconfig.get_paths(vars=dict(base=sys.argv[1], platbase=sys.argv[1]) " \
              "if sys.argv[1] else None)['purelib'])"
    site, installed = (subprocess.run([str(python), "-c", purelib, str(base or "")], capture_output=True, text=True,
                                      check=True, timeout=60).stdout.strip() for base in (None, prefix))
    deps = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]  # (their .pth files, an editable
    # improv's, are not read)
    if prefix is not None:
        deps.insert(0, installed)
    Path(site, "borrowed-deps.pth").write_text("\n".join(deps) + "\n", encoding="utf-8")
    return python


@pytest.mark.slow
def test_an_installed_copy_runs_away_from_the_checkout(tmp_path):
    """What `pip install .` puts in place is all the commands need, run from another folder:
    the tunes, the demo's calls and the model's weights come with it. `improv embrace-bench`
    without DATA looked for the data in the Python installation (<venv>/lib/python3.11/shared/...,
    the checkout's "../shared" counted from site-packages) and said so in two lines."""
    import subprocess

    python = installed_copy(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    call = elsewhere / "call.mid"
    call.write_bytes((ROOT / "examples" / "demo_calls.mid").read_bytes())

    def improv(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(python), "-m", "improv", *argv], capture_output=True, text=True, cwd=elsewhere,
                              timeout=120)

    where = subprocess.run([str(python), "-c", "import improv; print(improv.__file__)"], capture_output=True,
                           text=True, cwd=elsewhere, timeout=60).stdout
    assert where.startswith(str(tmp_path / "venv")), where  # the installed copy, not the checkout
    assert improv("tunes", "blues-f").returncode == 0
    answered = improv("respond", "call.mid", "--tune", "blues-f", "--responder", "model", "-o", "a.mid")
    assert answered.returncode == 0 and "answer (model" in answered.stdout, answered.stderr
    demo = improv("demo", "--no-record", "--duration", "1")
    assert demo.returncode == 0 and "demo: a scripted player plays 5 calls" in demo.stdout + demo.stderr, demo.stderr
    bench = improv("embrace-bench")
    err = bench.stderr.strip()
    assert bench.returncode == 2 and len(err.splitlines()) == 1, err
    assert "no DATA given" in err and str(tmp_path / "venv") not in err, err


def test_every_data_file_shipped_is_one_improv_reads():
    """The package data (`improv/data/`, copied into every install) holds only what the code
    reads: a test's leftover, `demo_calls-answer.mid` (`improv respond` writing beside the
    demo's calls), was shipped with it."""
    data = ROOT / "improv" / "data"
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "improv").rglob("*.py"))
    unread = [p.name for p in data.iterdir() if p.is_file() and p.name not in code]
    assert not unread, f"improv/data holds files no code reads: {unread}"


@pytest.mark.slow
def test_an_install_whose_prefix_is_not_pythons_finds_the_models_weights(tmp_path):
    """`pip install --user .` puts the weights in ~/.local/share/improv/models (a system pip on
    Debian, in /usr/local/share), and the partner looked only under sys.prefix: the default
    partner, the model, stopped every jam, demo and respond with "model weights
    .../site-packages/models/improv-phrase-v2.npz not found: export them with `improv export`"."""
    import subprocess

    prefix = tmp_path / "user-base"
    python = installed_copy(tmp_path, prefix)
    call = tmp_path / "call.mid"
    call.write_bytes((ROOT / "examples" / "demo_calls.mid").read_bytes())
    answered = subprocess.run([str(python), "-m", "improv", "respond", "call.mid", "--tune", "blues-f", "--responder",
                               "model", "-o", "a.mid"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert (prefix / "share" / "improv" / "models" / "improv-phrase-v2.npz").exists()  # (where pip put them)
    assert answered.returncode == 0 and "answer (model" in answered.stdout, answered.stderr

"""Flags shared by several subcommands, and turning them into a `Config` and a `Chart`.

Command modules stay light at import time (no torch, no rtmidi): a command's start-up
is its own imports (`improv bench --startup` measures it).
"""

from __future__ import annotations

import argparse

from improv.config import Config, load_config, override
from improv.configrules import FLAGS  # (config key -> its flag: there, a file's key spelt as a flag gets a hint)
from improv.tunefiles import find_tune, names_a_tune
from improv.core.theory.chart import Chart, load_tune, parse_chart
from improv.core.theory.metre import metre_beats
from improv.errors import ChordError, ConfigError


def metre(text: str) -> int:
    """`--time 3/4` (or `3`) -> 3 beats a bar: improv counts quarter-note beats, and cut
    time (2/2) is refused naming the bar in quarters to give (`metre_beats`: the same rule as
    a tune file's and a config file's `beats_per_bar`)."""
    try:
        return metre_beats(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", action="append",
                   help="a TOML settings file (see configs/default.toml); give it again to lay a file over another, "
                        "e.g. a preset and then your own: each file's keys replace the ones before it")


TEMPO_HELP = "tempo in beats per minute (default: a --config file's [timing] tempo, else the tune's own, else 120)"


def add_harmony_args(p: argparse.ArgumentParser, tempo_help: str = TEMPO_HELP) -> None:
    g = p.add_argument_group("harmony")
    x = g.add_mutually_exclusive_group()
    x.add_argument("--chords", metavar="CHART", help='a chart, e.g. "Dm7 G7 | Cmaj7 | %%" (loops)')
    x.add_argument("--tune", metavar="NAME|FILE", help="a shipped tune (see `improv tunes`) or a .toml file")
    x.add_argument("--no-chart", action="store_true",
                   help="no chart, whatever tune or chords a --config file names: the harmony is heard in what "
                        "you play")
    g.add_argument("--tempo", type=float, metavar="BPM", help=tempo_help)
    g.add_argument("--time", type=metre, dest="beats_per_bar", metavar="N/4",
                   help="the metre of --chords and of a jam with no chart, e.g. 3/4 for a waltz ([timing] "
                        "beats_per_bar; default 4/4; a tune file gives its own)")
    g.add_argument("--swing", type=float, metavar="RATIO", help="long:short eighth ratio (1 straight, 2 triplet)")


def add_responder_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("partner")
    g.add_argument("--responder", choices=("markov", "model"), help="who answers: model (learned from jazz solos, the default) or markov (learns your phrases as you play)")
    g.add_argument("--seed", type=int, help="random seed, for answers you can reproduce")
    g.add_argument("--temperature", type=float, help="higher is wilder (default 1.0)")
    g.add_argument("--bars", type=int, dest="answer_bars", metavar="N",
                   help="answer length in bars (default, or 0: as long as the call)")
    g.add_argument("--model", metavar="FILE.npz",
                   help="the phrase model's weights, e.g. one you trained and exported with `improv export` "
                        "([responder] model; default: the shipped models/improv-phrase-v2.npz); implies --responder model")


def settings_from_args(args: argparse.Namespace) -> Config:
    """The config file (if any) with the command-line flags laid over it."""
    cfg = load_config(getattr(args, "config", None))
    get = lambda name: getattr(args, name, None)  # noqa: E731
    for flag, example in (("chords", '"Dm7 G7 | Cmaj7"'), ("tune", "blues-f")):
        if get(flag) is not None and not get(flag).strip():  # an empty shell variable, most likely
            raise ConfigError(f"--{flag} is empty: give one, e.g. --{flag} {example}, or leave the flag out")
    chords = get("chords").replace("\t", " ") if get("chords") is not None else None  # (a tab is a space in a chart)
    cfg = override(cfg, "harmony", {"chords": "--chords", "tune": "--tune"}, chords=chords, tune=get("tune"))
    if get("chords") is not None:
        cfg = override(cfg, "harmony", tune="")
    if get("tune") is not None:
        cfg = override(cfg, "harmony", chords="")
    if get("no_chart"):  # (a preset's tune undone for one session: configs/ballad.toml names one)
        cfg = override(cfg, "harmony", chords="", tune="")
    if get("beats_per_bar") is not None and get("tune") is not None:
        raise ConfigError(f"--time {get('beats_per_bar')}/4 with --tune {get('tune')}: a tune gives its own metre "
                          "(its file's beats_per_bar); leave --time out, or give the chords with --chords")
    if get("beats_per_bar") is not None and cfg.harmony.tune:  # (the config's tune was played, --time passed over)
        raise ConfigError(f"--time {get('beats_per_bar')}/4 with the config's tune ([harmony] tune = "
                          f"\"{cfg.harmony.tune}\"): a tune gives its own metre (its file's beats_per_bar); leave "
                          "--time out, or give the chords with --chords, or --no-chart to jam on the harmony you play")
    cfg = override(cfg, "timing", FLAGS, tempo=get("tempo"), swing=get("swing"), beats_per_bar=get("beats_per_bar"))
    if get("model") is not None:
        if get("responder") == "markov":
            raise ConfigError(f"--model {get('model')} is the phrase model's weights, but --responder markov does not "
                              "read them: leave one out")
        cfg = override(cfg, "responder", FLAGS, model=get("model"), name="model")
    cfg = override(cfg, "responder", FLAGS, name=get("responder"), seed=get("seed"), temperature=get("temperature"))
    cfg = override(cfg, "phrase", FLAGS, answer_bars=get("answer_bars"))
    return cfg


CHART_EXAMPLE = '"Dm7 G7 | Cmaj7"'


def chart_from_config(cfg: Config, flag: bool = False) -> Chart | None:
    """The chart the session plays over, or None to infer harmony live.

    Args:
        cfg: the settings.
        flag: the chords came from `--chords` (the command's args), named in the error;
            else from a config file's `[harmony] chords`.

    Raises:
        ChordError: one line naming `--chords` (or the key), the bad symbol and its bar,
            and a chart that reads.
    """
    if cfg.harmony.chords:
        try:
            return parse_chart(cfg.harmony.chords, cfg.timing.beats_per_bar)
        except ChordError as e:
            tune = names_a_tune(cfg.harmony.chords)  # (a tune given as chords: --chords blues-f)
            if tune is not None:
                raise ChordError(f"--chords {cfg.harmony.chords.strip()!r} is a tune, not a chart: play it with --tune "
                                 f"{tune} (--chords takes chords, e.g. {CHART_EXAMPLE})") from None
            # (a file's chords were read when it was loaded: here only in another metre, --time's)
            if flag:
                raise ChordError(f"--chords: {e} (a chart: e.g. --chords {CHART_EXAMPLE})") from None
            raise ChordError(f"[harmony] chords of the config file, counted in {cfg.timing.beats_per_bar}/4 (--time): "
                             f"{e}") from None
    if cfg.harmony.tune:
        return load_tune(find_tune(cfg.harmony.tune))
    return None


# How a user adds torch for training and evaluation (the README's "Offline and training").
TRAIN_INSTALL = 'pip install "torch==2.13.*" --index-url https://download.pytorch.org/whl/cpu && pip install -e ".[train]"'


def require_torch(what: str) -> None:
    """Stop with one line saying how to install torch, if it cannot be imported.

    Commands that need torch (train, eval, export) call this before anything imports it;
    the jam, demo and respond never do.

    Args:
        what: what needs torch, as the message's subject (e.g. "training").

    Raises:
        ImprovError: torch is not installed, or is installed but fails to import.
    """
    from improv.errors import ImprovError

    try:
        import torch  # noqa: F401 - the command imports it next anyway
    except (ImportError, OSError) as e:
        if isinstance(e, ModuleNotFoundError) and e.name == "torch":
            raise ImprovError(f"{what} needs PyTorch, which is not installed: {TRAIN_INSTALL} "
                              f"(a CPU build; see the README)") from None
        raise ImprovError(f"{what} needs PyTorch, whose import failed ({e}): reinstall it: {TRAIN_INSTALL}") from None

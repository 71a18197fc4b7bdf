"""`improv embrace-bench [DATA]`: real calls with one outside note, answered in the three
outside-note modes (`--outside embrace`, `guide`, `off` in the jam); prints how often the
answer picks the note up, how inside the answers stay, and how far they move from plain
answers (see `improv.bench.embrace`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from improv.errors import ConfigError


def default_data() -> Path | None:
    """The README's place for the data, ../shared/data/wjazzd-solos.tar.gz beside the source
    checkout improv runs from; None for an installed copy, which has no checkout beside it
    (its "../shared" would be a folder of the Python installation's)."""
    root = Path(__file__).resolve().parents[2]
    return root.parent / "shared" / "data" / "wjazzd-solos.tar.gz" if (root / "pyproject.toml").exists() else None


DEFAULT_DATA = default_data()


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", metavar="DATA", nargs="?",
                   help="a WJazzD-format tar.gz or folder (default "
                        + (f"{DEFAULT_DATA})" if DEFAULT_DATA else "beside a source checkout; give it here)"))
    p.add_argument("--limit", type=int, default=200, metavar="N", help="at most N calls (default 200)")
    p.add_argument("--responder", choices=("markov", "model"),
                   help="who answers (default markov; model when --model is given)")
    p.add_argument("--model", metavar="PATH",
                   help="the weights to answer with (implies --responder model; default for it: the shipped ones)")
    p.add_argument("--daring", type=float, default=0.5, metavar="X", help="embrace daring, 0..1 (default 0.5)")
    p.add_argument("--strength", type=float, metavar="X",
                   help="how strongly embrace favours the note's pitch classes, 0..1 (default: the config default)")
    p.add_argument("--seed", type=int, default=0, help="call i is answered with seed SEED + i (default 0)")
    p.add_argument("--split", choices=("valid", "all"), default="valid",
                   help="which solos give the calls: the validation split (default) or all")
    p.add_argument("--played", action="store_true",
                   help="also answer the same calls as the soloists played them (their onsets and lengths from "
                        "the recording, their tempo given to hearing) and compare with the grid")
    p.add_argument("--json", metavar="OUT", help="also write the figures as JSON")


def run(args: argparse.Namespace) -> int:
    from improv.core.formats.wjazzd import iter_pairs, load_corpus
    from improv.core.embrace.strategies import EmbraceSettings
    from improv.bench.embrace import cases_from_pairs, format_result, run_bench

    if args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}")
    args.responder = _responder_name(args)
    if not 0.0 <= args.daring <= 1.0:
        raise ConfigError(f"--daring must be from 0 to 1, got {args.daring}")
    if args.strength is not None and not 0.0 <= args.strength <= 1.0:
        raise ConfigError(f"--strength must be from 0 to 1, got {args.strength}")
    from improv.core.formats.paths import writable_output

    out = writable_output(args.json, "--json") if args.json else None  # before the run, not after it
    new_responder = _responder_factory(args)  # a missing checkpoint fails before the data is read
    data = Path(args.data) if args.data else DEFAULT_DATA
    if data is None:
        raise ConfigError("no DATA given: give the WJazzD solos, wjazzd-solos.tar.gz or its unpacked folder (an "
                          "installed improv has no checkout beside it to look in; see models/README.md)")
    if not data.exists():  # (one line, not "reading ..." before it)
        given = "" if args.data else "no DATA given, and "
        raise ConfigError(f"{given}data {data} not found: give the wjazzd-solos.tar.gz or its unpacked folder")
    print(f"reading {data} ...", file=sys.stderr, flush=True)
    corpus = load_corpus(data)
    split = None if args.split == "all" else "valid"
    solos = [s for s in corpus.solos if split is None or s.split == split]
    pairs = ((p.call, p.harmony, p.solo) for p in iter_pairs(solos))
    cases = cases_from_pairs(pairs, args.limit)
    if not cases:
        raise ConfigError(f"no usable calls in {data} ({args.split} split): a call needs a note of a beat or "
                          "more on beat 1 or 3 over a chord; try --split all")
    if args.played:  # only calls of solos with a beat track can be played: the grid figures use the same calls
        from improv.bench.human import load_human

        played_solos = {h.name: h for h in load_human(data, split)}
        cases = [c for c in cases if c.solo in played_solos]
    settings = EmbraceSettings(daring=args.daring) if args.strength is None else \
        EmbraceSettings(daring=args.daring, strength=args.strength)
    result = run_bench(cases, new_responder, settings, seed=args.seed)
    result["responder"] = args.responder
    result["data"] = str(data)
    result["split"] = args.split
    from improv.bench.parts import engine

    result["engine"] = engine()  # which code measured (the figures' JSON says it, not a note beside it)
    n_solos = len({c.solo for c in cases})
    title = (f"embrace-bench: {len(cases)} calls from {n_solos} solo(s) ({args.split} split), {args.responder} responder, "
             f"daring {args.daring}, seeds {args.seed}..{args.seed + len(cases) - 1}")
    print("\n".join(format_result(result, title)))
    if args.played:
        from improv.bench.embrace import compare_played, format_played, played_case

        played = run_bench([played_case(c, played_solos[c.solo]) for c in cases], new_responder, settings, seed=args.seed)
        result["played"] = played
        result["played_vs_grid"] = compare_played(result, played)
        print("\n".join(format_result(played, f"the same {len(cases)} calls as the soloists played them")))
        print(format_played(result["played_vs_grid"]))
    if out is not None:
        try:
            out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"cannot write {out}: {e.strerror or e}") from None
        print(f"wrote {out}")
    return 0


def _responder_name(args: argparse.Namespace) -> str:
    """--responder, or "model" when --model names the weights (never a silent markov run)."""
    if args.model is not None and args.responder == "markov":
        raise ConfigError(f"--model {args.model} is for --responder model, but --responder markov was given; "
                          "drop one of them")
    return args.responder or ("model" if args.model is not None else "markov")


def _responder_factory(args: argparse.Namespace):  # noqa: ANN202 - returns Callable[[], Responder]
    if args.responder == "markov":
        from improv.core.respond.markov import MarkovResponder

        return lambda: MarkovResponder(order=3, seed=0)

    from improv.core.model.responder import ModelResponder

    model = ModelResponder.load(args.model)
    return lambda: model  # the model does not learn from calls: one instance answers all

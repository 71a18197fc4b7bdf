"""`improv eval DATA`: the phrase model against two baselines (the 5-gram and the chord
n-gram) and the real answers; `--split test` reports the test split beside the valid one."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from improv.errors import ConfigError


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", metavar="DATA", help="a WJazzD-format tar.gz or folder (melody/, beats/, solo_info.csv)")
    p.add_argument("--json", metavar="OUT", help="also write the full report as JSON")
    p.add_argument("--model", metavar="PATH", help="the checkpoint to evaluate (default: the shipped model)")
    p.add_argument("--limit", type=int, metavar="N", help="evaluate at most N pairs, spread over the split")
    p.add_argument("--split", choices=("valid", "test", "all"),
                   help="which solos: the valid split (default when DATA is the training archive; where choices are "
                        "made), the test split (reported beside valid; choose nothing on it) or all")
    p.add_argument("--seed", type=int, default=0, help="base seed of the generated answers (default 0)")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default 1.0)")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (default 1.0, as the jam samples)")
    p.add_argument("--no-generate", action="store_true", help="only the NLLs, no generated answers")
    p.add_argument("--train-data", metavar="PATH",
                   help="the baseline's training archive (default ../shared/data/wjazzd-solos.tar.gz)")
    p.add_argument("--baseline", metavar="PATH",
                   help="the 5-gram .npz (the chord n-gram goes beside it; default: cached, trained on first use)")


def _clean(x):  # noqa: ANN001, ANN202 - JSON has no NaN
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def run(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}")
    if not args.temperature > 0 or not math.isfinite(args.temperature):
        raise ConfigError(f"--temperature must be a number above 0 (1 samples as the model learned), got {args.temperature}")
    if not 0 < args.top_p <= 1:
        raise ConfigError(f"--top-p must be above 0 and at most 1 (1 keeps every note), got {args.top_p}")
    if args.seed < 0:  # (the answers' generators refused it after the slow part, with a traceback)
        raise ConfigError(f"--seed must be 0 or more, got {args.seed}")
    from improv.core.formats.paths import whole_or_nothing, writable_output

    inputs = [p for p in (args.data, args.model, args.baseline, args.train_data) if p]
    out = writable_output(args.json, "--json", inputs) if args.json else None
    for data in {args.data, args.train_data} - {None}:  # a data folder's own files are inputs too
        if out is not None and out.exists() and Path(data).is_dir() and Path(data).resolve() in out.resolve().parents:
            raise ConfigError(f"--json {args.json}: that is a file of the data {data}, which would be overwritten; "
                              "give another output path")
    from improv.commands.common import require_torch

    require_torch("evaluating the model")  # its NLL is scored by the training model (torch)
    from improv.train.evaluate import EvalOptions, evaluate, format_table

    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    report = evaluate(
        args.data, args.model,
        EvalOptions(split=args.split, limit=args.limit, seed=args.seed, temperature=args.temperature,
                    top_p=args.top_p, generate=not args.no_generate),
        train_data=args.train_data, baseline_path=args.baseline, log=log,
    )
    from improv.bench.parts import engine

    report["engine"] = engine()  # which code evaluated (the model card's figures name it from the file)
    print(format_table(report))
    if out is not None:
        try:
            with whole_or_nothing(out) as tmp:
                tmp.write_text(json.dumps(_clean(report), indent=2) + "\n", encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"cannot write {out}: {e.strerror or e}") from None
        print(f"wrote {out}")
    return 0

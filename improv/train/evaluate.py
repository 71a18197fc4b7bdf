"""Evaluate the phrase model against the n-gram baseline and the real answers.

For each (call, answer) pair of consecutive phrases in a WJazzD-format archive:

- NLL: the real answer's per-note negative log-likelihood (nats) given the call and the
  chords, for the model (`improv.train.scoring.score`, which also reads the solo's phrases
  before the call, as it reads the session so far when playing) and for the n-gram
  baseline (which sees the call's tokens but no chords; its 5-token context could not
  reach further back anyway).
- Generation: the model and the baseline each answer the call (seed = `seed + pair
  index`) over the same span as the real answer, and the musical statistics of
  `improv.core.theory.metrics` are computed for the real and both generated sets.

The span of an answer is the beat that holds its first onset (where the live engine
would start an answer: on a beat) to the end of its last note, rounded up to whole
beats, at most `MAX_ANSWER_BEATS`; the real answer is measured over that same span (notes
past it are left out), so notes per beat compare like with like.

The baseline is trained once on the training split of the training archive and cached
(`baseline_cache_path`); its order and the 12-key augmentation are chosen on the
validation split of that archive.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from improv.core.theory.metrics import js_distance, summarize
from improv.core.model.ngram import NgramModel, train_baseline
from improv.core.theory.notes import Note, Phrase
from improv.core.respond.base import AnswerSettings
from improv.core.formats.wjazzd import CallAnswer, call_answer_pairs, load_corpus, split_of
from improv.errors import DataError, ImprovError

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TRAIN_DATA = ROOT.parent / "shared" / "data" / "wjazzd-solos.tar.gz"
MAX_ANSWER_BEATS = 32.0  # 8 bars: the longest answer the partner plays
LOW, HIGH = 36, 97  # the pitch range of the data: generation is not squeezed into a register

Log = Callable[[str], None]


@dataclass(frozen=True)
class EvalOptions:
    """What to evaluate and how.

    Attributes:
        split: "valid", "all" or None (None: "valid" when the data is the training
            archive, else "all").
        limit: evaluate at most this many pairs, spread evenly over the split (None = all).
        seed: base seed of the generated answers.
        temperature, top_p: sampling settings for both generators.
        generate: also generate answers and compare their statistics.
    """

    split: str | None = None
    limit: int | None = None
    seed: int = 0
    temperature: float = 1.0
    top_p: float = 1.0
    generate: bool = True


def _load(path: Path):  # noqa: ANN202 - a Corpus
    """`load_corpus`, with its error message kept to one line (tarfile's span several)."""
    try:
        return load_corpus(path)
    except DataError as e:
        raise DataError(" ".join(str(e).split())) from None


def data_digest(path: Path) -> str:
    """A short content hash of a data archive (or of a folder's file names and sizes)."""
    h = hashlib.sha1()
    if path.is_dir():
        for p in sorted(path.rglob("*.csv")):
            h.update(f"{p.relative_to(path)}:{p.stat().st_size}\n".encode())
    else:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:12]


def baseline_cache_path(train_data: Path) -> Path:
    """Where the baseline trained on `train_data` is kept ($XDG_CACHE_HOME/improv)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "improv"
    return cache / f"ngram-{data_digest(train_data)}.npz"


def load_or_train_baseline(train_data: Path, path: Path | None = None, log: Log = print) -> NgramModel:
    """The baseline for `train_data`: read from `path` (default the cache) or trained on
    its training split (order and augmentation picked on its validation split) and saved."""
    path = path or baseline_cache_path(train_data)
    if path.exists():
        try:
            return NgramModel.load(path)
        except ImprovError as e:
            log(f"rebuilding the baseline: {e}")
    log(f"training the n-gram baseline on the train split of {train_data} (once; cached in {path})")
    corpus = _load(train_data)
    train = [(p.call, p.answer) for s in corpus.split("train") for p in call_answer_pairs(s)]
    valid = [(p.call, p.answer) for s in corpus.split("valid") for p in call_answer_pairs(s)]
    if not train:
        raise DataError(f"{train_data}: no call/answer pairs in its training split to train the baseline on")
    model, table = train_baseline(train, valid, meta={
        "data": str(train_data), "data_digest": data_digest(train_data),
        "train_solos": sorted(s.name for s in corpus.split("train")),
        "valid_solos": sorted(s.name for s in corpus.split("valid")),
    })
    for row in table:
        log(f"  order {row['order']}  12 keys {'yes' if row['augment'] else 'no ':<3}  "
            f"valid NLL/note {row['valid_nll_per_note']:.3f}")
    log(f"  chose order {model.order}, 12-key augmentation {'on' if model.meta['augment'] else 'off'}")
    try:
        model.save(path)
    except OSError as e:
        log(f"could not cache the baseline in {path}: {e}")
    return model


def answer_span(answer: Phrase) -> tuple[float, float]:
    """(start, length) in beats of the span an answer is generated and measured over."""
    start = math.floor(answer.start + 1e-9)
    end = math.ceil(answer.start + max((n.end for n in answer.notes), default=0.0) - 1e-9)
    return float(start), float(min(max(1.0, end - start), MAX_ANSWER_BEATS))


def real_on_span(answer: Phrase, start: float, length: float) -> Phrase:
    """The real answer re-placed at `start` with `length`, notes outside the span left out
    and the last ones cut at its end."""
    shift = answer.start - start
    notes = []
    for n in answer.notes:
        s = n.start + shift
        if s < length - 1e-9:
            notes.append(Note(s, n.pitch, min(n.duration, length - s), n.velocity))
    return Phrase(tuple(notes), start, length)


def select_pairs(pairs: list[CallAnswer], limit: int | None) -> list[CallAnswer]:
    """At most `limit` pairs, spread evenly (deterministically) over the list."""
    if limit is None or limit >= len(pairs):
        return pairs
    if limit <= 0:
        return []
    return [pairs[int(i * len(pairs) / limit)] for i in range(limit)]


def _nll(scores: list[tuple[float, int]]) -> tuple[float, int]:
    tot = sum(s for s, _ in scores)
    n = sum(k for _, k in scores)
    return (tot / n if n else math.nan), n


def evaluate(
    data: str | Path,
    model_path: str | Path | None = None,
    options: EvalOptions = EvalOptions(),
    train_data: str | Path | None = None,
    baseline_path: str | Path | None = None,
    log: Log = print,
    model: object | None = None,
) -> dict:
    """Run the evaluation; returns the report (see `improv eval` for its keys).

    `model` (a `ModelResponder`, or anything with `score(call, answer, chart, history=())
    -> (nats, notes)` and `answer(call, chart, settings)`) is evaluated instead of loading
    `model_path` when given.

    Raises:
        DataError: the data (or the baseline's training data) cannot be read, or the
            split holds no pairs.
    """
    data = Path(data)
    train_path = Path(train_data) if train_data else (DEFAULT_TRAIN_DATA if DEFAULT_TRAIN_DATA.exists() else data)
    if not train_path.exists():
        raise DataError(f"baseline training data {train_path} not found: pass --train-data")
    corpus = _load(data)
    baseline = load_or_train_baseline(train_path, Path(baseline_path) if baseline_path else None, log)
    train_solos = set(baseline.meta.get("train_solos", []))
    names = {s.name for s in corpus.solos}
    is_training_archive = bool(names & (train_solos | set(baseline.meta.get("valid_solos", []))))
    split = options.split or ("valid" if is_training_archive else "all")
    if split not in ("valid", "all"):
        raise DataError(f"--split must be valid or all, got {split!r}")
    solos = [s for s in corpus.solos if split == "all" or split_of(s.name) == "valid"]
    leaked = sorted({s.name for s in solos} & train_solos)
    pairs = select_pairs([p for s in solos for p in call_answer_pairs(s)], options.limit)
    if not pairs:
        raise DataError(f"{data}: no call/answer pairs in split {split!r} (of {len(corpus.solos)} solos read)")
    log(f"evaluating {len(pairs)} pairs from {len(solos)} solos ({split} split of {data})")
    if leaked:
        log(f"warning: {len(leaked)} of these solos are in the baseline's training split (e.g. {leaked[0]})")

    report: dict = {
        "data": str(data), "split": split, "n_solos": len(solos), "n_pairs": len(pairs),
        "skipped": dict(corpus.warnings), "train_solos_evaluated": len(leaked),
        "options": {"limit": options.limit, "seed": options.seed, "temperature": options.temperature,
                    "top_p": options.top_p},
    }

    # NLL of the real answers
    base_nll, n_notes = _nll(baseline.score_many([(p.call, p.answer) for p in pairs]))
    report["baseline"] = {
        "nll_per_note": base_nll, "n_notes": n_notes, "order": baseline.order,
        "augment_12_keys": bool(baseline.meta.get("augment")), "smoothing": "interpolated modified Kneser-Ney",
        "trained_on": f"train split of {baseline.meta.get('data', '?')}",
        "n_train_pairs": baseline.meta.get("n_train_pairs"),
        "valid_nll_per_note_at_selection": baseline.meta.get("valid_nll_per_note"),
    }
    if model is None:
        try:
            from improv.train.export import load_responder

            model = load_responder(model_path)
        except (ImprovError, ImportError) as e:
            log(f"model not evaluated: {e}")
            report["model"] = {"error": str(e)}
    if model is not None:
        log("scoring the real answers with the model")
        if hasattr(model, "score"):
            scorer = model.score
        else:
            from improv.train.scoring import score

            scorer = lambda *a, **k: score(model, *a, **k)  # noqa: E731
        m_nll, m_notes = _nll([scorer(p.call, p.answer, p.harmony, history=p.history) for p in pairs])
        report["model"] = {"nll_per_note": m_nll, "n_notes": m_notes, "path": str(getattr(model, "path", model_path) or "")}
        if math.isfinite(m_nll) and math.isfinite(base_nll) and base_nll > 0:
            report["model"]["nll_reduction_vs_baseline"] = 1.0 - m_nll / base_nll

    # musical statistics
    spans = [answer_span(p.answer) for p in pairs]
    calls = [p.call for p in pairs]
    harmonies = [p.harmony for p in pairs]
    real = [real_on_span(p.answer, s, n) for p, (s, n) in zip(pairs, spans)]
    report["real"] = summarize(real, harmonies, calls)
    if options.generate:
        gens = [("baseline_generated", baseline)] + ([("generated", model)] if model is not None else [])
        for key, who in gens:
            log(f"generating {len(pairs)} answers with the {'model' if who is model else 'n-gram baseline'}")
            out = []
            for i, (p, (s, n)) in enumerate(zip(pairs, spans)):
                settings = AnswerSettings(start=s, length=n, seed=options.seed + i, temperature=options.temperature,
                                          top_p=options.top_p, low=LOW, high=HIGH, history=p.history)
                out.append(who.answer(p.call, p.harmony, settings))
            stats = summarize(out, harmonies, calls)
            stats["interval_hist_js_to_real"] = js_distance(stats["interval_hist"], report["real"]["interval_hist"])
            report[key] = stats
    report["targets"] = targets(report)
    return report


def _ratio(a: float, b: float) -> float:
    return a / b if b and math.isfinite(a) and math.isfinite(b) else math.nan


def targets(report: dict) -> dict:
    """The issue's targets, measured: NLL >= 15 % below the baseline's; generated
    chord-tone share on strong beats and notes per beat within 10 % of the real answers';
    generated interval histogram closer (JS) to the real one than the baseline's."""
    out: dict = {}
    red = report.get("model", {}).get("nll_reduction_vs_baseline")
    if red is not None:
        out["nll_15pct_below_baseline"] = {"value": red, "met": bool(red >= 0.15)}
    gen, real, base = report.get("generated"), report.get("real"), report.get("baseline_generated")
    if gen and real:
        for key, name in (("strong_beat_chord_tone_share", "chord_tones_within_10pct"),
                          ("notes_per_beat", "notes_per_beat_within_10pct")):
            r = _ratio(gen[key], real[key])
            out[name] = {"value": r, "met": bool(math.isfinite(r) and abs(r - 1.0) <= 0.10)}
    if gen and base:
        g, b = gen["interval_hist_js_to_real"], base["interval_hist_js_to_real"]
        out["intervals_closer_than_baseline"] = {"value": [g, b], "met": bool(g < b)}
    return out


ROWS = (
    ("NLL per note (nats)", "nll_per_note", "{:.3f}"),
    ("chord tones on strong beats", "strong_beat_chord_tone_share", "{:.3f}"),
    ("notes in chord or tension", "in_harmony_share", "{:.3f}"),
    ("pitch-class entropy (bits)", "pc_entropy_bits", "{:.3f}"),
    ("chord-relative pc entropy", "chord_pc_entropy_bits", "{:.3f}"),
    ("notes per beat", "notes_per_beat", "{:.3f}"),
    ("interval hist JS to real", "interval_hist_js_to_real", "{:.4f}"),
    ("related to call (cells)", "relatedness", "{:.3f}"),
    ("  shared interval cell", "interval_related", "{:.3f}"),
    ("  shared rhythm cell", "rhythm_related", "{:.3f}"),
    ("  chance (shuffled calls)", "relatedness_shuffled", "{:.3f}"),
    ("notes", "n_notes", "{:d}"),
)


def format_table(report: dict) -> str:
    """The report as a table: real answers, the model's, the baseline's."""
    cols = [("real", "real"), ("model", "model"), ("n-gram", "baseline")]
    gen_of = {"real": "real", "model": "generated", "baseline": "baseline_generated"}
    lines = [f"{'':<30}" + "".join(f"{c:>10}" for c, _ in cols)]
    for label, key, fmt in ROWS:
        cells = []
        for _, who in cols:
            src = report.get(who if key == "nll_per_note" else gen_of[who]) or {}
            v = src.get(key)
            if v is None or (isinstance(v, float) and not math.isfinite(v)):
                cells.append(f"{'-':>10}")
            else:
                cells.append(f"{fmt.format(v):>10}")
        lines.append(f"{label:<30}" + "".join(cells))
    lines.append("")
    b = report.get("baseline", {})
    lines.append(f"baseline: {b.get('order')}-gram, {b.get('smoothing')}, 12-key augmentation "
                 f"{'on' if b.get('augment_12_keys') else 'off'}, trained on the {b.get('trained_on')}"
                 f" ({b.get('n_train_pairs')} pairs); it does not see the chords")
    if "error" in report.get("model", {}):
        lines.append(f"model: not evaluated ({report['model']['error']})")
    elif report.get("model", {}).get("path"):
        lines.append(f"model: {report['model']['path']} (scored with its controls unknown)")
    lines.append(f"data: {report.get('data')}, {report.get('split')} split: {report.get('n_pairs')} pairs from "
                 f"{report.get('n_solos')} solos; answers generated over the real answers' spans (seed "
                 f"{report.get('options', {}).get('seed')} + pair index)")
    for name, t in report.get("targets", {}).items():
        v = t["value"]
        shown = ", ".join(f"{x:.4f}" for x in v) if isinstance(v, list) else f"{v:.3f}"
        lines.append(f"target {name}: {shown} -> {'met' if t['met'] else 'NOT met'}")
    return "\n".join(lines)

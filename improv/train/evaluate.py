"""Evaluate the phrase model against two baselines and the real answers (`improv eval`).

For each (call, answer) pair of consecutive phrases of the chosen split:

- NLL of the real answer's notes on the grid (the same four parts for all three): the
  model (`improv.train.scoring.score`, reading the solo's phrases before the call and
  its tempo, as it reads a session), the 5-gram (`improv.core.model.ngram`: the call's
  tokens, no chords, about a note and a half of context) and the chord n-gram
  (`improv.core.model.chordgram`: chords, up to four notes back).
- Generation: each answers the call over the real answer's span (seed = `seed + pair
  index`). The model is given the call and the solo before it as played (onsets in
  seconds against the beat track) and the tempo, as a player's session reaches it, and
  plays its answer with its time feel; the baselines answer the written call on the
  grid. Their answers are set against the real answers as played: the musical
  statistics (`improv.core.theory.metrics`), the call-cell reuse, onset-gap and
  duration spread and density (`improv.core.theory.development`), and the two-sample
  classifier test on all features and on rhythm alone (`improv.train.twosample`).

The span of an answer is the beat that holds its first onset (where the live engine
would start an answer: on a beat) to the end of its last note, rounded up to whole
beats, at most `MAX_ANSWER_BEATS`; the real answer is measured over that same span
(notes past it are left out, a note played just ahead of it starts at it).

Splits (`improv.core.formats.splits`): "valid" is where choices are made; "test" is
reported beside "valid" and chooses nothing; "all" for another archive. The baselines
are trained on the training split of the training archive (their orders chosen on its
valid split) and cached ($XDG_CACHE_HOME/improv).
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from improv.core.formats.splits import SPLIT_FILE
from improv.core.formats.wjazzd import CallAnswer, call_answer_pairs, load_corpus
from improv.core.model.chordgram import ChordGram
from improv.core.model.ngram import NgramModel
from improv.core.model.ngram_train import train_baseline
from improv.core.respond.base import AnswerSettings
from improv.core.theory import development as dev
from improv.core.theory.features import NAMES, RHYTHM, feature_matrix
from improv.core.theory.metrics import js_distance, summarize
from improv.core.theory.notes import Note, Phrase
from improv.errors import DataError, ImprovError
from improv.train.report import format_table, targets  # noqa: F401 - format_table is part of this API
from improv.train.twosample import two_sample_test

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TRAIN_DATA = ROOT.parent / "shared" / "data" / "wjazzd-solos.tar.gz"
MAX_ANSWER_BEATS = 32.0  # 8 bars: the longest answer the partner plays
LOW, HIGH = 36, 97  # the pitch range of the data: generation is not squeezed into a register
SPLIT_CHOICES = ("valid", "test", "all")

Log = Callable[[str], None]


@dataclass(frozen=True)
class EvalOptions:
    """What to evaluate and how.

    Attributes:
        split: "valid", "test" (reported with "valid" beside it), "all", or None
            ("valid" when the data is the training archive, else "all").
        limit: evaluate at most this many pairs per split, spread evenly (None = all).
        seed: base seed of the generated answers.
        temperature, top_p: sampling settings for every generator.
        generate: also generate answers and compare them with the real ones.
        baselines_generate: the baselines generate too (their NLLs are always reported).
    """

    split: str | None = None
    limit: int | None = None
    seed: int = 0
    temperature: float = 1.0
    top_p: float = 1.0
    generate: bool = True
    baselines_generate: bool = True


def _load(path: Path):  # noqa: ANN202 - a Corpus
    """`load_corpus`, with its error message kept to one line (tarfile's span several)."""
    try:
        return load_corpus(path)
    except DataError as e:
        raise DataError(" ".join(str(e).split())) from None


def data_digest(path: Path) -> str:
    """A short content hash of a data archive (or of a folder's file names and sizes), and of
    the committed split (a baseline trained on another split is another baseline)."""
    h = hashlib.sha1()
    if path.is_dir():
        for p in sorted(path.rglob("*.csv")):
            h.update(f"{p.relative_to(path)}:{p.stat().st_size}\n".encode())
    else:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    if SPLIT_FILE.is_file():
        h.update(SPLIT_FILE.read_bytes())
    return h.hexdigest()[:12]


def baseline_cache_path(train_data: Path) -> Path:
    """Where the 5-gram trained on `train_data` is kept ($XDG_CACHE_HOME/improv)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "improv"
    return cache / f"ngram-{data_digest(train_data)}.npz"


def _chordgram_path(ngram_path: Path) -> Path:
    return ngram_path.with_name(ngram_path.stem + "-chordgram.npz")


def load_or_train_baselines(train_data: Path, path: Path | None = None, log: Log = print
                            ) -> tuple[NgramModel, ChordGram]:
    """The 5-gram and the chord n-gram for `train_data`: read from `path` (default the
    cache; the chord n-gram beside it) or trained on its training split (orders chosen on
    its valid split) and saved."""
    given = path is not None
    path = path or baseline_cache_path(train_data)
    if given and path.is_dir():
        raise DataError(f"--baseline {path} is a folder: give a file name for the baseline, e.g. {path / 'ngram.npz'}")
    cg_path = _chordgram_path(path)
    ngram = chord = None
    for p, cls in ((path, NgramModel), (cg_path, ChordGram)):
        if p.exists():
            try:
                got = cls.load(p)
                ngram, chord = (got, chord) if cls is NgramModel else (ngram, got)
            except ImprovError as e:
                if given:  # a file the user named that is not a baseline is theirs: never written over
                    raise DataError(f"--baseline {p} is not a baseline improv eval made: give a new file name, "
                                    "or delete it to have one built there") from None
                log(f"rebuilding a baseline: {e}")
    if ngram is not None and chord is not None:
        return ngram, chord
    log(f"training the baselines on the train split of {train_data} (once; cached in {path.parent})")
    corpus = _load(train_data)
    train = [p for s in corpus.split("train") for p in call_answer_pairs(s)]
    valid = [p for s in corpus.split("valid") for p in call_answer_pairs(s)]
    if not train:
        raise DataError(f"{train_data}: no call/answer pairs in its training split to train the baselines on")
    if ngram is None:
        ngram, table = train_baseline([(p.call, p.answer) for p in train], [(p.call, p.answer) for p in valid], meta={
            "data": str(train_data), "data_digest": data_digest(train_data),
            "train_solos": sorted(s.name for s in corpus.split("train")),
            "valid_solos": sorted(s.name for s in corpus.split("valid")),
        })
        for row in table:
            log(f"  5-gram: order {row['order']}  12 keys {'yes' if row['augment'] else 'no ':<3}  "
                f"valid NLL/note {row['valid_nll_per_note']:.3f}")
        _save(ngram, path, log)
    if chord is None:
        chord = ChordGram().fit([(p.call, p.answer, p.harmony) for p in train],
                                [(p.call, p.answer, p.harmony) for p in valid])
        chord.meta.update({"data": str(train_data), "data_digest": data_digest(train_data)})
        log(f"  chord n-gram: orders {chord.meta.get('orders')}")
        _save(chord, cg_path, log)
    return ngram, chord


def _save(model: NgramModel | ChordGram, path: Path, log: Log) -> None:
    try:
        model.save(path)
    except OSError as e:
        log(f"could not cache a baseline in {path}: {e}")


def answer_span(answer: Phrase) -> tuple[float, float]:
    """(start, length) in beats of the span an answer is generated and measured over."""
    start = math.floor(answer.start + 1e-9)
    end = math.ceil(answer.start + max((n.end for n in answer.notes), default=0.0) - 1e-9)
    return float(start), float(min(max(1.0, end - start), MAX_ANSWER_BEATS))


def real_on_span(answer: Phrase, start: float, length: float) -> Phrase:
    """The real answer re-placed at `start` with `length`, notes outside the span left out,
    the last ones cut at its end, and one played just ahead of the span starting at it."""
    shift = answer.start - start
    notes = []
    for n in answer.notes:
        s = n.start + shift
        if s < length - 1e-9:
            s0 = max(0.0, s)
            notes.append(Note(s0, n.pitch, max(1e-3, min(n.end + shift, length) - s0), n.velocity))
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


def _played(p: CallAnswer) -> tuple[Phrase, Phrase, tuple[Phrase, ...]]:
    return p.played if p.played is not None else (p.call, p.answer, p.history)


def _compare(answers: list[Phrase], real: list[Phrase], real_feats: np.ndarray, calls: list[Phrase],
             pairs: list[CallAnswer], real_stats: dict) -> dict:
    """Everything said about one generator's answers against the real ones."""
    harmonies = [p.harmony for p in pairs]
    stats = summarize(answers, harmonies, calls)
    stats["interval_hist_js_to_real"] = js_distance(stats["interval_hist"], real_stats["interval_hist"])
    stats["cell_reuse_4"] = dev.cell_reuse(calls, answers, 3)
    stats["cell_reuse_3"] = dev.cell_reuse(calls, answers, 2)
    stats["time"] = dev.time_spread(answers)
    stats["time"].update(dev.spread_distance(stats["time"], real_stats["time"]))
    stats["density"] = dev.density_stats(calls, answers, [p.tempo for p in pairs])
    feats = feature_matrix(answers, harmonies, calls)
    if len(pairs) >= 20:
        rhythm = [NAMES.index(n) for n in RHYTHM]
        stats["classifier_all"] = two_sample_test(real_feats, feats, NAMES).to_dict()
        stats["classifier_rhythm"] = two_sample_test(real_feats[:, rhythm], feats[:, rhythm], RHYTHM).to_dict()
    return stats


def _split_report(corpus, split: str, pairs: list[CallAnswer], model: object | None, baselines, options: EvalOptions,
                  log: Log, train_solos: set[str]) -> dict:
    ngram, chord = baselines
    solos = {p.solo for p in pairs}
    report: dict = {"split": split, "n_solos": len(solos), "n_pairs": len(pairs),
                    "train_solos_evaluated": len(solos & train_solos)}
    log(f"{split}: {len(pairs)} pairs from {len(solos)} solos")
    base_nll, n_notes = _nll(ngram.score_many([(p.call, p.answer) for p in pairs]))
    report["baseline"] = {
        "nll_per_note": base_nll, "n_notes": n_notes, "order": ngram.order,
        "augment_12_keys": bool(ngram.meta.get("augment")), "smoothing": "interpolated modified Kneser-Ney",
        "n_train_pairs": ngram.meta.get("n_train_pairs")}
    chord_nll, _ = _nll(chord.score_many([(p.call, p.answer, p.harmony) for p in pairs]))
    report["chordgram"] = {"nll_per_note": chord_nll, "orders": chord.meta.get("orders"),
                           "n_train_pairs": chord.meta.get("n_train_pairs")}
    if model is not None and not isinstance(model, dict):
        scorer = getattr(model, "score", None)
        if scorer is None or type(model).__name__ == "ModelResponder":
            from improv.train.scoring import score

            scorer = lambda *a, **k: score(model, *a, **k)  # noqa: E731
        log(f"{split}: scoring the real answers with the model")
        m_nll, m_notes = _nll([scorer(p.call, p.answer, p.harmony, history=p.history, tempo=p.tempo) for p in pairs])
        report["model"] = {"nll_per_note": m_nll, "n_notes": m_notes,
                           "path": str(getattr(model, "path", "") or "")}
        for key, other in (("nll_reduction_vs_baseline", base_nll), ("nll_reduction_vs_chordgram", chord_nll)):
            if math.isfinite(m_nll) and math.isfinite(other) and other > 0:
                report["model"][key] = 1.0 - m_nll / other
    elif isinstance(model, dict):
        report["model"] = model

    spans = [answer_span(p.answer) for p in pairs]
    played = [_played(p) for p in pairs]
    calls = [c for c, _, _ in played]
    real = [real_on_span(a, s, n) for (_, a, _), (s, n) in zip(played, spans)]
    harmonies = [p.harmony for p in pairs]
    report["real"] = summarize(real, harmonies, calls)
    report["real"].update({"cell_reuse_4": dev.cell_reuse(calls, real, 3),
                           "cell_reuse_3": dev.cell_reuse(calls, real, 2),
                           "time": dev.time_spread(real),
                           "density": dev.density_stats(calls, real, [p.tempo for p in pairs])})
    if not options.generate:
        return report
    real_feats = feature_matrix(real, harmonies, calls)
    gens = [("baseline_generated", ngram, False), ("chordgram_generated", chord, False)] \
        if options.baselines_generate else []
    if model is not None and not isinstance(model, dict):
        gens.append(("generated", model, True))
    for key, who, plays in gens:
        log(f"{split}: generating {len(pairs)} answers with the {key.replace('_generated', '') or 'model'}")
        out = []
        for i, (p, (s, n), (pc, _, ph)) in enumerate(zip(pairs, spans, played)):
            settings = AnswerSettings(start=s, length=n, seed=options.seed + i, temperature=options.temperature,
                                      top_p=options.top_p, low=LOW, high=HIGH, history=ph if plays else p.history,
                                      tempo=p.tempo)
            out.append(who.answer(pc if plays else p.call, p.harmony, settings))
        report[key] = _compare(out, real, real_feats, calls, pairs, report["real"])
    return report


def evaluate(
    data: str | Path,
    model_path: str | Path | None = None,
    options: EvalOptions = EvalOptions(),
    train_data: str | Path | None = None,
    baseline_path: str | Path | None = None,
    log: Log = print,
    model: object | None = None,
) -> dict:
    """Run the evaluation; returns the report of the split (with "valid" beside "test").

    `model` (a `ModelResponder`, or anything with `score(call, answer, chart, history=(),
    tempo=None) -> (nats, notes)` and `answer(call, chart, settings)`) is evaluated
    instead of loading `model_path` when given.

    Raises:
        DataError: the data (or the baselines' training data) cannot be read, the split
            is unknown, or it holds no pairs.
    """
    data = Path(data)
    if not data.exists():
        raise DataError(f"data {data} not found: give the wjazzd-solos.tar.gz or its unpacked folder")
    train_path = Path(train_data) if train_data else (DEFAULT_TRAIN_DATA if DEFAULT_TRAIN_DATA.exists() else data)
    if not train_path.exists():  # (only a --train-data given can be missing now)
        raise DataError(f"--train-data {train_path} not found: give the wjazzd-solos.tar.gz or its unpacked folder "
                        "the baselines learn from")
    if options.split is not None and options.split not in SPLIT_CHOICES:
        raise DataError(f"--split must be one of {', '.join(SPLIT_CHOICES)}, got {options.split!r}")
    if model is None:
        try:
            from improv.train.export import load_responder

            model = load_responder(model_path)
        except (ImprovError, ImportError) as e:
            if model_path is not None:  # a model asked for by name: before minutes of baselines, not after
                raise DataError(f"--model {model_path}: {e}") from None
            log(f"model not evaluated: {e}")
            model = {"error": str(e)}
    corpus = _load(data)
    baselines = load_or_train_baselines(train_path, Path(baseline_path) if baseline_path else None, log)
    meta = baselines[0].meta
    train_solos = set(meta.get("train_solos", []))
    is_training_archive = bool({s.name for s in corpus.solos} & (train_solos | set(meta.get("valid_solos", []))))
    split = options.split or ("valid" if is_training_archive else "all")
    reports = {}
    for which in (["valid", "test"] if split == "test" else [split]):
        solos = [s for s in corpus.solos if which == "all" or s.split == which]
        pairs = select_pairs([p for s in solos for p in call_answer_pairs(s)], options.limit)
        if not pairs:
            raise DataError(f"{data}: no call/answer pairs in split {which!r} (of {len(corpus.solos)} solos read)")
        reports[which] = _split_report(corpus, which, pairs, model, baselines, options, log, train_solos)
    report = dict(reports[split])
    report.update({"data": str(data), "skipped": dict(corpus.warnings),
                   "options": {"limit": options.limit, "seed": options.seed, "temperature": options.temperature,
                               "top_p": options.top_p}})
    if split == "test":
        report["beside"] = {"valid": reports["valid"]}
    for r in [report, *report.get("beside", {}).values()]:
        r["targets"] = targets(r)
    return report

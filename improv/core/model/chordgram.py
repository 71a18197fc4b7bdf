"""The chord n-gram: a stronger baseline that sees the chords and four notes back.

The 5-gram baseline (`improv.core.model.ngram`) reads about one and a half notes of
tokens and no chords. This one predicts each note of the answer in the phrase model's
four parts, each from a back-off table (`improv.core.model.backoff`) over what a
soloist's next note plausibly depends on, the most telling context first:

- shift (or END): first note of the answer or not, the previous duration, the previous
  shift, the previous onset's place in the beat, then the three shifts before;
- pitch, as its degree above the root of the chord under its onset (12) times the
  choice among the pitches of that degree: the degree from the previous pitch's degree
  above this chord's root, the last interval, the chord's quality, the onset's place in
  the beat, the two intervals before; the pitch among those of its degree by the
  interval from the previous pitch (-24..24 or farther) after the last interval;
- duration: the note's own shift, the previous duration, its onset's place in the beat,
  the duration before;
- velocity: the previous velocity, the pitch's register, the one before, the duration.

How many of those columns each table reads (its order) is chosen on the validation
split, as the 5-gram's order is (`fit`).

The context runs through the call into the answer (as the 5-gram's does). Scores are
NLL per note over the same four parts as the phrase model's (END not counted), so the
three compare one to one; `answer` samples from it (seeded), over the chart it is given.
Without a chord (NC) the degree is taken above the previous pitch.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from improv.core.model.backoff import BackoffTable
from improv.core.model.tokens import (
    MAX_DUR_TICKS, N_DUR, N_SHIFT, N_VEL, TICKS_PER_BEAT, VELOCITIES, NoteToken, lead_ticks, phrase_to_tokens,
)
from improv.core.respond.base import AnswerSettings, fit_answer
from improv.core.theory.chords import QUALITIES, Chord
from improv.core.theory.notes import Note, Phrase
from improv.errors import ModelError

FORMAT = "improv-chordgram-2"  # 2: three more chord qualities (7b5, sus2, 5) move the "no chord" index
END = N_SHIFT  # the shift table's class for "the answer ends here"
NONE = 255  # an unknown context value
FAR = 49  # interval class: farther than two octaves, or no previous pitch
QUALITY_INDEX = {q: i for i, q in enumerate(QUALITIES)}
NC = len(QUALITIES)


def _iv(a: int | None, b: int | None) -> int:
    """Interval class 0..48 (-24..24) or FAR."""
    if a is None or b is None or abs(b - a) > 24:
        return FAR
    return b - a + 24


def _ivc(iv: int | None) -> int:
    """A previous interval as a context value (clipped to an octave either way)."""
    return NONE if iv is None else max(-12, min(12, iv)) + 12


class _Line:
    """The notes so far of one sequence, and the contexts they give the next note."""

    def __init__(self) -> None:
        self.shifts: list[int] = []
        self.pitches: list[int] = []
        self.durs: list[int] = []
        self.vels: list[int] = []
        self.onset_pos: list[int] = []  # place in the beat (ticks) of each onset

    def push(self, e: NoteToken, pos: int) -> None:
        self.shifts.append(e.shift)
        self.pitches.append(e.pitch)
        self.durs.append(e.dur)
        self.vels.append(e.vel)
        self.onset_pos.append(pos)

    def _back(self, xs: list[int], k: int) -> int:
        return xs[-k] if len(xs) >= k else NONE

    def _ivs(self, k: int) -> int:
        p = self.pitches
        return _ivc(p[-k] - p[-k - 1]) if len(p) > k else NONE

    def shift_ctx(self, first: bool) -> list[int]:
        b = self._back
        return [int(first), b(self.durs, 1), b(self.shifts, 1), b(self.onset_pos, 1), b(self.shifts, 2),
                b(self.shifts, 3), b(self.shifts, 4)]

    def degree_ctx(self, chord: Chord | None, pos: int) -> tuple[list[int], int | None]:
        """(context, the root the degree is counted from: the chord's, else the previous pitch's)."""
        last = self.pitches[-1] if self.pitches else None
        root = chord.root if chord is not None else (last % 12 if last is not None else None)
        quality = QUALITY_INDEX.get(chord.quality, NC) if chord is not None else NC
        prev_deg = (last - root) % 12 if last is not None and root is not None else NONE
        return [prev_deg, self._ivs(1), quality, pos % TICKS_PER_BEAT, self._ivs(2), self._ivs(3)], root

    def interval_ctx(self) -> list[int]:
        return [self._ivs(1)]

    def dur_ctx(self, shift: int, pos: int) -> list[int]:
        return [min(shift, 48), self._back(self.durs, 1), pos % TICKS_PER_BEAT, self._back(self.durs, 2)]

    def vel_ctx(self, pitch: int, dur: int) -> list[int]:
        return [self._back(self.vels, 1), pitch // 6, self._back(self.vels, 2), min(dur, 24)]


def _events(call: Phrase, answer: Phrase) -> tuple[list[tuple[NoteToken, int, bool]], int]:
    """(event, absolute onset tick, is an answer note) of the call then the answer; and
    where the answer begins in that list."""
    out = []
    for phrase, is_answer in ((call, False), (answer, True)):
        if not phrase.notes:
            continue
        lead = lead_ticks(phrase.start + phrase.notes[0].start) - round(phrase.notes[0].start * TICKS_PER_BEAT) \
            if not is_answer else lead_ticks(phrase.start)
        t = round(phrase.start * TICKS_PER_BEAT) - lead
        for e in phrase_to_tokens(phrase, lead):
            t += e.shift
            out.append((e, t, is_answer))
    first = next((i for i, x in enumerate(out) if x[2]), len(out))
    return out, first


class ChordGram:
    """The chord n-gram baseline (see the module docstring). Build with `fit`."""

    name = "chordgram"

    def __init__(self) -> None:
        self.shift = BackoffTable(N_SHIFT + 1, 7)
        self.degree = BackoffTable(12, 6)
        self.interval = BackoffTable(FAR + 1, 1)
        self.dur = BackoffTable(N_DUR, 4)
        self.vel = BackoffTable(N_VEL, 4)
        self.meta: dict = {}

    # ------------------------------------------------------------- contexts of a pair

    def _rows(self, call: Phrase, answer: Phrase, harmony) -> dict[str, list]:  # noqa: ANN001 - a Chart
        """Context rows and targets of every answer note (and of the END after it) of a pair."""
        rows: dict[str, list] = {k: [] for k in ("shift", "degree", "interval", "dur", "vel", "cands")}
        events, first = _events(call, answer)
        line = _Line()
        for i, (e, t, is_answer) in enumerate(events):
            pos = t % (4 * TICKS_PER_BEAT)
            if is_answer:
                chord = harmony.chord_at(max(0, t) / TICKS_PER_BEAT) if harmony is not None else None
                rows["shift"].append((line.shift_ctx(i == first), e.shift))
                dctx, root = line.degree_ctx(chord, pos)
                deg = (e.pitch - root) % 12 if root is not None else e.pitch % 12
                rows["degree"].append((dctx, deg))
                last = line.pitches[-1] if line.pitches else None
                rows["interval"].append((line.interval_ctx(), _iv(last, e.pitch)))
                rows["cands"].append((last, deg, root))
                rows["dur"].append((line.dur_ctx(e.shift, pos), e.dur - 1))
                rows["vel"].append((line.vel_ctx(e.pitch, e.dur), e.vel))
            line.push(e, pos)
        if first < len(events):
            rows["shift"].append((line.shift_ctx(False), END))
        return rows

    # ------------------------------------------------------------- training and scoring

    def _gather(self, pairs: Sequence[tuple[Phrase, Phrase, object]]) -> dict[str, list]:
        acc: dict[str, list] = {k: [] for k in ("shift", "degree", "interval", "dur", "vel")}
        for call, answer, harmony in pairs:
            rows = self._rows(call, answer, harmony)
            for k in acc:
                acc[k].extend(rows[k])
        return acc

    def fit(self, pairs: Sequence[tuple[Phrase, Phrase, object]],
            valid: Sequence[tuple[Phrase, Phrase, object]] = ()) -> "ChordGram":
        """Count the answers of (call, answer, harmony) triples, then choose each table's
        order (context columns read) by the NLL of the `valid` triples' notes (all
        columns if none). Degrees, intervals and gaps need no transposition; the velocity
        table's register context is counted a step either way too."""
        acc = self._gather(pairs)
        held = self._gather(valid) if valid else None
        chosen = {}
        for name in ("shift", "degree", "interval", "dur", "vel"):
            table, rows = getattr(self, name), acc[name]
            if name == "vel":  # the register context moves with the key
                rows = [([c[0], max(0, min(21, c[1] + k)), c[2], c[3]], y) for c, y in rows for k in (-1, 0, 1)]
            if not rows:
                continue
            table.fit(np.array([c for c, _ in rows]), np.array([y for _, y in rows]))
            if held and held[name] and name != "interval":
                xs, ys = np.array([c for c, _ in held[name]]), np.array([y for _, y in held[name]])
                nll = {}
                for depth in range(table.m + 1):
                    table.depth = depth
                    nll[depth] = float(-np.log(np.maximum(table.prob(xs, ys), 1e-300)).mean())
                table.depth = min(nll, key=nll.__getitem__)
                chosen[name] = {"depth": table.depth, "valid_nll": nll[table.depth]}
        self.meta = {"n_train_pairs": len(pairs), "n_valid_pairs": len(valid), "orders": chosen}
        return self

    def _pitch_prob(self, ictx: list[int], last: int | None, deg: int, root: int | None, pitch: int) -> float:
        """p(pitch | its degree, the previous pitch): the interval table over the pitches of that degree."""
        rt = root if root is not None else 0
        cands = np.arange((rt + deg) % 12, 128, 12)
        if last is None:
            return 1.0 / len(cands)
        ivs = np.array([_iv(last, int(c)) for c in cands])
        w = self.interval.prob(np.repeat([ictx], len(cands), axis=0), ivs)
        w = np.where(ivs == FAR, w / max(1, int(np.sum(ivs == FAR))), w)  # "far" is shared by the far pitches
        return float(w[list(cands).index(pitch)] / w.sum())

    def score(self, call: Phrase, answer: Phrase, harmony=None, include_end: bool = False  # noqa: ANN001
              ) -> tuple[float, int]:
        """(total NLL in nats of the answer's notes given the call and the chords, notes);
        `include_end`: the END after the last note counts too."""
        if not answer.notes:
            return 0.0, 0
        rows = self._rows(call, answer, harmony)
        total = float(self._parts(rows, answer).sum())
        if include_end:
            c, y = rows["shift"][-1]
            total -= math.log(max(float(self.shift.prob(np.array([c]), np.array([y]))[0]), 1e-300))
        return total, len(answer.notes)

    def score_parts(self, call: Phrase, answer: Phrase, harmony=None) -> np.ndarray:  # noqa: ANN001
        """The NLL (nats) of each of the answer's notes, by part: shape (notes, 4), the
        columns shift, pitch, duration, velocity (`score` is their sum)."""
        if not answer.notes:
            return np.zeros((0, 4))
        return self._parts(self._rows(call, answer, harmony), answer)

    def _parts(self, rows: dict[str, list], answer: Phrase) -> np.ndarray:
        n = len(answer.notes)
        out = np.zeros((n, 4))
        probs = {}
        for name in ("shift", "degree", "dur", "vel"):
            r = rows[name][:n]
            probs[name] = getattr(self, name).prob(np.array([c for c, _ in r]), np.array([y for _, y in r]))
        pitch = [self._pitch_prob(ictx, last, deg, root, e.pitch)
                 for (ictx, _), (last, deg, root), e in zip(rows["interval"], rows["cands"], answer.notes)]
        for j, p in enumerate((probs["shift"], probs["degree"] * np.array(pitch), probs["dur"], probs["vel"])):
            out[:, j] = -np.log(np.maximum(p, 1e-300))
        return out

    def score_many(self, triples: Sequence[tuple[Phrase, Phrase, object]]) -> list[tuple[float, int]]:
        return [self.score(c, a, h) for c, a, h in triples]

    # ------------------------------------------------------------- generation

    def learn(self, call: Phrase, harmony: object, tempo: float | None = None) -> None:
        """The baseline does not learn during a session."""

    def answer(self, call: Phrase, harmony, settings: AnswerSettings) -> Phrase:  # noqa: ANN001
        """Sample an answer note by note (seeded), within the settings' span and range."""
        rng = np.random.default_rng(settings.seed)
        events, _ = _events(call, Phrase())
        line = _Line()
        for e, t, _ in events:
            line.push(e, t % (4 * TICKS_PER_BEAT))
        origin = round(settings.start * TICKS_PER_BEAT) - lead_ticks(settings.start)
        span = int(math.ceil(settings.length * TICKS_PER_BEAT - 1e-6)) + lead_ticks(settings.start)
        onset, out = 0, []
        temp = max(1e-3, settings.temperature)
        for i in range(64):
            p = self.shift.distribution(np.array(line.shift_ctx(i == 0)))
            p[max(0, span - onset):N_SHIFT] = 0.0
            if i == 0:
                p[END] = 0.0
                p[:lead_ticks(settings.start)] = 0.0
            else:
                p[0] = 0.0  # a single line
            shift = _draw(p, rng, temp)
            if shift is None or shift == END:
                break
            onset += shift
            t = origin + onset
            pos = t % (4 * TICKS_PER_BEAT)
            chord = harmony.chord_at(max(0, t) / TICKS_PER_BEAT) if harmony is not None else None
            dctx, root = line.degree_ctx(chord, pos)
            pitch = self._draw_pitch(dctx, root, line, settings, rng, temp)
            dur = (_draw(self.dur.distribution(np.array(line.dur_ctx(shift, pos))), rng, temp) or 0) + 1
            vel = _draw(self.vel.distribution(np.array(line.vel_ctx(pitch, dur))), rng, temp) or 0
            e = NoteToken(shift, pitch, min(dur, MAX_DUR_TICKS), vel)
            line.push(e, pos)
            start = (onset - lead_ticks(settings.start)) / TICKS_PER_BEAT
            out.append(Note(start, pitch, e.dur / TICKS_PER_BEAT, VELOCITIES[vel]))
        return fit_answer(out, settings)

    def _draw_pitch(self, dctx: list[int], root: int | None, line: _Line, settings: AnswerSettings,
                    rng: np.random.Generator, temp: float) -> int:
        pd = self.degree.distribution(np.array(dctx))
        last = line.pitches[-1] if line.pitches else None
        rt = root if root is not None else 0
        w = np.zeros(128)
        pitches = np.arange(128)
        if last is None:
            w[:] = pd[(pitches - rt) % 12]
        else:
            ivs = np.array([_iv(last, int(p)) for p in pitches])
            q = self.interval.prob(np.repeat([line.interval_ctx()], 128, axis=0), ivs)
            for d in range(12):
                sel = (pitches - rt) % 12 == d
                w[sel] = pd[d] * q[sel] / q[sel].sum()
        lo, hi = max(0, settings.low), min(127, settings.high)
        w[:lo] = 0.0
        w[hi + 1:] = 0.0
        got = _draw(w, rng, temp)
        return int(got) if got is not None else (lo + hi) // 2

    # ------------------------------------------------------------- files

    def save(self, path: str | Path) -> Path:
        """Write the tables as a compressed .npz (no pickles)."""
        import json

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"header": np.array(json.dumps({"format": FORMAT, **self.meta}))}
        for name in ("shift", "degree", "interval", "dur", "vel"):
            arrays.update(getattr(self, name).to_arrays(name))
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "ChordGram":
        """Read a model written by `save` (ModelError naming the file if it cannot)."""
        import json

        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            meta = json.loads(str(arrays.pop("header")))
            if meta.get("format") != FORMAT:
                raise ModelError(f"{path} is not an improv chord n-gram (format {meta.get('format')!r})")
            m = cls()
            for name in ("shift", "degree", "interval", "dur", "vel"):
                setattr(m, name, BackoffTable.from_arrays(arrays, name))
        except FileNotFoundError:
            raise ModelError(f"chord n-gram {path} not found") from None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as e:
            raise ModelError(f"chord n-gram {path} is unreadable ({e}); delete it and it will be rebuilt") from None
        m.meta = meta
        return m


def _draw(p: np.ndarray, rng: np.random.Generator, temperature: float) -> int | None:
    total = float(p.sum())
    if not total > 0:
        return None
    q = p / total
    if temperature != 1.0:
        q = np.power(q, 1.0 / temperature)
        q = q / q.sum()
    return int(min(len(q) - 1, np.searchsorted(np.cumsum(q), rng.random() * 1.0, side="right")))

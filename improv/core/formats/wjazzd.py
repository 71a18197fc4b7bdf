"""Read the Weimar Jazz Database solos (MeloSpy CSV export) into `Solo` records, in beats.

The data is `wjazzd-solos.tar.gz` (read in place) or a folder of the same layout:
`solo_info.csv`, `melody/<Solo>_FINAL.csv`, `beats/<Solo>_FINAL_beattrack.csv`.

Each solo gets its own timeline in beats: beat 0 is beat 1 of the solo's first bar
(a pickup bar counts as a bar), bars are 4 beats, and a note's onset is placed exactly
from its bar / beat / tatum / division, quantised to `TICKS_PER_BEAT` ticks a beat.
Durations come from seconds / beat_duration, quantised (at least one tick, at most
`MAX_DUR_TICKS`). Velocity maps the solo's loudness range onto MIDI 30-120, snapped
to the token velocity levels. The chord on every beat comes from the beats file.

Each phrase also comes as played (`Solo.played`): the same notes with their onsets in
beats as performed, placed against the solo's beat track (the note's onset in seconds
between the onsets of its beat and the next), and durations unrounded (seconds / beat
duration), so swing and playing ahead of or behind the beat are kept.

Only 4/4 is read: a solo with less than 90 % of its notes in 4/4 is skipped, and the
odd non-4/4 rows of the rest are dropped; every skip is counted in `Corpus.warnings`.
Splits (train / valid / test, by recording and tune) are `improv.core.formats.splits`'.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from improv.core.theory.chart import Chart, ChordSpan
from improv.core.theory.chords import Chord, parse_chord
from improv.core.theory.notes import Note, Phrase
from improv.core.formats import splits
from improv.core.formats.wjazzd_files import GIVE, DataSource
from improv.core.model.tokens import MAX_DUR_TICKS, MAX_SHIFT_TICKS, TICKS_PER_BEAT, snap_velocity
from improv.errors import ChordError, DataError

BEATS_PER_BAR = 4
MAX_PLAYED_OFFSET = 1.0  # beats: a played onset farther than this from its grid place is a bad row (kept on the grid)


@dataclass(frozen=True)
class Solo:
    """One transcribed solo on its own timeline (beats).

    Attributes:
        name: the solo's id without `_FINAL`, e.g. "ArtPepper_Anthropology".
        performer, title, key, style, instrument, rhythmfeel: from solo_info.csv.
        tempo: average tempo, bpm.
        phrases: the annotated phrases in order; each `Phrase.start` is its first onset
            on the solo timeline (beats), its notes are relative to that.
        chart: the chord on every beat (beat 0 = the solo's first bar); NC -> None.
        played: the same phrases as performed (same notes in the same order, onsets in
            beats against the beat track, durations unrounded); () when not read.
    """

    name: str
    performer: str
    title: str
    tempo: float
    key: str
    style: str
    instrument: str
    rhythmfeel: str
    phrases: tuple[Phrase, ...]
    chart: Chart
    played: tuple[Phrase, ...] = ()

    @property
    def n_notes(self) -> int:
        return sum(len(p) for p in self.phrases)

    @property
    def split(self) -> str:
        """"train", "valid" or "test" (`improv.core.formats.splits`)."""
        return splits.split_of(self.name, self.performer, self.title)


@dataclass(frozen=True)
class CallAnswer:
    """Two consecutive phrases of a solo, both on the solo timeline, and the chords under
    them; `history` holds the solo's phrases before the call (oldest first). `played`:
    (call, answer, history) as performed (`Solo.played`), or None."""

    call: Phrase
    answer: Phrase
    harmony: Chart
    solo: str
    history: tuple[Phrase, ...] = ()
    played: tuple[Phrase, Phrase, tuple[Phrase, ...]] | None = None
    tempo: float = 120.0


@dataclass
class Corpus:
    """What `load_corpus` read: the solos and a count of what it had to skip."""

    solos: list[Solo] = field(default_factory=list)
    warnings: dict[str, int] = field(default_factory=dict)

    def warn(self, what: str, n: int = 1) -> None:
        if n:
            self.warnings[what] = self.warnings.get(what, 0) + n

    def split(self, which: str) -> list[Solo]:
        """The solos of `"train"`, `"valid"` or `"test"`."""
        return [s for s in self.solos if s.split == which]


def solo_name(stem: str) -> str:
    """`"ArtPepper_Anthropology_FINAL"` -> `"ArtPepper_Anthropology"`."""
    for suffix in ("_FINAL_beattrack", "_FINAL"):
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def split_of(name: str) -> str:
    """The split of a solo by its name alone (`improv.core.formats.splits.split_of`)."""
    return splits.split_of(name)


def _run_indices(solo: Solo) -> list[list[int]]:
    runs: list[list[int]] = []
    for i, p in enumerate(solo.phrases):
        if not len(p):
            continue
        if runs and p.start > solo.phrases[runs[-1][-1]].start:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def phrase_runs(solo: Solo, played: bool = False) -> list[list[Phrase]]:
    """The solo's non-empty phrases as runs in which each phrase starts after the one
    before (a phrase that does not breaks the run: it answers nothing before it);
    `played`: the runs of `Solo.played` (the same phrases as performed)."""
    src = solo.played if played and solo.played else solo.phrases
    return [[src[i] for i in run] for run in _run_indices(solo)]


def call_answer_pairs(solo: Solo) -> list[CallAnswer]:
    """Consecutive phrases (call, answer) of a solo, with the solo's chart as harmony, the
    phrases before the call as history, and the same as played."""
    out = []
    has_played = len(solo.played) == len(solo.phrases)
    for run in _run_indices(solo):
        grid = [solo.phrases[i] for i in run]
        perf = [solo.played[i] for i in run] if has_played else []
        for i in range(1, len(run)):
            played = (perf[i - 1], perf[i], tuple(perf[:i - 1])) if has_played else None
            out.append(CallAnswer(grid[i - 1], grid[i], solo.chart, solo.name, tuple(grid[:i - 1]), played,
                                  solo.tempo))
    return out


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _sig(value: str) -> str:
    return value.strip().strip("'\"")


def _float(value: str | None) -> float:
    try:
        x = float(value) if value not in (None, "") else math.nan
    except ValueError:
        return math.nan
    return x


def loudness_to_velocity(loud: list[float]) -> Callable[[float], int]:
    """A solo's note loudness (`loud_median`, dB) to MIDI velocity: its 5th-95th percentile
    spread over 30-120, a note with no loudness at 80."""
    finite = sorted(x for x in loud if math.isfinite(x))
    lo = finite[int(0.05 * (len(finite) - 1))] if finite else 0.0
    hi = finite[int(0.95 * (len(finite) - 1))] if finite else 0.0

    def velocity(x: float) -> int:
        if not math.isfinite(x) or hi <= lo:
            return snap_velocity(80)
        return snap_velocity(int(round(min(120.0, max(30.0, 30 + 90 * (x - lo) / (hi - lo))))))

    return velocity


def load_corpus(path: str | Path) -> Corpus:
    """Read every solo of a WJazzD tar.gz or folder.

    Raises:
        DataError: the path is missing, unreadable, or holds no melody files.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"data {path} not found: give the wjazzd-solos.tar.gz or its unpacked folder")
    src = DataSource(path)
    corpus = Corpus()
    reading = "solo_info.csv"
    try:
        stems = src.melody_stems()
        if not stems:
            raise DataError(f"{path} holds no melody/*.csv files: expected the WJazzD CSV layout (see its README)")
        info_text = src.read("solo_info.csv")
        info = {solo_name(r.get("solo", "")): r for r in _rows(info_text)} if info_text else {}
        # (a solo listed but not there shrank a split without a word: figures no longer compare)
        corpus.warn("solos in solo_info.csv without a melody file (left out)",
                    len(set(info) - {solo_name(stem) for stem in stems} - {""}))
        for stem in stems:
            reading = f"the files of {stem}"
            solo = _read_solo(src, stem, info.get(solo_name(stem), {}), corpus)
            if solo is not None:
                corpus.solos.append(solo)
    except csv.Error as e:  # garbled text (a damaged plain tar, or a damaged file in a folder)
        raise DataError(f"{path}: {reading} cannot be read as CSV ({e}): the data is damaged; download it "
                        f"again, or {GIVE}") from None
    finally:
        src.close()
    return corpus


def load_solos(path: str | Path) -> list[Solo]:
    """The solos of a WJazzD tar.gz or folder (see `load_corpus` for the skip counts)."""
    return load_corpus(path).solos


def iter_pairs(solos: list[Solo], split: str | None = None) -> Iterator[CallAnswer]:
    """All call/answer pairs of the given solos, optionally of one split only."""
    for s in solos:
        if split is None or s.split == split:
            yield from call_answer_pairs(s)


def _chord(sym: str, corpus: Corpus) -> Chord | None:
    try:
        return parse_chord(sym.strip() or "NC", dialect="wjazzd")
    except ChordError:
        corpus.warn("unreadable chord symbols (read as NC)")
        return None


def _read_solo(src: DataSource, stem: str, meta: dict[str, str], corpus: Corpus) -> Solo | None:
    name = solo_name(stem)
    text = src.read(f"melody/{stem}.csv")
    rows = _rows(text) if text else []
    if not rows:
        corpus.warn("solos without notes skipped")
        return None
    n44 = sum(1 for r in rows if _sig(r.get("signature", "")) == "4/4")
    if n44 < 0.9 * len(rows):
        corpus.warn("solos not in 4/4 skipped")
        return None
    btext = src.read(f"beats/{stem}_beattrack.csv")
    brows = [r for r in (_rows(btext) if btext else []) if _sig(r.get("signature", "4/4")) == "4/4"]

    def bar_beat(r: dict[str, str]) -> tuple[int, int] | None:
        try:
            return int(r["bar"]), int(r["beat"])
        except (KeyError, ValueError):
            return None

    good = []
    for r in rows:
        bb = bar_beat(r)
        try:
            ok = (_sig(r.get("signature", "")) == "4/4" and bb is not None and 1 <= bb[1] <= BEATS_PER_BAR
                  and int(r["division"]) >= 1 and 1 <= int(r["tatum"]) <= int(r["division"])
                  and 0 <= int(r["pitch"]) <= 127 and _float(r["duration"]) > 0 and _float(r["beat_duration"]) > 0)
        except (KeyError, ValueError):
            ok = False
        if ok:
            good.append(r)
    corpus.warn("note rows not in 4/4 or unreadable dropped", len(rows) - len(good))
    if not good:
        corpus.warn("solos without readable notes skipped")
        return None
    bars = [bar_beat(r)[0] for r in good] + [bb[0] for bb in map(bar_beat, brows) if bb is not None]
    bar0 = min(bars)

    loud = [_float(r.get("loud_median")) for r in good]
    velocity = loudness_to_velocity(loud)

    beat_onsets: dict[int, float] = {}  # timeline beat -> its onset in seconds (the beat track)
    for r in brows:
        bb, t = bar_beat(r), _float(r.get("onset"))
        if bb is not None and math.isfinite(t):
            beat_onsets[(bb[0] - bar0) * BEATS_PER_BAR + bb[1] - 1] = t

    # phrase id -> [(tick, pitch, dur_ticks, vel, played onset, played duration (beats))]
    phrases: dict[int, list[tuple[int, int, int, int, float, float]]] = {}
    order: list[int] = []
    n_long = n_off = 0
    for r, ld in zip(good, loud):
        bar, beat = bar_beat(r)  # type: ignore[misc]
        div, tatum = int(r["division"]), int(r["tatum"])
        index = (bar - bar0) * BEATS_PER_BAR + beat - 1
        tick = index * TICKS_PER_BEAT + round((tatum - 1) * TICKS_PER_BEAT / div)
        beats = _float(r["duration"]) / _float(r["beat_duration"])
        dur = round(beats * TICKS_PER_BEAT)
        if dur > MAX_DUR_TICKS:
            n_long += 1
        dur = min(MAX_DUR_TICKS, max(1, dur))
        played = _played_onset(index, _float(r.get("onset")), _float(r["beat_duration"]), beat_onsets)
        if played is None or abs(played - tick / TICKS_PER_BEAT) > MAX_PLAYED_OFFSET:
            n_off += played is not None
            played = tick / TICKS_PER_BEAT
        try:
            pid = int(r.get("phrase_id", "0"))
        except ValueError:
            pid = 0
        if pid not in phrases:
            phrases[pid] = []
            order.append(pid)
        played_dur = min(float(MAX_DUR_TICKS), beats * TICKS_PER_BEAT) / TICKS_PER_BEAT
        phrases[pid].append((tick, int(r["pitch"]), dur, velocity(ld), played, played_dur))
    corpus.warn(f"notes longer than {MAX_DUR_TICKS // TICKS_PER_BEAT} beats shortened", n_long)
    corpus.warn(f"played onsets over {MAX_PLAYED_OFFSET:g} beat from their grid place (kept on the grid)", n_off)

    built, played_built = [], []
    for pid in order:
        notes = sorted(set(phrases[pid]))
        seen: set[tuple[int, int]] = set()
        uniq = []
        for note in notes:
            t, p = note[0], note[1]
            if (t, p) in seen:
                corpus.warn("duplicate notes dropped")
                continue
            seen.add((t, p))
            uniq.append(note)
        # a gap longer than a shift token can hold splits the phrase
        groups: list[list[tuple[int, int, int, int, float, float]]] = [[uniq[0]]]
        for prev, cur in zip(uniq, uniq[1:]):
            if cur[0] - prev[0] > MAX_SHIFT_TICKS:
                corpus.warn(f"phrases split at a gap over {MAX_SHIFT_TICKS // TICKS_PER_BEAT} beats")
                groups.append([])
            groups[-1].append(cur)
        for g in groups:
            t0 = g[0][0]
            built.append(Phrase.of(
                [Note((t - t0) / TICKS_PER_BEAT, p, d / TICKS_PER_BEAT, v) for t, p, d, v, _, _ in g],
                start=t0 / TICKS_PER_BEAT,
            ))
            played_built.append(_played_phrase(g))
    order_of = sorted(range(len(built)), key=lambda i: built[i].start)
    built = [built[i] for i in order_of]
    played_built = [played_built[i] for i in order_of]

    # chord per beat; the chart covers at least the notes' span
    last_beat = max(p.end for p in built)
    n_beats = int(math.ceil(last_beat)) + BEATS_PER_BAR
    per_beat: list[Chord | None] = [None] * n_beats
    for r in brows:
        bb = bar_beat(r)
        if bb is None:
            continue
        i = (bb[0] - bar0) * BEATS_PER_BAR + bb[1] - 1
        if 0 <= i < n_beats and 1 <= bb[1] <= BEATS_PER_BAR:
            per_beat[i] = _chord(r.get("chord", "NC"), corpus)
    if not brows:  # no beat track: fall back to the chord on the notes
        corpus.warn("solos without a beat track (chords read from the notes)")
        for r in good:
            bar, beat = bar_beat(r)  # type: ignore[misc]
            per_beat[min(n_beats - 1, (bar - bar0) * BEATS_PER_BAR + beat - 1)] = _chord(r.get("chord", "NC"), corpus)
    spans: list[ChordSpan] = []
    for i, c in enumerate(per_beat):
        if spans and spans[-1].chord == c:
            prev = spans.pop()
            spans.append(ChordSpan(prev.start, prev.duration + 1.0, c))
        else:
            spans.append(ChordSpan(float(i), 1.0, c))
    title = meta.get("title", "")
    tempo = _float(meta.get("avgtempo"))
    chart = Chart(tuple(spans), BEATS_PER_BAR, title, tempo if math.isfinite(tempo) else None)
    return Solo(
        name=name,
        performer=meta.get("performer", ""),
        title=title,
        tempo=tempo if math.isfinite(tempo) else 120.0,
        key=meta.get("key", ""),
        style=meta.get("style", ""),
        instrument=meta.get("instrument", ""),
        rhythmfeel=meta.get("rhythmfeel", ""),
        phrases=tuple(built),
        chart=chart,
        played=tuple(played_built),
    )


def _played_onset(index: int, onset: float, beat_duration: float, beat_onsets: dict[int, float]) -> float | None:
    """A note's onset (seconds) as a timeline position in beats: its beat's index plus how
    far into that beat it sounds, measured between the beat track's onsets of the beat and
    the next (or with the row's beat duration at the track's end); None without its beat."""
    b0 = beat_onsets.get(index)
    if b0 is None or not math.isfinite(onset):
        return None
    b1 = beat_onsets.get(index + 1)
    span = b1 - b0 if b1 is not None and b1 > b0 else beat_duration
    return index + (onset - b0) / span if span > 0 else None


def _played_phrase(notes: list[tuple[int, int, int, int, float, float]]) -> Phrase:
    """The played twin of a phrase built from `notes` (grid order kept: a played onset
    before the previous note's is moved up to it, so the phrase stays sorted)."""
    onsets: list[float] = []
    for n in notes:
        onsets.append(max(n[4], onsets[-1]) if onsets else n[4])
    start = onsets[0]
    out = tuple(Note(o - start, p, max(1e-3, pd), v) for o, (_, p, _, v, _, pd) in zip(onsets, notes))
    return Phrase(out, start, max(n.end for n in out))

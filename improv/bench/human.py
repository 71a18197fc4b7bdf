"""Human playing for tests and benchmarks: WJazzD phrases as the soloists really played them.

The project's reader (`improv.core.formats.wjazzd`) places every note on a grid of beats;
here the same notes keep their recorded onsets and durations in seconds, at the soloist's
own tempo, with the solo's beat track (the annotated time of every beat) beside them. A
`HumanPhrase` turns into timed note-on / note-off events (`events`) that a test can play
over a MIDI port or feed straight to the tempo follower, and its `track` says where the
soloist's beats really were.

`PlayedNote.beat` is the note's place on the reader's solo timeline (beat 0 = the first
bar, on the same 12-per-beat grid), so a grid `Phrase` of `load_corpus` maps back to the
played notes (`HumanSolo.played`). `drifted` bends a solo's time so that its tempo moves
smoothly by a given factor over a stretch of beats (an accelerando or a ritardando).
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Iterable

from improv.core.formats.wjazzd_files import DataSource
from improv.core.formats.wjazzd import (BEATS_PER_BAR, _float, _rows, _sig, loudness_to_velocity,
                                        solo_name, split_of)
from improv.core.model.tokens import TICKS_PER_BEAT
from improv.core.theory.notes import Phrase
from improv.errors import DataError

SLOW, MEDIUM, FAST = (60.0, 100.0), (120.0, 190.0), (200.0, 300.0)  # tempo bands (bpm) of the tests
BANDS = {"slow": SLOW, "medium": MEDIUM, "fast": FAST}


@dataclass(frozen=True, slots=True)
class PlayedNote:
    """One note as recorded.

    Attributes:
        onset: seconds on the recording's clock.
        duration: seconds (> 0).
        pitch: MIDI note number.
        velocity: MIDI velocity (the solo's loudness range mapped onto 30-120, as the reader does).
        beat: the note's grid position on the solo timeline, in beats (the reader's).
    """

    onset: float
    duration: float
    pitch: int
    velocity: int
    beat: float

    @property
    def end(self) -> float:
        """Release time, seconds."""
        return self.onset + self.duration


@dataclass(frozen=True, slots=True)
class TimedEvent:
    """A MIDI note event at a time: `kind` is "on" or "off" (seconds, the phrase's clock)."""

    time: float
    kind: str
    pitch: int
    velocity: int


class BeatTrack:
    """A solo's annotated beats: solo-timeline beat numbers and their times (seconds).

    Between annotated beats time is linear; before the first and after the last it goes
    on at the nearest annotated beat's period. `beat_at` and `time_of` are inverses.

    Args:
        beats: beat numbers on the solo timeline, increasing (usually 0, 1, 2, ...).
        times: their times, seconds, increasing.
    """

    def __init__(self, beats: Iterable[float], times: Iterable[float]) -> None:
        pairs = sorted(zip(beats, times))
        b = [float(x) for x, _ in pairs]
        t = [float(y) for _, y in pairs]
        if len(b) < 2 or any(t2 <= t1 for t1, t2 in zip(t, t[1:])) or any(b2 <= b1 for b1, b2 in zip(b, b[1:])):
            raise DataError("a beat track needs at least two beats, their times increasing")
        self.beats, self.times = tuple(b), tuple(t)

    def __len__(self) -> int:
        return len(self.beats)

    def time_of(self, beat: float) -> float:
        """Seconds of solo-timeline `beat`. Inverse: `beat_at`."""
        b, t = self.beats, self.times
        i = min(max(bisect_right(b, beat) - 1, 0), len(b) - 2)
        return t[i] + (beat - b[i]) * (t[i + 1] - t[i]) / (b[i + 1] - b[i])

    def beat_at(self, time: float) -> float:
        """Solo-timeline beat at `time` seconds. Inverse: `time_of`."""
        b, t = self.beats, self.times
        i = min(max(bisect_right(t, time) - 1, 0), len(t) - 2)
        return b[i] + (time - t[i]) * (b[i + 1] - b[i]) / (t[i + 1] - t[i])

    def period_at(self, time: float, span: int = 4) -> float:
        """The local beat period (seconds) around `time`: the median over `span` beats each side."""
        i = min(max(bisect_right(self.times, time) - 1, 0), len(self.times) - 2)
        lo, hi = max(0, i - span), min(len(self.times) - 1, i + span + 1)
        return median((self.times[k + 1] - self.times[k]) / (self.beats[k + 1] - self.beats[k]) for k in range(lo, hi))

    def tempo_at(self, time: float, span: int = 4) -> float:
        """The local tempo (bpm) around `time` (see `period_at`)."""
        return 60.0 / self.period_at(time, span)

    def beats_between(self, start: float, end: float) -> list[float]:
        """The annotated beat times (seconds) in [start, end]."""
        return [t for t in self.times if start - 1e-9 <= t <= end + 1e-9]


@dataclass(frozen=True)
class HumanPhrase:
    """A phrase as played, with the beat track of its solo.

    Attributes:
        solo: the solo's name.
        notes: the notes in onset order (seconds on the recording's clock).
        track: the solo's beat track (the same clock).
        grid: the transcription's phrase in beats, when the phrase came from one.
    """

    solo: str
    notes: tuple[PlayedNote, ...]
    track: BeatTrack
    grid: Phrase | None = None

    @property
    def start(self) -> float:
        """First onset, seconds."""
        return self.notes[0].onset

    @property
    def end(self) -> float:
        """Last release, seconds."""
        return max(n.end for n in self.notes)

    @property
    def tempo(self) -> float:
        """The soloist's local tempo over the phrase (bpm, from the beat track)."""
        return self.track.tempo_at(0.5 * (self.start + self.end), span=max(2, int(self.beats_long / 2) + 1))

    @property
    def beats_long(self) -> float:
        """The phrase's span in the soloist's beats."""
        return self.track.beat_at(self.end) - self.track.beat_at(self.start)

    def events(self, offset: float = 0.0) -> list[TimedEvent]:
        """Note-on and note-off events in time order, shifted by `offset` seconds (a note-off
        before a note-on at the same instant, so a re-struck pitch is released first). A
        note re-struck before its release is cut there."""
        out: list[TimedEvent] = []
        ends: dict[int, float] = {}
        for i, n in enumerate(self.notes):
            end = n.end
            later = next((m.onset for m in self.notes[i + 1:] if m.pitch == n.pitch), math.inf)
            end = max(n.onset + 1e-3, min(end, later))
            ends[i] = end
            out.append(TimedEvent(n.onset + offset, "on", n.pitch, n.velocity))
            out.append(TimedEvent(end + offset, "off", n.pitch, 0))
        out.sort(key=lambda e: (e.time, e.kind == "on"))
        return out


@dataclass(frozen=True)
class HumanSolo:
    """One solo as played.

    Attributes:
        name: the solo's name (without `_FINAL`).
        tempo: the average tempo from solo_info.csv (bpm).
        phrases: the annotated phrases as played, in order.
        track: the beat track.
    """

    name: str
    tempo: float
    phrases: tuple[HumanPhrase, ...]
    track: BeatTrack

    @property
    def split(self) -> str:
        return split_of(self.name)

    def played(self, phrase: Phrase) -> HumanPhrase:
        """The played notes of a grid phrase of the same solo (from `load_corpus`).

        Raises:
            DataError: a note of the phrase is not among this solo's notes.
        """
        index = {(round(n.beat * TICKS_PER_BEAT), n.pitch): n for p in self.phrases for n in p.notes}
        notes = []
        for n in phrase.absolute():
            key = (round(n.start * TICKS_PER_BEAT), n.pitch)
            if key not in index:
                raise DataError(f"{self.name}: no played note at beat {n.start:g}, pitch {n.pitch}")
            notes.append(index[key])
        notes.sort(key=lambda n: (n.onset, n.pitch))
        return HumanPhrase(self.name, tuple(notes), self.track, phrase)

    def notes_between(self, start: float, end: float) -> tuple[PlayedNote, ...]:
        """Every note with its onset in [start, end) seconds, in onset order."""
        return tuple(n for p in self.phrases for n in p.notes if start <= n.onset < end)


def load_human(path: str | Path, split: str | None = None) -> list[HumanSolo]:
    """Read the solos of a WJazzD tar.gz or folder as played (seconds), 4/4 solos with a beat track.

    Args:
        path: the wjazzd-solos.tar.gz or its unpacked folder.
        split: "train" or "valid" for one split only (`improv.core.formats.wjazzd.split_of`).

    Raises:
        DataError: the path is missing or holds no melody files.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"data {path} not found: give the wjazzd-solos.tar.gz or its unpacked folder")
    src = DataSource(path)
    try:
        stems = src.melody_stems()
        if not stems:
            raise DataError(f"{path} holds no melody/*.csv files: expected the WJazzD CSV layout")
        info_text = src.read("solo_info.csv")
        info = {solo_name(r.get("solo", "")): r for r in _rows(info_text)} if info_text else {}
        out = []
        for stem in stems:
            if split is not None and split_of(stem) != split:
                continue
            solo = _read(src, stem, info.get(solo_name(stem), {}))
            if solo is not None:
                out.append(solo)
        return out
    finally:
        src.close()


def _bar_beat(r: dict[str, str]) -> tuple[int, int] | None:
    try:
        return int(r["bar"]), int(r["beat"])
    except (KeyError, ValueError):
        return None


def _read(src: DataSource, stem: str, meta: dict[str, str]) -> HumanSolo | None:
    """One solo, placed on the reader's timeline; None when not 4/4 or without a beat track."""
    text = src.read(f"melody/{stem}.csv")
    rows = _rows(text) if text else []
    btext = src.read(f"beats/{stem}_beattrack.csv")
    brows = [r for r in (_rows(btext) if btext else []) if _sig(r.get("signature", "4/4")) == "4/4"]
    if not rows or sum(_sig(r.get("signature", "")) == "4/4" for r in rows) < 0.9 * len(rows) or len(brows) < 2:
        return None
    good = []
    for r in rows:  # the reader's own test of a usable row, so that the timelines agree
        bb = _bar_beat(r)
        try:
            ok = (_sig(r.get("signature", "")) == "4/4" and bb is not None and 1 <= bb[1] <= BEATS_PER_BAR
                  and int(r["division"]) >= 1 and 1 <= int(r["tatum"]) <= int(r["division"])
                  and 0 <= int(r["pitch"]) <= 127 and _float(r["duration"]) > 0 and _float(r["beat_duration"]) > 0
                  and math.isfinite(_float(r["onset"])))
        except (KeyError, ValueError):
            ok = False
        if ok:
            good.append(r)
    if not good:
        return None
    beat_rows = [(bb, _float(r.get("onset"))) for r in brows if (bb := _bar_beat(r)) is not None]
    bar0 = min([_bar_beat(r)[0] for r in good] + [bb[0] for bb, _ in beat_rows])  # type: ignore[index]
    beats: dict[float, float] = {}
    for (bar, beat), t in beat_rows:
        if math.isfinite(t) and 1 <= beat <= BEATS_PER_BAR:
            beats.setdefault(float((bar - bar0) * BEATS_PER_BAR + beat - 1), t)
    pairs = sorted(beats.items())
    pairs = [p for i, p in enumerate(pairs) if i == 0 or p[1] > pairs[i - 1][1]]  # drop any non-increasing time
    if len(pairs) < 2:
        return None
    track = BeatTrack([b for b, _ in pairs], [t for _, t in pairs])

    loud = [_float(r.get("loud_median")) for r in good]
    velocity = loudness_to_velocity(loud)

    by_phrase: dict[int, list[PlayedNote]] = {}
    for r, ld in zip(good, loud):
        bar, beat = _bar_beat(r)  # type: ignore[misc]
        div, tatum = int(r["division"]), int(r["tatum"])
        tick = ((bar - bar0) * BEATS_PER_BAR + beat - 1) * TICKS_PER_BEAT + round((tatum - 1) * TICKS_PER_BEAT / div)
        try:
            pid = int(r.get("phrase_id", "0"))
        except ValueError:
            pid = 0
        by_phrase.setdefault(pid, []).append(PlayedNote(
            _float(r["onset"]), _float(r["duration"]), int(r["pitch"]), velocity(ld), tick / TICKS_PER_BEAT))
    phrases = []
    for notes in by_phrase.values():
        notes.sort(key=lambda n: (n.onset, n.pitch))
        phrases.append(HumanPhrase(solo_name(stem), tuple(notes), track))
    phrases.sort(key=lambda p: p.start)
    tempo = _float(meta.get("avgtempo"))
    return HumanSolo(solo_name(stem), tempo if math.isfinite(tempo) else track.tempo_at(track.times[0]),
                     tuple(phrases), track)


def pick_phrases(solos: list[HumanSolo], band: tuple[float, float], count: int, seed: int = 0,
                 min_notes: int = 8, min_beats: float = 4.0) -> list[HumanPhrase]:
    """Up to `count` phrases whose local tempo is in `band` (bpm), sampled with `seed`.

    Args:
        solos: from `load_human`.
        band: (lowest, highest) local tempo, bpm.
        count: how many phrases at most.
        seed: the sample's seed (the same seed gives the same phrases).
        min_notes: a phrase needs this many notes (a shorter one says little about a tempo).
        min_beats: and must last this many of the soloist's beats.
    """
    pool = [p for s in solos for p in s.phrases
            if len(p.notes) >= min_notes and p.beats_long >= min_beats and band[0] <= p.tempo <= band[1]]
    random.Random(seed).shuffle(pool)
    return pool[:count]


def drifted(solo: HumanSolo, start: float, beats: float, factor: float) -> HumanSolo:
    """The solo with its tempo bent smoothly from `start` (seconds) on: over the next `beats`
    of the soloist's beats the tempo goes from as played to `factor` times it (1.05: 5 %
    faster), then stays there. Notes keep their place between the beats."""
    if factor <= 0 or beats <= 0:
        raise ValueError(f"factor and beats must be > 0, got {factor} and {beats}")
    track = solo.track
    b0 = track.beat_at(start)
    new_times = [track.times[0]]
    for i in range(1, len(track)):
        mid = 0.5 * (track.beats[i - 1] + track.beats[i])
        f = 1.0 + (factor - 1.0) * min(1.0, max(0.0, (mid - b0) / beats))
        new_times.append(new_times[-1] + (track.times[i] - track.times[i - 1]) / f)
    bent = BeatTrack(track.beats, new_times)

    def move(t: float) -> float:
        return bent.time_of(track.beat_at(t))

    def note(n: PlayedNote) -> PlayedNote:
        on = move(n.onset)
        return PlayedNote(on, max(1e-3, move(n.end) - on), n.pitch, n.velocity, n.beat)

    phrases = tuple(HumanPhrase(p.solo, tuple(note(n) for n in p.notes), bent, p.grid) for p in solo.phrases)
    return HumanSolo(solo.name, solo.tempo, phrases, bent)

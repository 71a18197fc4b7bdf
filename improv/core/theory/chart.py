"""Chord charts: bars of chords on the session timeline, read from a string or a tune file.

A chart loops: `chord_at(beat)` for any beat >= 0 gives the chord sounding there (beat 0
is beat 1 of bar 1). `"Dm7 G7 | Cmaj7 | %"` is three bars: chords split a bar's beats
evenly (three chords in 4/4 take 2 + 1 + 1 beats), `%` repeats the previous bar.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field
from pathlib import Path

from improv.core.theory.chords import Chord, parse_chord
from improv.core.theory.metre import metre_beats
from improv.errors import ChordError, ConfigError


@dataclass(frozen=True, slots=True)
class ChordSpan:
    """A chord sounding from `start` for `duration` beats (timeline beats, first chorus)."""

    start: float
    duration: float
    chord: Chord | None

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True)
class Chart:
    """A looping chord chart.

    Attributes:
        spans: the chord spans of one pass through the form, in order, covering
            [0, length) without gaps.
        beats_per_bar: metre (4 for 4/4).
        title: the tune's title, or "".
        tempo: suggested tempo (bpm), or None.
        sections: (first bar, name) for each section of the form, e.g. ((0, "A"), (8, "A")).
        overlay: chords laid over stretches of the session timeline (absolute beats, sorted,
            not overlapping, not looped): a substitute sounds over one answer only, and the
            chart stays equal to itself everywhere else (`with_overlay`, `before`).
    """

    spans: tuple[ChordSpan, ...]
    beats_per_bar: int = 4
    title: str = ""
    tempo: float | None = None
    sections: tuple[tuple[int, str], ...] = ()
    overlay: tuple[ChordSpan, ...] = ()
    _starts: tuple[float, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.spans:
            raise ChordError("a chart needs at least one bar")
        object.__setattr__(self, "_starts", tuple(s.start for s in self.spans))

    def with_overlay(self, start: float, end: float, chord: Chord | None) -> "Chart":
        """This chart with `chord` sounding over timeline beats [start, end) only (this
        stretch of this chorus, not every chorus); earlier overlays it covers are cut."""
        kept: list[ChordSpan] = []
        for o in self.overlay:
            if o.start < start - 1e-9:
                kept.append(ChordSpan(o.start, min(o.end, start) - o.start, o.chord))
            if o.end > end + 1e-9:
                st = max(o.start, end)
                kept.append(ChordSpan(st, o.end - st, o.chord))
        kept.append(ChordSpan(start, end - start, chord))
        return Chart(self.spans, self.beats_per_bar, self.title, self.tempo, self.sections,
                     tuple(sorted(kept, key=lambda o: o.start)))

    def before(self, beat: float) -> "Chart":
        """The chart as it sounds before timeline `beat`: without the overlays that start at
        or after it (so two charts that differ only later compare equal; caches use this)."""
        if all(o.start < beat - 1e-9 for o in self.overlay):
            return self
        return Chart(self.spans, self.beats_per_bar, self.title, self.tempo, self.sections,
                     tuple(o for o in self.overlay if o.start < beat - 1e-9))

    def _overlay_at(self, beat: float) -> ChordSpan | None:
        for o in self.overlay:
            if o.start - 1e-9 <= beat < o.end - 1e-9:
                return o
        return None

    @property
    def length(self) -> float:
        """One pass through the form, in beats."""
        return self.spans[-1].end

    @property
    def bars(self) -> int:
        return int(round(self.length / self.beats_per_bar))

    def span_at(self, beat: float) -> ChordSpan:
        """The chord span sounding at timeline `beat` (looped into the first chorus)."""
        from bisect import bisect_right

        if self.overlay:
            o = self._overlay_at(beat)
            if o is not None:
                off = (beat // self.length) * self.length if beat >= 0 else 0.0
                return ChordSpan(o.start - off, o.duration, o.chord)
        b = beat % self.length if beat >= 0 else 0.0
        i = max(0, bisect_right(self._starts, b + 1e-9) - 1)
        span = self.spans[i]
        if not self.overlay:
            return span
        # around an overlay the tune's chord sounds up to where it begins and from where it
        # ends (as `changes_between` says): a bass walking to the next change walks to it
        off = (beat // self.length) * self.length if beat >= 0 else 0.0
        start, end = span.start + off, span.end + off
        for o in self.overlay:
            if beat + 1e-9 < o.start < end:
                end = o.start
            if start < o.end <= beat + 1e-9:
                start = o.end
        if (start, end) == (span.start + off, span.end + off):
            return span
        return ChordSpan(start - off, end - start, span.chord)

    def chord_at(self, beat: float) -> Chord | None:
        """The chord sounding at timeline `beat` (None for no chord)."""
        return self.span_at(beat).chord

    def section_at(self, beat: float) -> str:
        """The name of the form section at timeline `beat`, or "" if the chart has none."""
        bar = int((beat % self.length) // self.beats_per_bar)
        name = ""
        for first, sec in self.sections:
            if first <= bar:
                name = sec
        return name

    def changes_between(self, start: float, end: float) -> list[ChordSpan]:
        """Chord spans overlapping timeline beats [start, end), with timeline positions."""
        out: list[ChordSpan] = []
        t = start
        while t < end - 1e-9:
            span = self.span_at(t)
            chorus_offset = (t // self.length) * self.length if t >= 0 else 0.0
            s_end = min(end, span.end + chorus_offset)
            for o in self.overlay:  # a base span stops where an overlay begins
                if t + 1e-9 < o.start < s_end:
                    s_end = o.start
                    break
            out.append(ChordSpan(t, s_end - t, span.chord))
            t = s_end
        return out

    def transpose(self, semitones: int) -> "Chart":
        spans = tuple(
            ChordSpan(s.start, s.duration, s.chord.transpose(semitones) if s.chord else None)
            for s in self.spans
        )
        overlay = tuple(ChordSpan(o.start, o.duration, o.chord.transpose(semitones) if o.chord else None)
                        for o in self.overlay)
        return Chart(spans, self.beats_per_bar, self.title, self.tempo, self.sections, overlay)

    def to_text(self) -> str:
        """The chart as a string that `parse_chart` reads back to an equal chart."""
        bpb = self.beats_per_bar
        cells = []
        for bar in range(self.bars):
            spans = self.changes_between(bar * bpb, (bar + 1) * bpb)
            beats = [s.duration for s in spans]
            # a bar not split evenly ("Dm7 / / G7": 3 + 1) keeps its beat slashes, or it reads back 2 + 2
            slashes = beats != split_bar(len(spans), bpb) and all(abs(b - round(b)) < 1e-9 for b in beats)
            cells.append(" ".join((str(s.chord) if s.chord else "NC") + " /" * (round(b) - 1 if slashes else 0)
                                  for s, b in zip(spans, beats)))
        return " | ".join(cells)


def split_bar(n_chords: int, beats_per_bar: int) -> list[float]:
    """Durations (beats) of n chords sharing a bar: whole beats, as even as they go, the
    earlier chords taking the beat left over (3 chords in 4/4: 2 + 1 + 1; 2 in 5/4: 3 + 2;
    2 in 3/4: 2 + 1); more chords than beats share the bar exactly."""
    if n_chords <= 0:
        return []
    if n_chords > beats_per_bar:
        return [beats_per_bar / n_chords] * n_chords
    base, extra = divmod(beats_per_bar, n_chords)
    return [float(base + 1)] * extra + [float(base)] * (n_chords - extra)


def parse_bars(text: str, beats_per_bar: int = 4, first_bar: int = 0,
               section: bool = False) -> list[list[Chord | None]]:
    """`"Dm7 G7 | Cmaj7 | %"` -> a list of bars, each a list of chords, as they are played.

    A bar's chords share it in whole beats (`split_bar`); a `/` is a beat slash, the chord before it going on
    (`"Dm7 / G7 /"` = `"Dm7 G7"`, `"Dm7 G7 / /"` gives G7 three beats). Repeat signs are
    played: `|: ... :|` twice (a `:|` with no `|:` from the start, or from the last `:|`),
    with first and second endings marked `1.` and `2.` at their first bar
    (`"|: Dm7 | G7 |1. Em7 A7 :|2. Cmaj7 |"` is Dm7 G7 Em7-A7 Dm7 G7 Cmaj7). A repeat around
    the whole chart is one chorus (the chart loops anyway), but around a whole `section`
    of a tune's form it is that section twice.

    Raises:
        ChordError: naming the symbol and its bar (1-based, as played) when a chord cannot
            be read, or a bar with more chords (and slashes) than beats.
    """
    bars: list[list[Chord | None]] = []
    # cells and the bar lines between them: "|", "||", "|:", ":|", ":||:", ... (a newline is one too)
    parts = re.split(r"(:?\|+:?)", text.replace("\n", "|"))
    items = [(parts[i].strip(), parts[i + 1] if i + 1 < len(parts) else "") for i in range(0, len(parts), 2)]
    while items and not items[0][0]:  # (a |: before the first bar: a repeat from the start, as with none)
        items.pop(0)
    while items and not items[-1][0]:
        items.pop()
    repeat_from = 0  # the bar a :| goes back to
    ending: int | None = None  # the bar the first ending starts at, until its :|
    second = False  # a first ending's :| came: a 2. may follow
    for k, (cell, line) in enumerate(items):
        bar_no = first_bar + len(bars) + 1
        if not cell and line.endswith(":") and not line.startswith(":"):
            repeat_from, ending, second = len(bars), None, False  # ":| |:" written apart
            continue
        if not cell:
            raise ChordError(f"bar {bar_no} is empty: put a chord, NC or % between the bars")
        mark = re.match(r"([1-9])\.\s*", cell)
        if mark:
            n = mark.group(1)
            if n == "1":
                ending, second = len(bars), False
            elif ending is not None:
                raise ChordError(f"bar {bar_no}: a {n}. ending, but the 1. ending before it has no :| : end the first "
                                 f"ending with :| (e.g. \"|: Dm7 | G7 |1. Em7 A7 :|2. Cmaj7\")")
            elif not second:
                raise ChordError(f"bar {bar_no}: a {n}. ending with no 1. ending before it: mark the first ending's "
                                 f"first bar 1. (e.g. \"|: Dm7 | G7 |1. Em7 A7 :|2. Cmaj7\")")
            cell = cell[mark.end():].strip()
            if not cell:
                raise ChordError(f"bar {bar_no} has an ending mark {n}. but no chord: put a chord, NC or % after it")
        if cell == "%":
            if not bars:
                raise ChordError(f"bar {bar_no}: % repeats the previous bar, but there is none")
            bars.append(list(bars[-1]))
        else:
            chords: list[Chord | None] = []
            for sym in cell.split():
                if sym == "/":
                    before = chords or (bars[-1] if bars else [])
                    if not before:
                        raise ChordError(f"bar {bar_no}: a / carries on the chord before it, but there is none")
                    chords.append(before[-1])
                    continue
                try:
                    chords.append(parse_chord(sym))
                except ChordError as e:
                    raise ChordError(f"bar {bar_no}: {e}") from None
            if len(chords) > beats_per_bar:  # chords share a bar in whole beats: one needs a beat at least
                raise ChordError(f"bar {bar_no} has {len(chords)} chords for {beats_per_bar} beats: {cell!r}; "
                                 f"give each chord a beat at least (at most {beats_per_bar} chords and / a bar)")
            bars.append(chords)
        if line.startswith(":"):  # :| : the bars from the repeat's start again, up to its first ending
            whole = repeat_from == 0 and ending is None and k == len(items) - 1 and not section
            if not whole:  # (around a whole chart: one chorus, which loops anyway)
                bars.extend([list(b) for b in bars[repeat_from:len(bars) if ending is None else ending]])
            second = ending is not None
            repeat_from, ending = len(bars), None
        if line.endswith(":"):  # |: (or :|: , ending one repeat and starting the next)
            repeat_from, ending, second = len(bars), None, False
    if ending is not None:
        raise ChordError(f"bar {first_bar + ending + 1}: a 1. ending with no :| after it: end the first ending "
                         f"with :| (e.g. \"|: Dm7 | G7 |1. Em7 A7 :|2. Cmaj7\")")
    if not bars:
        raise ChordError(f"no bars in chart {text!r}: write chords with bars split by |, e.g. \"Dm7 G7 | Cmaj7\"")
    return bars


def chart_from_bars(
    bars: list[list[Chord | None]],
    beats_per_bar: int = 4,
    title: str = "",
    tempo: float | None = None,
    sections: tuple[tuple[int, str], ...] = (),
) -> Chart:
    spans: list[ChordSpan] = []
    for i, bar in enumerate(bars):
        t = float(i * beats_per_bar)
        for chord, dur in zip(bar, split_bar(len(bar), beats_per_bar)):
            if spans and spans[-1].chord == chord and abs(spans[-1].end - t) < 1e-9:
                prev = spans.pop()  # a chord held over the barline is one span
                spans.append(ChordSpan(prev.start, prev.duration + dur, chord))
            else:
                spans.append(ChordSpan(t, dur, chord))
            t += dur
    return Chart(tuple(spans), beats_per_bar, title, tempo, sections)


def parse_chart(text: str, beats_per_bar: int = 4) -> Chart:
    """Read a chart string such as `"Dm7 G7 | Cmaj7 | %"`."""
    return chart_from_bars(parse_bars(text, beats_per_bar), beats_per_bar)


def single_chord_chart(chord: Chord | None, beats_per_bar: int = 4) -> Chart:
    """A one-bar chart that holds one chord (used for live-inferred harmony)."""
    return Chart((ChordSpan(0.0, float(beats_per_bar), chord),), beats_per_bar)


def load_tune(path: str | Path) -> Chart:
    """Read a tune file (TOML).

    The file has `title`, optional `tempo` and `beats_per_bar`, and either `bars = "..."`
    or `[sections]` with one chart string per section plus `form = ["A", "A", "B", "A"]`.
    `beats_per_bar` counts quarter notes, as `--time` does (`improv.core.theory.metre`): 2 is
    2/4, a time signature in quotes ("3/4") reads too, and a cut-time tune is 4 with its
    tempo in quarters ("2/2" is refused saying so).

    Raises:
        ConfigError: the file is missing, is not TOML, or lacks bars.
        ChordError: a chord cannot be read (names the section and bar).
    """
    from improv.core.tomlfile import read_toml

    data = read_toml(path, "tune file", "give a path to a .toml tune (see `improv tunes`)")
    return tune_from_dict(data, str(path))


_TUNE_KEYS = {"title", "tempo", "beats_per_bar", "bars", "sections", "form", "key", "style", "composer", "source"}


def tune_from_dict(data: dict, where: str = "tune") -> Chart:
    """A tune file's table -> a chart, every value checked (ranges from `improv.core.limits`).

    Raises:
        ConfigError: an unknown key, or a value of the wrong type or out of range.
        ChordError: a chord that cannot be read.
    """
    from improv.core import limits

    unknown = set(data) - _TUNE_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}; tune files take {sorted(_TUNE_KEYS)}")
    bpb = data.get("beats_per_bar", 4)
    if isinstance(bpb, str):  # the chart's time signature, "3/4", read as --time reads it (cut time refused alike)
        try:
            bpb = metre_beats(bpb, "beats_per_bar = {}", "tempo = {}")
        except ValueError as e:
            raise ConfigError(f"{where}: beats_per_bar {e}") from None
    bpb = limits.check_int(f"{where}: beats_per_bar", bpb, limits.BEATS_PER_BAR)
    for key in ("title", "bars", "key", "style", "composer", "source"):
        if key in data and not isinstance(data[key], str):
            raise ConfigError(f"{where}: {key} must be a string in quotes, found {data[key]!r}")
    if "key" in data and not re.fullmatch(r"[A-G][#b]?m?", data["key"].strip()):
        raise ConfigError(f"{where}: key must be a note name, with m for minor (e.g. \"Bb\", \"Cm\", \"F#m\"), "
                          f"found {data['key']!r}")
    if "bars" in data and "sections" in data:
        raise ConfigError(f"{where}: give `bars = \"...\"` or a [sections] table with a form, not both")
    if "bars" in data and "form" in data:  # (the form was left unplayed without a word)
        raise ConfigError(f"{where}: form lists [sections], but the tune gives its chords as bars = \"...\": put each "
                          f"section's bars in a [sections] table (A = \"...\"), or leave form out")
    title = str(data.get("title", Path(where).stem))
    tempo = float(limits.check_range(f"{where}: tempo", data["tempo"], limits.TEMPO_BPM, "bpm")) \
        if "tempo" in data else None
    if "sections" in data and not isinstance(data["sections"], dict):
        raise ConfigError(f"{where}: sections must be a table of chart strings ([sections] A = \"...\")")
    for name, text in (data.get("sections") or {}).items():
        if not isinstance(text, str):
            raise ConfigError(f"{where}: section {name} must be a chart string in quotes, found {text!r}")
    if "form" in data and not (isinstance(data["form"], list) and all(isinstance(x, str) for x in data["form"])):
        raise ConfigError(f"{where}: form must be a list of section names, e.g. [\"A\", \"A\", \"B\", \"A\"], "
                          f"found {data['form']!r}")
    if "bars" in data:
        try:
            bars = parse_bars(str(data["bars"]), bpb)
        except ChordError as e:
            raise ChordError(f"{where}: {e}") from None
        return chart_from_bars(bars, bpb, title, tempo, ((0, "A"),))
    sections = data.get("sections")
    if not isinstance(sections, dict) or not sections:
        raise ConfigError(f"{where}: a tune needs `bars = \"...\"` or a [sections] table")
    form = data.get("form", list(sections))
    if not form:
        raise ConfigError(f"{where}: form is empty: list the sections in the order they are played, e.g. "
                          "form = [\"A\", \"A\", \"B\", \"A\"]")
    all_bars: list[list[Chord | None]] = []
    marks: list[tuple[int, str]] = []
    for name in form:
        if name not in sections:
            raise ConfigError(f"{where}: form names section {name!r}, but [sections] has only {sorted(sections)}")
        try:
            bars = parse_bars(str(sections[name]), bpb, first_bar=len(all_bars), section=True)
        except ChordError as e:
            raise ChordError(f"{where}: section {name}: {e}") from None
        marks.append((len(all_bars), name))
        all_bars.extend(bars)
    return chart_from_bars(all_bars, bpb, title, tempo, tuple(marks))

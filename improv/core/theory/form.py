"""Trading along the form: whose turn it is at any beat, chorus after chorus.

The timeline is the session's: beat 0 is beat 1 of bar 1 of the chart, and the count-in
takes the beats before it (negative beats). After the count-in the player takes
`trade_bars` bars, then the partner the next `trade_bars`, and so on through the form,
chorus after chorus (a 12-bar blues traded in eights simply runs across the choruses).

The partner's turn starts exactly on its first downbeat; its answer must be ready during
the last beat of the player's turn at the latest (`Turn.compute_by`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from improv.core.theory.chart import Chart, ChordSpan

PLAYER, PARTNER, COUNT_IN = "player", "partner", "count-in"
TRADE_BARS = (1, 2, 4, 8, 12, 16)


def count_in_bars(tempo: float) -> int:
    """Bars of count-in: 1, or 2 at slow tempi (at or below 80 bpm) where one bar of
    clicks is too little to feel the pulse."""
    return 2 if tempo <= 80 else 1


@dataclass(frozen=True)
class Turn:
    """One trade.

    Attributes:
        index: 0 for the first turn after the count-in, then 1, 2, ...
        owner: PLAYER or PARTNER.
        start, end: its span on the timeline, in beats (start is a downbeat).
    """

    index: int
    owner: str
    start: float
    end: float

    @property
    def compute_by(self) -> float:
        """The beat by which the answer for this turn must be computed: the start of
        the last beat of the turn before it (meaningful for partner turns)."""
        return self.start - 1.0


@dataclass(frozen=True)
class FormPosition:
    """Where a beat falls, for the status display.

    Attributes:
        chorus: 1-based chorus (0 during the count-in).
        bar: 1-based bar within the chorus (count-in: 1-based count-in bar).
        beat: 1-based beat within the bar.
        section: the form section's name ("" if the chart has none).
        owner: PLAYER, PARTNER or COUNT_IN.
        turn: the turn's index (-1 during the count-in).
        turn_bar: 1-based bar within the turn.
    """

    chorus: int
    bar: int
    beat: int
    section: str
    owner: str
    turn: int
    turn_bar: int

    def label(self) -> str:
        """A one-line status: `chorus 2  bar 5 [B]  beat 3  partner's bar 2` (the bar of the
        turn under way)."""
        if self.owner == COUNT_IN:
            return f"count-in  bar {self.bar}  beat {self.beat}"
        sec = f" [{self.section}]" if self.section else ""
        return f"chorus {self.chorus}  bar {self.bar}{sec}  beat {self.beat}  {self.owner}'s bar {self.turn_bar}"


@dataclass(frozen=True)
class TradingForm:
    """Trading N bars along a chart.

    Attributes:
        chart: the tune.
        trade_bars: bars per turn (2, 4, 8 usually).
        count_in: bars of count-in before beat 0.
        player_first: the player takes the first turn (else the partner does).
    """

    chart: Chart
    trade_bars: int = 4
    count_in: int = 1
    player_first: bool = True

    def __post_init__(self) -> None:
        if self.trade_bars < 1:
            raise ValueError(f"trade_bars must be at least 1, got {self.trade_bars}")
        if self.count_in < 0:
            raise ValueError(f"count_in must be 0 or more bars, got {self.count_in}")

    @property
    def beats_per_bar(self) -> int:
        return self.chart.beats_per_bar

    @property
    def turn_beats(self) -> float:
        return float(self.trade_bars * self.beats_per_bar)

    @property
    def start(self) -> float:
        """The first beat of the count-in (negative, or 0 with no count-in)."""
        return -float(self.count_in * self.beats_per_bar)

    def turn(self, index: int) -> Turn:
        """Turn number `index` (from 0)."""
        first = PLAYER if self.player_first else PARTNER
        other = PARTNER if self.player_first else PLAYER
        s = index * self.turn_beats
        return Turn(index, first if index % 2 == 0 else other, s, s + self.turn_beats)

    def turn_at(self, beat: float) -> Turn | None:
        """The turn sounding at timeline `beat`, or None during the count-in."""
        if beat < 0:
            return None
        return self.turn(int(math.floor(beat / self.turn_beats + 1e-9)))

    def next_turn(self, beat: float, owner: str) -> Turn:
        """The first turn of `owner` starting at or after `beat`."""
        i = max(0, int(math.ceil(beat / self.turn_beats - 1e-9)))
        while self.turn(i).owner != owner:
            i += 1
        return self.turn(i)

    def position(self, beat: float) -> FormPosition:
        """Chorus, bar, beat, section and whose turn at timeline `beat`."""
        bpb = self.beats_per_bar
        if beat < 0:
            rel = beat - self.start
            return FormPosition(0, int(rel // bpb) + 1, int(rel % bpb) + 1, "", COUNT_IN, -1, int(rel // bpb) + 1)
        chorus = int(beat // self.chart.length)
        in_chorus = beat - chorus * self.chart.length
        turn = self.turn_at(beat)
        assert turn is not None
        return FormPosition(
            chorus + 1,
            int(in_chorus // bpb) + 1,
            int(in_chorus % bpb) + 1,
            self.chart.section_at(beat),
            turn.owner,
            turn.index,
            int((beat - turn.start) // bpb) + 1,
        )

    def count_in_beats(self) -> list[float]:
        """The count-in clicks (timeline beats, all negative)."""
        return [self.start + i for i in range(self.count_in * self.beats_per_bar)]

    def chords(self, turn: Turn) -> list[ChordSpan]:
        """The chord spans of a turn, with timeline positions."""
        return self.chart.changes_between(turn.start, turn.end)

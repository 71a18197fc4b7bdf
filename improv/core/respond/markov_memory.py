"""What the Markov partner remembers of phrases (see `improv.core.respond.markov`): note
events on a 12-per-beat grid as symbols `(interval, ioi, dur, metric)`, and tables of the
continuations of each context of 0..order symbols reduced to `(interval, ioi)`.

A phrase's top line becomes symbols (`melody`, `symbols`): the interval in semitones from
the previous note (`FIRST` for a phrase's first note, or one after a gap longer than a
bar), the inter-onset interval and duration in ticks, and where the onset sits in its beat
(`metric_class`). A `Table` counts what followed each context and gives the distribution
of the longest one that matches; the vocabulary's table is built once per process from the
built-in licks in 12 keys (`vocabulary_table`).
"""

from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache

from improv.core.theory.line import the_line
from improv.core.theory.notes import Phrase

TICKS = 12  # grid ticks per beat: sixteenths (3), triplet eighths (4) and eighths (6) all fit
MAX_IOI = 4 * TICKS  # a gap longer than a bar's worth of beats starts a new phrase
MAX_DUR = 4 * TICKS
MAX_INTERVAL = 24
FIRST = 99  # interval marker of a phrase's first note (no previous note)
START = (FIRST, -1)  # context item that marks the start of a phrase

_TOP_K = 16
SESSION_SIZE = 40_000  # continuations a session's table keeps, of the contexts heard last (about 10 MB)
ROW_CAP = 8 * _TOP_K  # continuations a context keeps: past it, the less heard half is forgotten

Symbol = tuple[int, int, int, int]  # (interval, ioi ticks, duration ticks, metric class)
Item = tuple[int, int]  # (interval, ioi ticks): a symbol reduced for context matching


def metric_class(tick: int) -> int:
    """Where an onset (ticks from a beat boundary) sits in its beat: 0 on the beat,
    1 the off-beat eighth, 2 a triplet, 3 a sixteenth, 4 anywhere else."""
    t = tick % TICKS
    if t == 0:
        return 0
    if t == 6:
        return 1
    if t in (4, 8):
        return 2
    if t in (3, 9):
        return 3
    return 4


def melody(phrase: Phrase, tempo: float | None = None) -> list[tuple[int, int, int, int]]:
    """The phrase's top line on the grid: `(onset tick on the timeline, pitch, duration
    ticks, velocity)`. Simultaneous notes (a chord) keep only their highest pitch, and a
    pianist's voicings under the line are left out (`the_line`: a left hand's chord, a
    rolled chord's lower notes), so their leaps are not learned as the player's steps.
    `tempo` (bpm, None: not known): how long a legato overlap may last in beats (at 250
    bpm a line's notes overlapping by 70 ms were read as a voicing under the line, and left
    out: a descending legato line lost every other note)."""
    by_tick: dict[int, tuple[int, int, int, int]] = {}
    for n in the_line(phrase, tempo).notes:
        tick = int(round((phrase.start + n.start) * TICKS))
        dur = min(MAX_DUR, max(1, int(round(n.duration * TICKS))))
        old = by_tick.get(tick)
        if old is None or n.pitch > old[1]:
            by_tick[tick] = (tick, n.pitch, dur, n.velocity)
    return [by_tick[t] for t in sorted(by_tick)]


def symbols(events: list[tuple[int, int, int, int]]) -> list[Symbol]:
    """Melody events -> Markov symbols. A phrase's first note (or one after a long gap)
    gets interval `FIRST` and its ioi is its tick inside the beat."""
    out: list[Symbol] = []
    prev: tuple[int, int, int, int] | None = None
    for ev in events:
        tick, pitch, dur, _ = ev
        if prev is None or tick - prev[0] > MAX_IOI:
            out.append((FIRST, tick % TICKS, dur, metric_class(tick)))
        else:
            iv = max(-MAX_INTERVAL, min(MAX_INTERVAL, pitch - prev[1]))
            out.append((iv, max(1, tick - prev[0]), dur, metric_class(tick)))
        prev = ev
    return out


def reduce(sym: Symbol) -> Item:
    return START if sym[0] == FIRST else (sym[0], sym[1])


class Table:
    """Counts of continuations per context, for contexts of 0..order items.

    `max_size`: keep at most this many continuations in all (None: all), forgetting first
    the contexts heard longest ago; each context keeps at most `ROW_CAP`, the most heard
    (those `dist` reads are among them). A session's table grew with every call: hours of
    playing, tens of MB in the partner's process and a slower first answer after each call."""

    def __init__(self, order: int, max_size: int | None = None) -> None:
        self.order = order
        self.max_size = max_size
        self.size = 0  # continuations counted, in all contexts
        self.counts: OrderedDict[tuple[Item, ...], dict[Symbol, float]] = OrderedDict()
        self.notes = 0
        self._cache: dict[tuple[Item, ...], list[tuple[Symbol, float]]] = {}

    def learn(self, syms: list[Symbol], weight: float = 1.0, skip: int = 0) -> None:
        """Count each symbol as a continuation of the contexts before it. `skip`: the first
        symbols were counted already (a phrase learned again, longer): they are read only as
        the context of the ones after them."""
        hist: list[Item] = []
        for i, s in enumerate(syms):
            counted = i >= skip
            if s[0] == FIRST:
                hist = [START]
                self.notes += counted
                continue  # a first note has no interval to learn; it only opens a context
            for k in range(0, min(self.order, len(hist)) + 1) if counted else ():
                ctx = tuple(hist[len(hist) - k:]) if k else ()
                row = self.counts.get(ctx)
                if row is None:
                    row = self.counts[ctx] = {}
                else:
                    self.counts.move_to_end(ctx)  # (heard last: forgotten last)
                if s not in row:
                    self.size += 1
                row[s] = row.get(s, 0.0) + weight
                if len(row) > ROW_CAP:  # keep the more heard half, in `dist`'s order
                    self.counts[ctx] = dict(sorted(row.items(), key=lambda kv: (-kv[1], kv[0]))[:ROW_CAP // 2])
                    self.size -= len(row) - ROW_CAP // 2
            hist.append(reduce(s))
            if len(hist) > self.order:
                del hist[0]
            self.notes += counted
        if self.max_size is not None:
            while self.size > self.max_size and self.counts:
                self.size -= len(self.counts.popitem(last=False)[1])
        self._cache.clear()

    def dist(self, ctx: tuple[Item, ...]) -> list[tuple[Symbol, float]]:
        """Continuations of exactly this context with probabilities (top `_TOP_K`)."""
        got = self._cache.get(ctx)
        if got is None:
            row = self.counts.get(ctx)
            if not row:
                got = []
            else:
                items = sorted(row.items(), key=lambda kv: (-kv[1], kv[0]))[:_TOP_K]
                total = sum(c for _, c in items)
                got = [(s, c / total) for s, c in items]
            self._cache[ctx] = got
        return got

    def longest(self, hist: list[Item], max_k: int) -> tuple[int, list[tuple[Symbol, float]]]:
        """The longest context (at most `max_k` items) of `hist` with continuations."""
        for k in range(min(max_k, self.order, len(hist)), -1, -1):
            d = self.dist(tuple(hist[len(hist) - k:]) if k else ())
            if d:
                return k, d
        return -1, []


@lru_cache(maxsize=8)
def vocabulary_table(order: int) -> Table:
    from improv.core.respond.licks import training_phrases

    table = Table(order)
    for phrase, _chart in training_phrases():
        table.learn(symbols(melody(phrase)))
    return table

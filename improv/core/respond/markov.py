"""The session-learning Markov responder, in the spirit of Pachet's Continuator.

For a musician: the partner listens to every phrase you play and remembers, for each
short run of notes, what tended to come next: not the notes themselves but the steps
between them (up a minor third, down a half step...) and their rhythm (an eighth after the
last note, held for a quarter, landing on the off-beat). Because it remembers steps, a lick
you played in F can come back in Bb. When it answers, it starts from the end of your call
(or echoes one of your little cells), keeps choosing a next step that followed the same
context before, prefers the longest matching memory and falls back to shorter ones, and at
every note leans toward pitches that fit the chord sounding at that beat: chord tones on
strong beats, scale tones and tensions in between, chromatic notes only as approaches that
resolve by a step. It plays about as many notes per beat as you did, in your register, and
ends on a longer note. Before it has heard you, it answers from its own jazz vocabulary
(`improv.core.respond.licks`); the more you play, the more it sounds like you.

For a developer (what it remembers: `markov_memory`; one answer: `markov_answer`): a
variable-order Markov model over note events `(interval, ioi, dur, metric)`: the interval
in semitones from the previous note, the inter-onset interval and duration in ticks of a
12-per-beat grid, and the onset's position in the beat (on, eighth, triplet, sixteenth,
other). Contexts are the last 0..`order` events reduced to `(interval, ioi)`, so matching
tolerates duration and placement differences. Two tables are kept: the vocabulary's (built
once per process from the licks in 12 keys) and the session's (learned from calls; of a
long session, the contexts heard last: `markov_memory.SESSION_SIZE` continuations). At
each step each table gives the distribution of its longest matching context; the two are
mixed with the session's share growing with the notes heard (`n / (n + 32)`, at most
0.92). Candidates are reweighted by harmonic fit, metric consistency, wanted density,
register and `Constraints`, then sampled with temperature and top-p from a
`numpy.random.Generator` seeded from `AnswerSettings.seed`. If no candidate of a context
is usable (range, hard avoid, end of the answer) it backs off to a shorter one, and at the
last resort to plain steps of up to a fifth.
"""

from __future__ import annotations

from improv.core.respond.base import AnswerSettings
from improv.core.respond.markov_answer import Generator
from improv.core.respond.markov_memory import SESSION_SIZE, Table, melody, symbols, vocabulary_table
from improv.core.theory.chart import Chart
from improv.core.theory.notes import Phrase

_SESSION_HALF = 32.0  # notes heard after which the session weighs as much as the vocabulary
_SESSION_MAX = 0.92


class MarkovResponder:
    """A partner that learns the player's calls and answers in kind (see the module doc).

    Args:
        order: the longest context, in notes (3 is a good default; 0 plays by interval
            statistics only).
        seed: added to each answer's seed, so two partners with different seeds differ.
    """

    name = "markov"

    def __init__(self, order: int = 3, seed: int = 0) -> None:
        self.order = max(0, min(8, int(order)))
        self.seed = int(seed)
        self._vocab = vocabulary_table(self.order)
        self._session = Table(self.order, SESSION_SIZE)
        self._last_line: list[tuple[int, int, int, int]] = []  # the melody of the call learned last

    @property
    def session_notes(self) -> int:
        """How many notes of the player's it has learned."""
        return self._session.notes

    def session_share(self) -> float:
        """How much the player's material weighs against the vocabulary (0..1)."""
        n = self._session.notes
        return min(_SESSION_MAX, n / (n + _SESSION_HALF))

    def reset(self) -> None:
        """Forget the session (the vocabulary stays)."""
        self._session = Table(self.order, SESSION_SIZE)
        self._last_line = []

    def learn(self, call: Phrase, harmony: Chart | None = None, tempo: float | None = None) -> None:
        """Learn a call. The harmony is not part of what is learned (steps and rhythm are),
        so a lick comes back over any chord; fit is weighed when answering. `tempo`: the
        session's where the call was played (bpm; None: not known), which its line is read
        at (a legato overlap is a share of a beat only at a given tempo).

        A call that begins with the whole line of the call learned last, at the same beats,
        goes on from it (the free jam's resumed phrase: `FreePolicy._resume`): only what it
        adds is counted, so the steps of its first part are not learned twice."""
        line = melody(call, tempo)
        last = self._last_line
        skip = len(last) if last and line[:len(last)] == last else 0
        self._session.learn(symbols(line), skip=skip)
        self._last_line = line

    def answer(self, call: Phrase, harmony: Chart | None, settings: AnswerSettings) -> Phrase:
        """An answer to `call` over `harmony`, in [0, settings.length) beats; never raises
        on odd input (an empty call, a zero length, pitches at the MIDI edges)."""
        return Generator(self, call, harmony, settings).run()

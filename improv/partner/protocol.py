"""What the real-time process and the partner say to each other (plain frozen dataclasses,
pickled over a pipe to the worker process, or handed over directly in process).

To the partner: `Setup` (once, first), `Read` (the call under way, in a rest, perhaps with
the `Job` it becomes if the rest ends it), `Job` (a call to answer), `Dropped` (an answer
that was never played), `History` (the session so far on bars counted again), `Silence`
(the ports to silence should the jam die, anew), `Closing` (last, when the session ends).
From it: `Ready` (once, after its warm-up), a `Result` for every `Job`, and its pulse
(`Alive`) from then on.
"""

from __future__ import annotations

from dataclasses import dataclass

from improv.core.embrace.strategies import EmbraceSettings
from improv.core.respond.base import AnswerSettings
from improv.core.theory.chart import Chart
from improv.core.theory.notes import Note, Phrase

# A trading answer goes on into the last quarter of its turn at least (`AnswerSettings.fill`): a
# 4-bar trade reaches its fourth bar, a 2-bar one the second half of its second. The model may
# end a phrase after an opening the embrace plan forced (in a live test at 220 bpm, a 3-note
# motif and then 3.5 silent bars of a 4-bar turn); with half the turn as the floor, a live test
# of slow trades (80-100 bpm, real solo phrases as calls) heard the partner stop a median 3.7
# beats before its turn ended, about 3 s of band alone. In a free jam the player just comes back in.
TURN_FILL = 0.75

# A call as the real-time process keeps it for a replacement partner: its notes as plain
# (start, pitch, duration, velocity) tuples, its start and length, its chart and its tempo.
# Tuples of numbers are not tracked by Python's garbage collector: 20,000 notes kept as Note
# objects made each full collection in the real-time process about twice as long (3 -> 7 ms)
PackedCall = tuple[tuple[tuple[float, int, float, int], ...], float, float, Chart, "float | None"]


def packed(call: Phrase, chart: Chart, tempo: float | None) -> PackedCall:
    """A call, its chart and tempo, kept for a replacement partner (`unpacked` gives them back)."""
    return tuple((n.start, n.pitch, n.duration, n.velocity) for n in call.notes), call.start, call.length, chart, tempo


def unpacked(p: PackedCall) -> tuple[Phrase, Chart, float | None]:
    """(call, chart, tempo) of a `packed` call."""
    notes, start, length, chart, tempo = p
    return Phrase(tuple(Note(*n) for n in notes), start, length), chart, tempo


@dataclass(frozen=True)
class Setup:
    """How to build the partner, and the session so far (a replacement worker starts from it).

    Attributes:
        responder: "model" or "markov".
        markov_order: the Markov responder's longest context.
        seed: the session's base seed.
        history: the exchange so far, oldest first (calls and answers).
        calls: the calls so far, for a partner that learns (Markov), each `packed`: its
            notes, its chart and the tempo (bpm, or None) its job was answered at.
        chart: a chart to warm up over, or None (a one-chord chart).
        beats_per_bar: metre.
        model: the model's weights file ("": the shipped ones).
        silence: (MIDI backend, port) of each output the jam opened by name (`--out`), and of
            each JACK port wired to a virtual output of its (`--virtual-out`; `Silence` when
            they change): should the jam die without a `Closing` (killed, or crashed in native
            code), the worker sends them what `improv panic` does, so that no note it left
            sounding hangs.
    """

    responder: str = "model"
    markov_order: int = 3
    seed: int = 0
    history: tuple[Phrase, ...] = ()
    calls: tuple[PackedCall, ...] = ()
    chart: Chart | None = None
    beats_per_bar: int = 4
    model: str = ""  # the model's weights (`--model`, [responder] model); "": the shipped ones
    silence: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Read:
    """The call so far, to read in the player's rest (a model partner then only decodes at its end).

    Attributes:
        call: the call so far.
        chart: the harmony it is played over.
        draft: the `Job` the call becomes if this rest ends it (free jam: the gap; trading:
            the turn's end), or None. A partner that reads ahead answers it now, in the
            rest, and keeps the answer: a `Job` equal to it is answered at once.
    """

    call: Phrase
    chart: Chart
    draft: "Job | None" = None


@dataclass(frozen=True)
class Job:
    """A call to answer.

    Attributes:
        number: the call's number in the session (1, 2, ...).
        call: the player's phrase, timeline beats.
        chart: the harmony it was played over.
        settings: where and how long to answer (no history: the partner keeps it).
        embrace: what to do with the player's outside notes.
        cut: keep only answer notes starting before this many beats into the answer (trading:
            the partner's turn ends there), or None.
    """

    number: int
    call: Phrase
    chart: Chart
    settings: AnswerSettings
    embrace: EmbraceSettings
    cut: float | None = None


@dataclass(frozen=True)
class Dropped:
    """The answer to call `number` was not played (the player came back in): forget it."""

    number: int


@dataclass(frozen=True)
class History:
    """The session so far again, its calls and answers moved to the bars as counted now (the
    follower counted them again from bar 1 on the player's tempo): the partner's own copy,
    on the bars as first counted, read the player's first calls over the wrong chords."""

    phrases: tuple[Phrase, ...]


@dataclass(frozen=True)
class Silence:
    """`Setup.silence` anew: the ports wired to a virtual JACK output changed (a synth patched
    to it, or unpatched, mid-session)."""

    targets: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Closing:
    """The jam is closing the worker: the end of its stdin that follows is the session's own
    end (it silences its outputs itself), not the jam's death (`Setup.silence`)."""


@dataclass(frozen=True)
class Ready:
    """The partner is warmed up (`reads_ahead`: it can read a call before its end;
    `drafts`: and answer it in the rest, `Read.draft`), or could not start (`error`, one
    line: e.g. the model's weights are missing)."""

    name: str
    reads_ahead: bool
    pid: int = 0
    error: str = ""
    drafts: bool = False


@dataclass(frozen=True)
class Alive:
    """The worker's pulse, sent every `PULSE_S` by a thread of its own once it is ready: it
    runs, and at `at_s` on its own clock (`time.monotonic`) it had used `cpu_s` seconds of
    CPU. A worker late with a call that pulses and keeps using some CPU is slow (a busy
    machine), not stuck (`ProcessPartner.check`). Its own clock: on a busy machine the
    pulses reach the real-time process in bursts."""

    cpu_s: float
    at_s: float


PULSE_S = 0.25


@dataclass(frozen=True)
class Result:
    """The answer to a `Job`, or why there is none.

    Attributes:
        number: the job's number.
        answer: the answer (timeline beats), or None on error.
        lines: what it did with the player's outside note, in words (for the log and the file).
        substitute: (start, end, chart) when the answer plays over a substitute chord: the
            rhythm section plays it too.
        compute_ms: the partner's own time for the job (milliseconds).
        error: why there is no answer ("" when there is one).
        drafted: the answer was decoded in the player's rest, before the call ended (`Read.draft`).
    """

    number: int
    answer: Phrase | None
    lines: tuple[str, ...] = ()
    substitute: tuple[float, float, Chart] | None = None
    compute_ms: float = 0.0
    error: str = ""
    drafted: bool = False


def answer_settings(start: float, length: float, seed: int, responder: object, beats_per_bar: int,
                    tempo: float | None = None, feel: float = 1.0, turn: bool = False) -> AnswerSettings:
    """AnswerSettings from the `[responder]` settings (temperature, top_p, range); `tempo`:
    the timeline's tempo where the call was played (bpm), for hearing it on played time and
    the model's time feel; `feel`: how much of that feel (0 when the timeline swings already);
    `turn`: a trading turn (the answer goes on into `TURN_FILL` of its span at least)."""
    r = responder
    return AnswerSettings(start=start, length=length, seed=seed, temperature=r.temperature,  # type: ignore[attr-defined]
                          top_p=r.top_p, low=r.low, high=r.high, beats_per_bar=beats_per_bar,  # type: ignore[attr-defined]
                          tempo=tempo, feel=feel, fill=TURN_FILL if turn else 0.0)

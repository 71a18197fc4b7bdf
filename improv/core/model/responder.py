"""`ModelResponder`: the learned phrase model as a `Responder`, streaming note by note.

The session so far (`settings.history`: earlier calls and answers) and the call are read
first (`model_input.session_steps`: the history's most recent notes, then the call's),
in one batched pass or, when `prime` read the history ahead, only the call's notes; then
the answer is decoded one note per step from the GRU state: shift (or END) -> pitch ->
duration -> velocity, each sampled with temperature and top-p from a seeded
`numpy.random.Generator` (a note drawn: `improv.core.model.next_note`; the sampling and
the biases: `improv.core.model.sampling`).
Constraints act inside decoding: `opening` notes are forced as the first steps (the model
continues from them), `favour_pcs` / `avoid_pcs` bias the pitch logits (`avoid` at
strength 1 is a hard mask), the register [low, high] is a hard mask, and no onset may
fall at or after the answer's length; after the first note no two onsets coincide (a
single line has no chords).

With copy cells (`improv.core.model.copying`) the index of the context's intervals and
gaps is built with the steps and extended note by note; so is the session cache of pitch
runs that decoding mixes into the pitch head (the licks played earlier, at their pitches).
With a time feel (`improv.core.model.feel`, in the weights file), played calls and
history are read onto the grid first (`FeelModel.to_grid`), and the grid answer is played
with the feel learned from the data, taking up the session's measured lag and swing (`settings.feel`
scales it, `settings.tempo` picks its tempo band); a note is handed out once the two
after it are decoded (its onset depends on the written gap to the next one, its end on
where that one sounds).

The last note of an answer is held as soloists hold a phrase's last note: the model
writes every length as an inner note's (END comes a step later), so once the answer ends
its last note's length is mapped to a last note's (`improv.core.model.endings`, learned
from the training phrases, shipped in improv/data). So a note is handed out on
the grid once the next one's onset is decoded.
"""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from improv.core.theory.chart import Chart
from improv.core.theory.line import the_line
from improv.core.theory.loops import NO_LOOPS, loops_after
from improv.core.model.config import center_of
from improv.core.model.copying import CACHE_RUNS, CACHE_WEIGHT, CopyIndex, PitchRuns, SessionRuns
from improv.core.model.decoder import NumpyDecoder
from improv.core.model.endings import PhraseEndings
from improv.core.model.feel import FOLLOW_PHRASES, FeelModel, FeelPlayer
from improv.core.model.weights import SHIPPED_NAME, ModelWeights, as_weights, load_weights
from improv.core.model.next_note import NoteDrawer, register
from improv.core.model.sampling import density_bias, pitch_bias
from improv.core.model.inputs import (
    ANSWER, CALL, CALL_NOTES, MAX_BARS, N_CENTER, N_DENSITY, NONE_PITCH, Controls, bar_pos, chord_at,
    history_steps, sep_step, session_steps,
)
from improv.core.theory.notes import Note, Phrase
from improv.core.respond.base import AnswerSettings, Interrupted, fit_answer
from improv.core.model.tokens import (
    MAX_DUR_TICKS, TICKS_PER_BEAT, VELOCITIES, NoteToken, fold_pitch, phrase_to_tokens,
    to_ticks,
)

CHECKPOINT_NAME = SHIPPED_NAME
# What the session cache reads before the notes the model reads: the runs of the phrases
# before them, and the pitches of the first phrase read whose start the window cuts off.
Before = tuple[PitchRuns | None, tuple[int, ...]]
NOTHING_BEFORE: Before = (None, ())


def default_checkpoint() -> Path:
    """The shipped weights: models/ of a source checkout (or an editable install), else
    share/improv/models where a regular install put them (see pyproject's data-files), as the
    install's own record of its files says: <venv>/share, but ~/.local/share for `pip install
    --user` and /usr/local/share for a system pip on Debian, where sys.prefix is /usr."""
    here = Path(__file__).resolve().parents[3] / "models" / CHECKPOINT_NAME
    if here.exists():
        return here
    from importlib import metadata

    try:
        recorded = [f for f in metadata.distribution("improv").files or () if f.name == CHECKPOINT_NAME]
    except metadata.PackageNotFoundError:  # (not installed: run from a copy of the source)
        recorded = []
    for f in recorded:
        path = Path(str(f.locate())).resolve()
        if path.exists():
            return path
    installed = Path(sys.prefix) / "share" / "improv" / "models" / CHECKPOINT_NAME
    return installed if installed.exists() else here


DEFAULT_CHECKPOINT = default_checkpoint()
DYNAMICS_SPREAD = 30  # velocities: the narrowest dynamic range an answer is played over (`call_dynamics`)
DYNAMICS_FLOOR = 36  # the softest an answer is centred on (the Markov partner's floor too)
NOTES_PER_BEAT_MAX = 4  # an answer's notes are capped at this many a beat of its span (a line of 16ths
# throughout) or the training window's max_answer, whichever is more: a busy 8-bar answer stopped at note 64,
# halfway, and was silent after; a 4-bar answer keeps the window (and its time to decode)


def _split(step: tuple) -> tuple[tuple, tuple[float, ...]]:
    return step[:9], step[9]


def feel_of(meta: dict, path: Path | str | None = None) -> FeelModel | None:
    """The time feel stored with a model (`meta["feel"]`), or None if it has none.

    Raises:
        ModelError: the stored feel is malformed (one line naming the file).
    """
    if not isinstance(meta, dict) or meta.get("feel") is None:
        return None
    try:
        return FeelModel.from_dict(meta["feel"])
    except (KeyError, TypeError, ValueError) as e:
        from improv.errors import ModelError

        raise ModelError(f"model weights {path}: the time feel stored with them is malformed ({e}); "
                         "re-export them") from None


class ModelResponder:
    """The learned phrase model as a responder (name "model")."""

    name = "model"
    learns = False  # nothing learnt from a call: an answer drafted in the player's rest is the same (`PartnerCore`)

    def __init__(self, weights: ModelWeights | Any, path: str | Path | None = None,
                 feel: FeelModel | None = None, endings: PhraseEndings | None | str = "shipped") -> None:
        self.weights = as_weights(weights)  # (a trained torch module is read into arrays)
        self.path = Path(path) if path else None
        self.cfg = self.weights.cfg
        self.decoder = NumpyDecoder(self.weights)
        self.feel = feel
        # how a phrase's last note is held ("shipped": improv/data's table; None: as decoded)
        self.endings = PhraseEndings.shipped() if endings == "shipped" else endings
        self._tempo: float | None = None  # the last answer's tempo and feel: what `prime` reads with
        self._felt = True
        # (steps, heads' input, GRU state, attention cache) of the last context primed, and of the
        # last history primed without a call (the fallback when a call's opening misleads): see `prime`
        self._primed: tuple | None = None
        self._primed_history: tuple | None = None
        self._notes = NoteDrawer(self.decoder)  # (the next note, from the heads)
        # the session cache of pitch runs mixed into the pitch head (`CopyIndex.pitch_cache`);
        # cache_runs = 0 leaves it out; cache_whole False has it read only the notes the model reads
        # (not the session before them). Read when a context is indexed: set them before answering.
        self.cache_runs, self.cache_weight, self.cache_whole = CACHE_RUNS, CACHE_WEIGHT, True
        # (history, harmony, tempo, grid, steps, feel, before, cache settings) of the last built
        self._history_steps: tuple | None = None
        self._earlier = SessionRuns()  # (the pitch runs of the phrases before the window)
        # set while an answer is drafted (`PartnerCore.read`): decoding gives up (`Interrupted`)
        # between notes once it says True
        self.interrupt: Callable[[], bool] | None = None

    @classmethod
    def load(cls, path: str | Path | None = None) -> "ModelResponder":
        """Load weights (None -> the shipped models/improv-phrase-v2.npz) and warm up.

        Raises:
            ModelError: missing or damaged weights, or a training checkpoint (`.pt`: export it).
        """
        path = Path(path) if path is not None else DEFAULT_CHECKPOINT
        if path.suffix == ".pt":
            from improv.errors import ModelError

            raise ModelError(f"{path} is a training checkpoint: export it as the weights the partner loads with "
                             f"`improv export {path}` (needs torch), then give the .npz")
        weights, header = load_weights(path)
        try:  # (the warm-up is the first use of every array: a shape that does not fit shows here)
            r = cls(weights, path, feel_of(header.get("meta", {}), path))
            r.warm_up()
        except (ValueError, IndexError, TypeError) as e:
            from improv.errors import ModelError

            raise ModelError(f"model weights {path} do not fit their own config (an array of the wrong shape: "
                             f"{type(e).__name__}); re-export them") from None
        return r

    def warm_up(self) -> None:
        """One throw-away answer so that the first real one does not pay for lazy setup."""
        call = Phrase.of([(60, 0, 0.5), (62, 0.5, 0.5), (64, 1, 1)])
        self.answer(call, None, AnswerSettings(start=4.0, length=4.0))  # type: ignore[arg-type]

    def learn(self, call: Phrase, harmony: Chart, tempo: float | None = None) -> None:
        """Nothing to learn in a session: the model answers from the call it is given."""

    # ------------------------------------------------------------ decoding

    def answer(self, call: Phrase, harmony: Chart | None, settings: AnswerSettings) -> Phrase:
        """The whole answer: `stream` collected and fitted to the span and range (a register
        given high to low, or reaching past 0-127, is read as `register` reads it)."""
        low, high = register(settings)
        if (low, high) != (settings.low, settings.high):
            settings = replace(settings, low=low, high=high)
        return fit_answer(list(self.stream(call, harmony, settings)), settings)

    def stream(self, call: Phrase, harmony: Chart | None, settings: AnswerSettings) -> Iterator[Note]:
        """Answer notes as they are decoded (starts relative to `settings.start`, beats),
        played with the time feel when the model has one and `settings.feel` > 0."""
        amount = min(1.0, max(0.0, float(settings.feel))) if math.isfinite(settings.feel) else 0.0
        self._tempo, self._felt = settings.tempo, amount > 0
        as_written = self.feel is None or amount <= 0
        grid = self._grid_stream(call, harmony, settings, amount > 0, legato=not as_written)
        if as_written:
            yield from grid
            return
        # the feel draws from its own generator: the notes decoded are the same with or without it
        rng = np.random.default_rng((int(settings.seed) ^ 0x5EED) & 0xFFFFFFFF)
        # (the line's: a left hand's chords, each note counted, made the answer take their timing)
        measured = self.feel.measure([the_line(p, settings.tempo) for p in (*settings.history[-(FOLLOW_PHRASES - 1):],
                                                                             call)], settings.tempo)
        phrase_feel = self.feel.phrase_feel(settings.tempo, measured, rng)
        player = FeelPlayer(self.feel, settings.start, settings.length, settings.tempo, phrase_feel, rng, amount)
        # the opening the plan forced (embrace's motif, say) keeps its written rhythm: the feel
        # moved its notes one by one, and the first cannot come before the answer's start, so
        # a motif's eighths at 0, 0.5 and 1 were played at 0, 0.26 and 0.82
        n_forced = len(_forced_tokens(settings))
        for i, note in enumerate(grid):
            played = player.push(note, forced=i < n_forced)
            if played is not None:
                yield played
        yield from player.finish()

    def _grid_stream(self, call: Phrase, harmony: Chart | None, settings: AnswerSettings,
                     to_grid: bool = True, legato: bool = True) -> Iterator[Note]:
        """The answer's notes on the grid, as decoded (the call and history read onto the
        grid first with `to_grid`). `legato` False: each note ends where the next one starts
        (a line does not overlap itself: the time feel, which reads the written lengths,
        does the same as it plays; played as written, a note decoded longer than the gap to
        the next one, or an opening's held note, sounded on under the notes after it)."""
        cfg = self.cfg
        length_ticks = math.ceil(settings.length * TICKS_PER_BEAT - 1e-6)  # onsets stay below this
        if length_ticks <= 0:
            return
        low, high = register(settings)
        rng = np.random.default_rng(int(settings.seed) & 0xFFFFFFFF)
        bpb = max(1, int(settings.beats_per_bar))
        ctrl = Controls(settings.density, center_of(low, high), int(math.ceil(settings.length / bpb - 1e-9)))
        origin = to_ticks(settings.start)
        band = cfg.tempo_band(settings.tempo) if cfg.tempo_edges else None
        steps, before = self._session(call, harmony, settings.history, to_grid, settings.tempo)
        favour_bias = pitch_bias(settings.constraints, low, high)
        plain_bias = pitch_bias(settings.constraints, low, high, favour=False)  # after favour_until
        until = settings.constraints.favour_until
        favour_ticks = math.inf if not math.isfinite(until) else until * TICKS_PER_BEAT
        shift_bias = density_bias(settings.density)
        forced = _forced_tokens(settings)
        # the opening the plan forced keeps the player's own velocities; the rest is played in the call's dynamics
        forced_velocity = [n.velocity for n in _opening(settings)]
        dynamics = call_dynamics(the_line(call, settings.tempo))
        last_pitch = next((s[2] for s in reversed(steps) if s[2] < NONE_PITCH), NONE_PITCH)
        dec = self.decoder
        out, h, cache, index = self._context(steps, tempo=band, before=before)
        x, h = dec.step(*_split(sep_step(origin, harmony, ctrl)), h, band)
        out = dec.attend(x[None], cache)
        onset = 0  # ticks from the origin
        # The last note decoded, handed out once the next one is: its length is written as an
        # inner note's until the answer is known to end after it (see `_last_note`).
        pending: tuple[float, NoteToken, bool, int] | None = None
        loops = NO_LOOPS  # the runs the answer ends in: a note repeated, a trill, a cell looped (`loops_after`)
        for i in range(max(cfg.max_answer, math.ceil(settings.length * NOTES_PER_BEAT_MAX))):
            if self.interrupt is not None and self.interrupt():
                raise Interrupted("a draft given up for something newer")
            feats = None
            if i < len(forced):
                ev = forced[i]
            else:
                got = self._notes.draw(out, onset, length_ticks, i, last_pitch, harmony, origin,
                                        (favour_bias, plain_bias, favour_ticks), settings, rng, shift_bias, index,
                                        loops)
                if got is None:
                    break
                ev, feats = got
            onset += ev.shift
            loops = loops_after(loops, ev.pitch)
            last_pitch = ev.pitch
            if index is not None:
                index.push(ev.pitch, ev.shift)
            start = onset / TICKS_PER_BEAT
            if start >= settings.length - 1e-9:
                break
            if pending is not None:
                yield self._note(*pending[:2], settings, low, high, pending[3], None if legato else start)
            pending = (start, ev, i < len(forced), forced_velocity[i] if i < len(forced) else dynamics(ev.vel))
            tick = origin + onset
            step = (ANSWER, ev.shift, ev.pitch, ev.dur - 1, ev.vel, bar_pos(tick, harmony), N_DENSITY, N_CENTER,
                    MAX_BARS)
            x, h = dec.step(step, feats if feats is not None else chord_at(harmony, tick), h, band)
            out = dec.attend(x[None], cache)
        if pending is not None:
            start, ev, was_forced, velocity = pending
            if not was_forced and self.endings is not None:  # (an opening the plan gave keeps its length)
                ev = self._last_note(ev, settings.tempo, rng)
            yield self._note(start, ev, settings, low, high, velocity)

    @staticmethod
    def _note(start: float, ev: NoteToken, settings: AnswerSettings, low: int, high: int,
              velocity: int | None = None, until: float | None = None) -> Note:
        """A decoded note as fit_answer would keep it: inside the span (no note rings past the
        answer) and the range; at `velocity` (default: its level's, as decoded); ended at
        `until` (the next onset, beats) at the latest, where given."""
        dur = min(ev.dur / TICKS_PER_BEAT, settings.length - start)
        if until is not None and until > start:  # (a forced opening's notes struck together stay as given)
            dur = min(dur, until - start)
        return Note(start, fold_pitch(ev.pitch, low, high), dur, VELOCITIES[ev.vel] if velocity is None else velocity)

    def _last_note(self, ev: NoteToken, tempo: float | None, rng: np.random.Generator) -> NoteToken:
        """The answer's last note held as a soloist holds a phrase's last note
        (`improv.core.model.endings`): its length at the same quantile among last notes."""
        ticks = self.endings.last_ticks(ev.dur, tempo, float(rng.random()))  # type: ignore[union-attr]
        return NoteToken(ev.shift, ev.pitch, min(ticks, MAX_DUR_TICKS), ev.vel)

    def prime(self, call: Phrase, harmony: Chart | None, history: tuple[Phrase, ...] = (),
              max_read: int | None = None, tempo: float | None = None) -> bool:
        """Read a call (after `history`) ahead of its end, e.g. in the player's rests.

        An answer to this call, or to a longer one that begins with the same notes, then
        reads only the notes that came since, so the first answer note is ready sooner.
        The history primed without a call is kept too: an answer whose call began otherwise
        still reads only its call. `max_read`: read nothing if more steps than this are
        left to read (the jam's read-ahead reads a call, never the whole session again).
        `tempo`: the session's (bpm); default the last answer's (whose `feel` also says
        whether played phrases are read onto the grid). Returns whether it read.
        """
        tempo = self._tempo if tempo is None else tempo
        band = self.cfg.tempo_band(tempo) if self.cfg.tempo_edges else None
        steps, before = self._session(call, harmony, history, self._felt, tempo)
        if max_read is not None:
            primed = self._primed_prefix(steps, band, before)
            if len(steps) - (len(primed[0]) if primed is not None else 0) > max_read:
                return False
        self._context(steps, keep=True, tempo=band, before=before)
        if not call.notes:
            self._primed_history = self._primed
        return True

    def forget(self) -> None:
        """Drop what `prime` read (the next answer reads its whole context)."""
        self._primed = self._primed_history = None

    def _steps(self, call: Phrase, harmony: Chart | None, history: tuple[Phrase, ...], to_grid: bool = True,
               tempo: float | None = None) -> list:
        """START, the history's most recent notes, the call's (`session_steps`); played
        phrases are read onto the grid first (with a feel and `to_grid`)."""
        return self._session(call, harmony, history, to_grid, tempo)[0]

    def _session(self, call: Phrase, harmony: Chart | None, history: tuple[Phrase, ...], to_grid: bool = True,
                 tempo: float | None = None) -> tuple[list, Before]:
        """`_steps`, and what the session cache reads before them (`Before`): only the
        phrases the model reads are read as steps, so a long session costs no more."""
        # (a left hand's riff in the bottom octave is a call like any other: calls all below E2
        # were once taken for drums and answered as silence)
        # A pianist's voicings under the line are not read as notes of it (`the_line`): the model
        # learned single lines, and went on from a left hand's last chord, in its register; the
        # chords they spell are read as the chart's (the free jam hears them: `voiced_changes`).
        call = the_line(call, tempo)
        grid = to_grid and self.feel is not None
        cached = self._history_steps
        # keyed by value: the chords that sound under the history (a substitute laid over the
        # answer, or a chart sent afresh from another process, changes nothing here)
        # (of the last phrases: one before them does not end after all of them)
        end = max((h.start + h.length for h in history[-64:]), default=0.0)
        heard = harmony.before(end) if harmony is not None else None
        reads = (self.cache_runs, self.cache_whole)  # (what the cache reads before the window depends on)
        if (cached is not None and (cached[1] is heard or cached[1] == heard) and cached[2] == tempo
                and cached[3] == grid and cached[7] == reads and cached[0] == tuple(history)):  # (element by element,
            # each by identity first, in C: the history is up to `SESSION_PHRASES` phrases)
            head, session_feel, before = cached[4:7]  # the same session so far: its steps are not built again
        else:
            # the phrases the window reads (the history's share of `max_call` notes, and the
            # last FOLLOW_PHRASES for the feel), walking back; the rest only the cache reads
            share = self.cfg.max_call - min(CALL_NOTES, self.cfg.max_call)
            lines: list[Phrase] = []
            j, count = len(history), 0
            while j > 0 and (count < share or len(lines) < FOLLOW_PHRASES):
                j -= 1
                if history[j].notes:
                    lines.append(the_line(history[j], tempo))
                    count += len(lines[-1].notes)
            kept = tuple(reversed(lines))
            session_feel = None
            if grid:  # the session's feel places every note, the call's too: a call read ahead reads the same
                session_feel = self.feel.measure(kept[-FOLLOW_PHRASES:], tempo)  # type: ignore[union-attr]
                kept = tuple(self.feel.to_grid(h, tempo, session_feel) for h in kept)  # type: ignore[union-attr]
            head = history_steps(kept, harmony, self.cfg.max_call)
            before = NOTHING_BEFORE
            if self.cache_runs and self.cache_whole:
                read = sum(1 for s in head if s[0] in (CALL, ANSWER))
                cut = tuple(n.pitch for p in kept for n in p.notes)[:count - read]
                before = (self._runs_before(history[:j], tempo), cut)
            self._history_steps = (tuple(history), heard, tempo, grid, head, session_feel, before, reads)
        if grid:
            call = self.feel.to_grid(call, tempo, session_feel)  # type: ignore[union-attr]
        return session_steps((), call, harmony, self.cfg.max_call, head=head), before

    def _runs_before(self, earlier: tuple[Phrase, ...], tempo: float | None) -> PitchRuns | None:
        """The pitch runs of the session's phrases before the window (`SessionRuns.before`,
        each phrase read as its line); what was primed read the old ones and is dropped
        when they grew."""
        runs, grew = self._earlier.before(earlier, self.cache_runs,
                                          lambda h: [n.pitch for n in the_line(h, tempo).notes] if h.notes else [])
        if grew:
            self._primed = self._primed_history = None
        return runs

    def _context(self, steps: list, keep: bool = False, tempo: int | None = None, before: Before = NOTHING_BEFORE
                 ) -> tuple[np.ndarray, list[np.ndarray], Any, CopyIndex | None]:
        """(the heads' input, the GRU state, the attention cache, the copy index) after
        `steps` (at tempo band `tempo`; the session cache reads `before` first), reusing a
        primed prefix. Only `prime` keeps what it read (so unprimed timings stay honest);
        the answer extends copies."""
        room = self.cfg.max_answer + 2
        primed = self._primed_prefix(steps, tempo, before)
        if primed is not None:
            out, h, cache, index = primed[1:5]
            rest = steps[len(primed[0]):]
            cache = cache.fork(len(rest) + room) if cache is not None else None
            index = index.copy() if index is not None else None
        else:
            out, h, rest = None, [np.zeros(self.cfg.d_model, dtype=np.float32)] * self.cfg.n_layers, steps
            cache = self.decoder.new_cache(len(steps) + room)
            index = self.new_index(before)
        if rest:  # every layer's input gates at once, then the recurrence (numpy: no torch dispatch)
            xs, h = self.decoder.read(rest, h) if tempo is None else self.decoder.read(rest, h, tempo)
            out = self.decoder.attend(xs, cache)
            if index is not None:
                index.read(rest)
        if keep:
            self._primed = (steps, out, h, cache, index.copy() if index is not None else None, tempo, before)
        return out, h, cache, index  # type: ignore[return-value]

    def new_index(self, before: Before = NOTHING_BEFORE) -> CopyIndex | None:
        """An empty copy index for this model's cells and the session cache (None: neither),
        the cache having read `before` (what the session played before the notes the model reads)."""
        c = self.cfg
        if not (c.copy_pitch or c.copy_shift or self.cache_runs):
            return None
        index = CopyIndex(c.copy_pitch, c.copy_shift, self.cache_runs, self.cache_weight, before[0])
        index.remember(before[1])
        return index

    def _primed_prefix(self, steps: list, tempo: int | None = None, before: Before = NOTHING_BEFORE) -> tuple | None:
        """What `prime` read (at the same tempo band, after the same `before`) that `steps`
        begin with, if any (the steps hold the chords under the notes, so equal steps mean
        an equal context)."""
        return next((p for p in (self._primed, self._primed_history)
                     if p is not None and p[5] == tempo and p[6][0] is before[0] and p[6][1] == before[1]
                     and len(p[0]) <= len(steps) and steps[:len(p[0])] == p[0]), None)


def _opening(settings: AnswerSettings) -> list[Note]:
    """The notes of the opening the plan forces that lie inside the answer's span, in order."""
    return [n for n in sorted(settings.constraints.opening) if 0 <= n.start < settings.length]


def _forced_tokens(settings: AnswerSettings) -> list:
    """The tokens of the opening the plan forces (the notes inside the answer's span): the
    first steps decoded, and the notes the feel plays as written."""
    opening = _opening(settings)
    return phrase_to_tokens(Phrase(tuple(opening), 0.0), lead=0) if opening else []


def call_dynamics(call: Phrase) -> Callable[[int], int]:
    """The velocity an answer note of velocity level `level` is played at, in the call's dynamics.

    The model learned velocities on each solo's own scale: its notes' loudness from the 5th to
    the 95th percentile spread over 30-120 (`improv.core.formats.wjazzd.loudness_to_velocity`),
    so it plays about as loud whatever the player's touch (a call at 35-50 was answered at a
    median of 62 and a tenth of its notes at 107). Its level is read back on the call's scale:
    the call's 5th to 95th percentile (at least `DYNAMICS_SPREAD` wide, so that accents stay
    audible on a call played at one velocity; centred no softer than `DYNAMICS_FLOOR`, so that a
    whispered call gets an answer a synth sounds) in place of 30-120. No call: as decoded."""
    vels = sorted(n.velocity for n in call.notes)
    if not vels:
        return lambda level: VELOCITIES[level]
    lo, hi = vels[int(0.05 * (len(vels) - 1))], vels[int(0.95 * (len(vels) - 1))]
    spread = min(126, max(DYNAMICS_SPREAD, hi - lo))  # (centred where it fits in 1-127: a call at 127 keeps its accents)
    centre = min(127 - spread / 2, max(DYNAMICS_FLOOR, 1 + spread / 2, (lo + hi) / 2))
    mid, scale = (VELOCITIES[0] + VELOCITIES[-1]) / 2, spread / (VELOCITIES[-1] - VELOCITIES[0])
    return lambda level: int(min(127, max(1, round(centre + (VELOCITIES[level] - mid) * scale))))

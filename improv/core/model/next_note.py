"""One note of a phrase-model answer drawn from the decoder's heads: shift (or END) -> pitch ->
duration -> velocity, each sampled with temperature and top-p (`sampling.sample`), with the
biases decoding lays on the logits first: the wanted density, no onset at or past the answer's
end and none with the note before (a single line), END held back until most of the span, the
register mask and the favoured, chord and avoided notes (`sampling`), and a note repeated, a
trill or a cell looped held back past its length (`improv.core.theory.loops`).

`NoteDrawer` keeps what repeats between notes (the changes' and the avoid biases per chord);
`improv.core.model.responder.ModelResponder` steps the decoder between the notes it draws.
"""

from __future__ import annotations

import math

import numpy as np

from improv.core.model.copying import CopyIndex
from improv.core.model.decoder import NumpyDecoder
from improv.core.model.inputs import END_SHIFT, bar_pos, chord_at
from improv.core.model.sampling import DENSITY_STRENGTH, avoid_bias, changes_bias, sample
from improv.core.model.tokens import MAX_DUR_TICKS, N_SHIFT, TICKS_PER_BEAT, NoteToken
from improv.core.respond.base import AnswerSettings
from improv.core.theory.chart import Chart
from improv.core.theory.loops import NO_LOOPS, Loops, held_back

# The answer's length is asked for (a live answer lasts the bars the engine gives it), so
# ending the phrase is held back (END's logit lowered) until this share of the span:
# sampled freely, the context-reading model stopped early and played 19 % fewer notes
# per beat than the real answers over the same spans (`improv eval`; 3 nats for v2, below;
# 0.65 of the span since the phrase endings: see HEAD_TEMPERATURE).
END_HOLD, END_HOLD_NATS = 0.65, 3.0
# Chosen on the valid split for v2 (models/README.md): each head's sampling temperature, times
# `settings.temperature` (pitch 0.9: chord tones on strong beats 0.93 -> 0.96 of the real answers');
# a one-tick duration (0.08 beat) lowered by 1 nat (notes under 0.1 beat 1.78 -> 1.06 times the real
# answers' share); END held back by 3 nats instead of 2 (notes per beat 0.91 -> 0.93 of theirs).
# With the phrase endings (endings.py): END held to 0.65 of the span instead of 0.75, and the
# duration head at 0.9 (valid, three seeds: classifier 0.705 -> 0.675 on all features, 0.679
# -> 0.654 on rhythm; notes per beat 0.94 -> 0.99 of the real answers').
HEAD_TEMPERATURE = {"shift": 1.0, "pitch": 0.9, "dur": 0.9, "vel": 1.0}
# The one-tick duration's penalty again after END_PAST_SPAN (below) took the notes crammed into the span's
# end away: at 1 nat the answers had 0.85 of the real answers' notes under 0.1 beat (valid, seeds 0, 1000,
# 2000: 0.81, 0.90, 0.85); at 0.75, 0.93 (0.91, 0.95, 0.93), the classifiers alike (all features 0.640 ->
# 0.643, rhythm 0.599 -> 0.603, within a run's spread; models/eval/v2-short-sweep.json, models/README.md).
SHORT_DUR_NATS = 0.75
# The shift head's share for onsets past the span goes to END (`NoteDrawer.draw`): it was spread over the short
# gaps still inside, so the answer ran into the span's end (valid, seeds 0 / 1000: classifier 0.671 / 0.684
# -> 0.639 / 0.643 on all features, 0.633 / 0.642 -> 0.586 / 0.598 on rhythm; models/README.md).
END_PAST_SPAN = True
SINGLE_LINE = True  # after the first note no two onsets coincide (v1 sampled 4 in 200 answers with a "chord")


class NoteDrawer:
    """Draws an answer's notes one at a time from `decoder`'s heads."""

    def __init__(self, decoder: NumpyDecoder) -> None:
        self.decoder = decoder
        self._changes_cache: dict = {}
        self._avoid_cache: dict = {}  # (chord, constraints, low, high) -> avoid bias, for guide

    def draw(self, out: np.ndarray, onset: int, length_ticks: int, i: int, last_pitch: int,
             harmony: Chart | None, origin: int, pitch_biases: tuple[np.ndarray, np.ndarray, float],
             settings: AnswerSettings,
             rng: np.random.Generator, shift_bias: np.ndarray | None = None,
             index: CopyIndex | None = None, loops: Loops = NO_LOOPS
             ) -> tuple[NoteToken, tuple[float, ...]] | None:
        """The next note and the chord features under it, or None at the end of the answer.
        `loops`: the runs the answer ends in, held back past their length (see `improv.core.theory.loops`)."""
        dec = self.decoder
        T, P = settings.temperature, settings.top_p
        logits = dec.shift_logits(out, index.shift_features() if index is not None and index.sk else None)
        room = length_ticks - 1 - onset  # the largest shift that still starts inside the answer
        if room < 0:
            return None
        if shift_bias is not None and i > 0:
            logits = logits + shift_bias
            if i < settings.density * settings.length * 0.8:  # type: ignore[operator]
                logits[END_SHIFT] -= DENSITY_STRENGTH  # not done yet: keep playing
        past = logits[max(0, room + 1):N_SHIFT]  # onsets past the answer's end
        wall = float(np.logaddexp.reduce(past)) if END_PAST_SPAN and len(past) else -math.inf
        logits[max(0, room + 1):N_SHIFT] = -np.inf
        if i > 0 and SINGLE_LINE:
            logits[0] = -np.inf  # a single line: no two notes start together
        if i == 0 or onset < settings.fill * length_ticks:
            logits[END_SHIFT] = -np.inf  # an answer has at least one note, and fills what it must
        else:
            if onset < END_HOLD * length_ticks:
                logits[END_SHIFT] -= END_HOLD_NATS
            # a next note the model would start past the span is the phrase ending here, not
            # one crammed into the last ticks (its share went to the short gaps: the answer
            # ran into the span's end and its last note rang on to it)
            logits[END_SHIFT] = np.logaddexp(logits[END_SHIFT], wall)
        shift = sample(logits, T * HEAD_TEMPERATURE["shift"], P, rng)
        if shift == END_SHIFT:
            return None
        tick = origin + onset + shift
        favour_bias, plain_bias, favour_ticks = pitch_biases
        feats = chord_at(harmony, tick)
        if onset + shift < favour_ticks:
            bias = favour_bias
        elif settings.constraints.changes > 0 and harmony is not None:
            chord, strength = harmony.chord_at(tick / TICKS_PER_BEAT), settings.constraints.changes
            changes = self._changes_cache.get((chord, strength))
            if changes is None:
                changes = self._changes_cache[(chord, strength)] = changes_bias(chord, strength)
            bias = plain_bias + changes
        else:
            bias = plain_bias
        if settings.constraints.avoid_pcs:
            chord = harmony.chord_at(tick / TICKS_PER_BEAT) if harmony is not None else None
            key = (chord, settings.constraints, settings.low, settings.high)
            avoid = self._avoid_cache.get(key)
            if avoid is None:
                avoid = self._avoid_cache[key] = avoid_bias(settings.constraints, chord, *register(settings))
                if len(self._avoid_cache) > 256:
                    self._avoid_cache.clear()
            bias = bias + avoid
        g1 = dec.g1(out, shift, bar_pos(tick, harmony), feats)
        cells = index.pitch_features() if index is not None and index.pk else None
        pitch_logits = dec.pitch_logits(g1, last_pitch, feats, cells)
        if index is not None and index.rk:  # the session's own licks, at their pitches
            pitch_logits = index.mix_pitch(pitch_logits)
        pitch_logits = pitch_logits + bias
        for held, nats in held_back(loops).items():
            pitch_logits[held] -= nats
        pitch = sample(pitch_logits, T * HEAD_TEMPERATURE["pitch"], P, rng)
        g2 = g1 + dec.t_pitch[pitch]
        dur_logits = dec.dur_logits(g2)
        dur_logits[0] -= SHORT_DUR_NATS
        dur = sample(dur_logits, T * HEAD_TEMPERATURE["dur"], P, rng) + 1
        vel = sample(dec.vel_logits(g2 + dec.t_dur[dur - 1]), T * HEAD_TEMPERATURE["vel"], P, rng)
        return NoteToken(shift, pitch, min(dur, MAX_DUR_TICKS), vel), feats


def register(settings: AnswerSettings) -> tuple[int, int]:
    """The answer's register (low, high) as MIDI notes: the two ends in order (a range given
    high to low is the same range) and each inside 0-127."""
    low, high = sorted((int(settings.low), int(settings.high)))
    return min(127, max(0, low)), min(127, max(0, high))

"""The built-in synth: a small additive/FM-flavoured voice bank in numpy, its presets,
keys, pedals and voice stealing (rendered to samples by improv/core/audio/synthrender.py).

Each voice is a few sine partials with their own exponential decay (the bright attack of
an electric piano dies faster than its body), a short attack ramp, and a release that
ramps to exact silence, so there are no clicks. A voice that has been held so long that
it has decayed below -80 dB releases itself; a sustaining organ voice lasts until its
note-off. Two voices ("player" = 0, "partner" = 1) each have a preset; the output is one
row per voice so that the caller can mix, pan or write stems. A third part, the bass (2),
plays the player's voice on its row but keys and pedals of its own (`VOICE_OF`): the
player's sustain pedal holds the player's notes, not the walking bass's. Within a part, a
key is also told apart by its `source` (the MIDI channel, or a file's track and channel):
the same pitch from two sources is two notes, each ended by its own note-off and held by
its own source's pedal, as on a multi-timbral synth. A note played `kit=True` (General MIDI's
drum channel, the click's) is a drum hit of the kit (improv/core/audio/kit.py): noise and
fast-dying tones at the key's drum sound's own frequencies, one shot (its note-off and the
pedal leave it alone).

Real-time use: `SynthState` holds the preallocated arrays that `render` works in, so that
a render allocates nothing but numpy's small view objects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from improv.core.audio.kit import drum_sound
from improv.core.listen.segment import KEYS_OFF_CCS, PEDAL_CC, RESET_CC, pedal_up

PARTS = ("player", "partner", "bass")
VOICE_OF = (0, 1, 0)  # each part's preset and output row: the bass on the player's voice
PARTIALS = 5
MAX_BLOCK = 1024  # longer renders are split internally (the output does not change)
SILENT_DB = -80.0  # a decaying voice below this releases itself
KIT_ATTACK_S, KIT_RELEASE_S, KIT_GAIN = 0.0003, 0.01, 0.2  # a drum hit's attack, cut-short release and level
# stereo placement: the player a little left, the partner a little right
PAN = np.array([[0.62, 0.38], [0.38, 0.62]], np.float32)  # rows: left, right; columns: player, partner


@dataclass(frozen=True)
class Preset:
    """A voice: partial frequency ratios, levels (soft and hard velocity), decay times.

    Attributes:
        ratios: partial frequency / note frequency.
        soft: partial levels at velocity 1.
        hard: partial levels at velocity 127 (brightness grows with velocity).
        decay_s: seconds for each partial to fall by 1/e at middle C (0 = sustains);
            an octave up decays sqrt(2) times faster.
        attack_s: attack ramp, seconds.
        release_s: release ramp to silence, seconds.
        gain: overall level.
    """

    ratios: tuple[float, ...]
    soft: tuple[float, ...]
    hard: tuple[float, ...]
    decay_s: tuple[float, ...]
    attack_s: float
    release_s: float
    gain: float


PRESETS: dict[str, Preset] = {
    # Rhodes-like: strong fundamental, a bell-like tine partial that flares and dies fast.
    "epiano": Preset((1.0, 2.0, 3.0, 4.0, 14.0), (1.0, 0.12, 0.03, 0.0, 0.02), (1.0, 0.45, 0.2, 0.08, 0.25),
                     (3.2, 1.4, 0.7, 0.35, 0.06), 0.002, 0.15, 0.16),
    # Soft drawbar organ: 8', 4', 2 2/3', 2', 1 1/3' that sustain while held.
    "organ": Preset((1.0, 2.0, 3.0, 4.0, 6.0), (0.9, 0.35, 0.12, 0.06, 0.0), (0.9, 0.5, 0.25, 0.15, 0.06),
                    (0.0, 0.0, 0.0, 0.0, 0.0), 0.012, 0.07, 0.12),
    # Vibraphone-like: the bar's inharmonic modes 1 : 3.9 : 9.5, long ring, soft mallet.
    "vibes": Preset((1.0, 3.93, 9.54, 2.0, 1.0), (1.0, 0.1, 0.01, 0.0, 0.0), (1.0, 0.35, 0.1, 0.03, 0.0),
                    (4.0, 0.8, 0.2, 1.0, 1.0), 0.001, 0.25, 0.15),
}
VOICES = tuple(PRESETS)


class SynthState:
    """Preallocated voice bank. Active voices are packed at indices [0, n).

    Args:
        sample_rate: Hz.
        polyphony: voices that may sound at once; one more steals the oldest or
            quietest, which fades out in 5 ms while the new note starts (up to `polyphony`
            more notes at once can each steal one that fades).
        voices: preset name per part (player, partner).
    """

    def __init__(self, sample_rate: int = 48000, polyphony: int = 32,
                 voices: tuple[str, str] = ("organ", "epiano")) -> None:
        for v in voices:
            if v not in PRESETS:
                raise ValueError(f"unknown voice {v!r}: choose one of {', '.join(VOICES)}")
        self.sample_rate = int(sample_rate)
        self.polyphony = int(polyphony)
        self.voices = tuple(voices)
        # spare slots for the voices being stolen while they fade (5 ms): as many as there are
        # voices, so that a downbeat of many notes at once over a full synth fades every
        # stolen voice out (with 8 spare, the 9th new note cut a voice off at full level)
        cap = self.capacity = 2 * self.polyphony + 8
        self.n = 0
        self.serial = 0  # note-on counter: orders voices by age for stealing
        # per voice
        self.age = np.zeros(cap)  # samples since note-on (exact integers in float64)
        self.age_u = np.zeros(cap, np.uint32)  # the same, modulo 2^32, for the phase
        self.rel_end = np.zeros(cap)  # age at which the release reaches silence (inf = held)
        self.rel_len = np.ones(cap)  # release length, samples
        self.inv_att = np.ones(cap)  # 1 / attack length in samples
        self.part = np.zeros(cap, np.int64)
        self.source = np.zeros(cap, np.int64)  # which channel (or file track) of the part played it
        self.pitch = np.zeros(cap, np.int64)
        self.order = np.zeros(cap, np.int64)  # serial at note-on
        self.level = np.zeros(cap)  # loudness estimate for stealing
        self.held = np.zeros(cap, bool)  # key still down (not released, not sustained)
        self.sustained = np.zeros(cap, bool)  # key up but the sustain pedal holds it
        self.noise = np.zeros(cap, np.float32)  # its noise burst's level (0: none)
        self.noise_neg = np.zeros(cap, np.float32)  # -1/decay of the noise, per sample
        self.seed = np.zeros(cap, np.uint32)  # where its noise starts in the hash
        # per voice and partial
        self.inc = np.zeros((cap, PARTIALS), np.uint32)  # cycles per sample in units of 2^-32
        self.amp = np.zeros((cap, PARTIALS), np.float32)
        self.negdec = np.zeros((cap, PARTIALS), np.float32)  # -1/decay, per sample
        self.pedal: set[tuple[int, int]] = set()  # (part, source) with the sustain pedal down
        self.mix = np.zeros((2, cap), np.float32)  # one-hot part of each voice
        # work buffers (flat, viewed as (n, P, F) etc. without copying)
        big = cap * PARTIALS * MAX_BLOCK
        self._ph = np.empty(big, np.uint32)
        self._ages_u = np.empty(cap * MAX_BLOCK, np.uint32)
        self._s = np.empty(big, np.float32)
        self._e = np.empty(big, np.float32)
        self._ages = np.empty(cap * MAX_BLOCK)
        self._ages32 = np.empty(cap * MAX_BLOCK, np.float32)
        self._env = np.empty(cap * MAX_BLOCK)
        self._env2 = np.empty(cap * MAX_BLOCK)
        self._v = np.empty(cap * MAX_BLOCK, np.float32)
        self._mixed = np.empty(2 * MAX_BLOCK, np.float32)
        self._ramp = np.arange(MAX_BLOCK, dtype=np.float64)
        self._ramp_u = np.arange(MAX_BLOCK, dtype=np.uint32)

    def copy(self) -> "SynthState":
        """An independent copy (for a functional style: `render(s.copy(), n)`)."""
        new = SynthState.__new__(SynthState)
        for k, v in self.__dict__.items():
            new.__dict__[k] = v.copy() if isinstance(v, (np.ndarray, list, set)) else v
        return new

    @property
    def sounding(self) -> int:
        """Voices producing sound (including releases)."""
        return self.n


# --------------------------------------------------------------------- events


def note_on(state: SynthState, part: int, pitch: int, velocity: int, source: int = 0, kit: bool = False) -> None:
    """Start a note (part 0 = player, 1 = partner, 2 = bass; `source`: the channel or track
    within the part that plays it; `kit`: a drum hit of key `pitch`, as on General MIDI's
    channel 10); velocity 0 is a note-off."""
    if velocity <= 0:
        note_off(state, part, pitch, source)
        return
    sr = state.sample_rate
    # the same key struck again by the same source: let the old note ring out
    for i in range(state.n):
        if state.part[i] == part and state.source[i] == source and state.pitch[i] == pitch \
                and (state.held[i] or state.sustained[i]):
            _release(state, i, state.rel_len[i])
    live = [i for i in range(state.n) if state.rel_end[i] - state.age[i] > 0.005 * sr]
    if len(live) >= state.polyphony:
        _release(state, _victim(state, live), 0.005 * sr)
    if state.n >= state.capacity:  # every spare slot busy fading: reuse the quietest
        free_voice(state, _victim(state, list(range(state.n))))
    i = state.n
    state.n += 1
    if kit:
        _drum_hit(state, i, pitch, velocity)
    else:
        _pitched(state, i, pitch, velocity, PRESETS[state.voices[VOICE_OF[part]]])
    state.part[i] = part
    state.source[i] = source
    state.pitch[i] = pitch
    state.order[i] = state.serial
    state.serial += 1
    state.held[i] = not kit  # (a drum hit is one shot: no key holds it, nor the pedal)
    state.sustained[i] = False
    state.mix[:, i] = 0.0
    state.mix[VOICE_OF[part], i] = 1.0


def _pitched(state: SynthState, i: int, pitch: int, velocity: int, p: Preset) -> None:
    """Voice `i` set up as a note of `pitch` on preset `p`."""
    sr = state.sample_rate
    v = velocity / 127.0
    freq = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
    speed = 2.0 ** ((pitch - 60) / 24.0)  # higher notes decay faster
    gain = p.gain * (0.15 + 0.85 * v ** 1.6)
    slowest = 0.0
    for k in range(PARTIALS):
        f = freq * p.ratios[k]
        a = (p.soft[k] + (p.hard[k] - p.soft[k]) * v) * gain if f < 0.45 * sr else 0.0
        state.inc[i, k] = int(round(f / sr * 2.0 ** 32)) if a > 0 else 0
        state.amp[i, k] = a
        d = p.decay_s[k] / speed
        state.negdec[i, k] = -1.0 / (d * sr) if d > 0 else 0.0
        if a > 0:
            slowest = math.inf if d <= 0 else max(slowest, d)
    rel = max(1.0, p.release_s * sr)
    state.age[i] = 0.0
    state.age_u[i] = 0
    state.rel_len[i] = rel
    # a decaying voice releases itself once below SILENT_DB (its slowest partial's 1/e
    # time x ln(10^(80/20))), so nothing held forever keeps a slot
    state.rel_end[i] = math.inf if slowest == math.inf else slowest * sr * (-SILENT_DB / 20 * math.log(10)) + rel
    state.inv_att[i] = 1.0 / max(1.0, p.attack_s * sr)
    state.level[i] = gain
    state.noise[i] = 0.0
    state.noise_neg[i] = 0.0


def _drum_hit(state: SynthState, i: int, key: int, velocity: int) -> None:
    """Voice `i` set up as a hit of drum key `key` (`drum_sound`): its tones at their own
    frequencies whatever the key's pitch, its noise burst; it ends once below `SILENT_DB`."""
    sr = state.sample_rate
    d = drum_sound(key)
    gain = KIT_GAIN * (0.15 + 0.85 * (velocity / 127.0) ** 1.6)
    slowest = d.noise_s if d.noise > 0 else 0.0
    state.inc[i] = 0
    state.amp[i] = 0.0
    state.negdec[i] = 0.0
    for k, (hz, level, decay_s) in enumerate(d.tones[:PARTIALS]):
        if hz < 0.45 * sr:
            state.inc[i, k] = int(round(hz / sr * 2.0 ** 32))
            state.amp[i, k] = level * gain
            state.negdec[i, k] = -1.0 / (decay_s * sr)
            slowest = max(slowest, decay_s)
    state.noise[i] = d.noise * gain
    state.noise_neg[i] = -1.0 / (d.noise_s * sr)
    state.seed[i] = (state.serial * 0x9E3779B1 + key) & 0xFFFFFFFF  # (each hit's noise its own)
    rel = max(1.0, KIT_RELEASE_S * sr)
    state.age[i] = 0.0
    state.age_u[i] = 0
    state.rel_len[i] = rel
    state.rel_end[i] = slowest * sr * (-SILENT_DB / 20 * math.log(10)) + rel
    state.inv_att[i] = 1.0 / max(1.0, KIT_ATTACK_S * sr)
    state.level[i] = gain


def note_off(state: SynthState, part: int, pitch: int, source: int = 0) -> None:
    """Release a key; with its source's sustain pedal down the note keeps sounding."""
    pedal = (part, source) in state.pedal
    for i in range(state.n):
        if state.part[i] == part and state.source[i] == source and state.pitch[i] == pitch and state.held[i]:
            state.held[i] = False
            if pedal:
                state.sustained[i] = True
            else:
                _release(state, i, state.rel_len[i])


def control_change(state: SynthState, part: int, control: int, value: int, source: int = 0) -> None:
    """Sustain pedal (64, for its source's notes; reset all controllers, 121, lifts it); all
    sound off (120: silence, pedals up) and all notes off (123, and the channel mode
    messages 124-127: every key let go, a note a pedal holds sounding on, as MIDI has it:
    keyboards that send one whenever the last key comes up, older Rolands, cut every
    pedalled note) for the whole part."""
    if control in KEYS_OFF_CCS:
        for i in range(state.n):
            if state.part[i] == part and state.held[i]:
                state.held[i] = False
                if (part, int(state.source[i])) in state.pedal:
                    state.sustained[i] = True
                else:
                    _release(state, i, state.rel_len[i])
    elif control in (PEDAL_CC, RESET_CC):
        if not pedal_up(control, value):
            state.pedal.add((part, source))
        else:
            state.pedal.discard((part, source))
            for i in range(state.n):
                if state.part[i] == part and state.source[i] == source and state.sustained[i]:
                    state.sustained[i] = False
                    _release(state, i, state.rel_len[i])
    elif control == 120:
        state.pedal -= {k for k in state.pedal if k[0] == part}
        fast = 0.005 * state.sample_rate
        for i in range(state.n):
            if state.part[i] == part:
                state.held[i] = state.sustained[i] = False
                _release(state, i, fast)


def all_notes_off(state: SynthState) -> None:
    """Release every voice of every part, pedals up (the panic button)."""
    state.pedal.clear()
    for i in range(state.n):
        state.held[i] = state.sustained[i] = False
        _release(state, i, state.rel_len[i])


def _release(state: SynthState, i: int, length: float) -> None:
    """Fade voice i to silence within `length` samples from now, starting from the
    level it has now (a release already under way that ends sooner is kept)."""
    state.held[i] = False
    age = state.age[i]
    end = age + length
    if end < state.rel_end[i]:
        now = min(1.0, max(0.0, (state.rel_end[i] - age) / state.rel_len[i]))
        if now <= 0.0:
            return
        state.rel_end[i] = end
        state.rel_len[i] = length / now  # the release factor stays continuous at `age`


def _victim(state: SynthState, candidates: list[int]) -> int:
    """The voice to steal: a released one, then one only the sustain pedal holds, then a key
    held down; among those the quietest (its level decays with age), then the oldest."""
    def key(i: int) -> tuple:
        decay = -float(state.negdec[i, 0]) * state.age[i]  # the fundamental carries the level
        return (bool(state.held[i]), bool(state.sustained[i]), state.level[i] * math.exp(-min(decay, 50.0)),
                state.order[i])

    return min(candidates, key=key)


def free_voice(state: SynthState, i: int) -> None:
    """Free voice `i`'s slot (its sound is over, or it must make room): the last active voice
    moves into it, so that the active voices stay packed at [0, n)."""
    last = state.n - 1
    if i != last:
        for arr in (state.age, state.age_u, state.rel_end, state.rel_len, state.inv_att, state.part, state.source,
                    state.pitch, state.order, state.level, state.held, state.sustained, state.noise, state.noise_neg,
                    state.seed):
            arr[i] = arr[last]
        state.inc[i] = state.inc[last]
        state.amp[i] = state.amp[last]
        state.negdec[i] = state.negdec[last]
        state.mix[:, i] = state.mix[:, last]
    state.mix[:, last] = 0.0
    state.n = last


def apply_message(state: SynthState, part: int, kind: int, data1: int, data2: int, source: int = 0,
                  kit: bool = False) -> None:
    """A raw channel message (status high nibble `kind`: 0x80 off, 0x90 on, 0xB0 CC) from
    `source` within the part; `kit`: its notes are drum hits (General MIDI's channel 10)."""
    if kind == 0x90:
        note_on(state, part, data1, data2, source, kit)
    elif kind == 0x80:
        note_off(state, part, data1, source)
    elif kind == 0xB0:
        control_change(state, part, data1, data2, source)

"""The built-in synth's sound: its voice bank (improv/core/audio/synth.py) rendered to samples.

It stands apart from the voice bank's keys, pedals and stealing because it is the other
idea of the synth: numpy over preallocated buffers, the audio callback's cost, where the
voice bank is per-message bookkeeping in plain Python.

Every sample is a closed-form function of the voice's age (samples since its note-on),
so `render(state, frames)` gives the same output whatever the block size: rendering
1 + 7 + 64 + 512 frames equals rendering 584 at once. Note-on/off take effect at the
first sample of the next `render` call, so a caller places them at exact sample offsets
by splitting its block there (`render_events` does that). A drum hit's noise is a hash of
the voice's age, so it too is the same for any block size.

Real-time use: `SynthState` holds preallocated arrays and `render` writes into them and
into `out`; only numpy's small view objects are created per call. `render` advances the
state in place and returns it (call `state.copy()` first to keep the old one).
"""

from __future__ import annotations

import math

import numpy as np

from improv.core.audio.synth import MAX_BLOCK, PARTIALS, SynthState, apply_message, free_voice

_HASH = (np.uint32(0x9E3779B1), np.uint32(0x85EBCA6B), np.uint32(0xC2B2AE35))  # the noise's integer hash
_PHASE_TO_RAD = np.float32(2.0 * math.pi / 2.0 ** 32)


def render(state: SynthState, frames: int, out: np.ndarray | None = None) -> tuple[SynthState, np.ndarray]:
    """Render `frames` samples: returns (state advanced by `frames`, block).

    Args:
        out: optional float32 array of shape (2, >= frames) to write into (the
            real-time path passes a preallocated one); rows are player, partner.

    Returns:
        The state and a float32 (2, frames) block, one row per part.
    """
    if out is None:
        out = np.zeros((2, frames), np.float32)
    done = 0
    while done < frames:
        f = min(MAX_BLOCK, frames - done)
        _render_block(state, f, out[:, done:done + f])
        done += f
    return state, out[:, :frames]


def _render_block(state: SynthState, f: int, out: np.ndarray) -> None:
    n = state.n
    if n == 0:
        out[:] = 0.0
        return
    ages = state._ages[:n * f].reshape(n, f)
    np.add(state.age[:n, None], state._ramp[:f], out=ages)
    ph = state._ph[:n * PARTIALS * f].reshape(n, PARTIALS, f)
    s = state._s[:n * PARTIALS * f].reshape(n, PARTIALS, f)
    e = state._e[:n * PARTIALS * f].reshape(n, PARTIALS, f)
    # oscillators: sin(2 pi frac(age * inc)); the phase is exact: uint32 products wrap
    # modulo 2^32, which is taking the fractional part of the cycle count
    ages_u = state._ages_u[:n * f].reshape(n, f)
    np.add(state.age_u[:n, None], state._ramp_u[:f], out=ages_u)
    np.multiply(ages_u[:, None, :], state.inc[:n, :, None], out=ph)
    np.multiply(ph, _PHASE_TO_RAD, out=s, casting="unsafe")
    np.sin(s, out=s)
    # per-partial decay: exp(-age / decay)
    ages32 = state._ages32[:n * f].reshape(n, f)
    ages32[:] = ages
    np.multiply(ages32[:, None, :], state.negdec[:n, :, None], out=e)
    np.exp(e, out=e)
    np.multiply(s, e, out=s)
    np.multiply(s, state.amp[:n, :, None], out=s)
    v = state._v[:n * f].reshape(n, f)
    np.sum(s, axis=1, out=v)
    if state.noise[:n].any():  # drum hits sound: their noise, in the partials' buffers (free now)
        _add_noise(state, n, f, ages_u, ages32, v)
    # attack ramp min(1, (age + 1) / attack) and release ((rel_end - age) / rel_len)^2 in [0, 1]
    env = state._env[:n * f].reshape(n, f)
    env2 = state._env2[:n * f].reshape(n, f)
    np.add(ages, 1.0, out=env)
    np.multiply(env, state.inv_att[:n, None], out=env)
    np.minimum(env, 1.0, out=env)
    np.subtract(state.rel_end[:n, None], ages, out=env2)
    np.divide(env2, state.rel_len[:n, None], out=env2)
    np.clip(env2, 0.0, 1.0, out=env2)
    np.multiply(env2, env2, out=env2)
    np.multiply(env, env2, out=env)
    np.multiply(v, env, out=v, casting="same_kind")
    mixed = state._mixed[:2 * f].reshape(2, f)
    np.dot(state.mix[:, :n], v, out=mixed)
    out[:] = mixed
    state.age[:n] += f
    state.age_u[:n] += np.uint32(f)
    # free the voices whose release has ended (from the end, so indices stay valid)
    for i in range(n - 1, -1, -1):
        if state.age[i] >= state.rel_end[i]:
            free_voice(state, i)


def _add_noise(state: SynthState, n: int, f: int, ages_u: np.ndarray, ages32: np.ndarray, v: np.ndarray) -> None:
    """Add each voice's noise burst to `v` (n, f): white noise that is a hash of the voice's
    age and seed (so any block size gives the same samples), times its level and decay."""
    h = state._ph[:n * f].reshape(n, f)
    np.add(ages_u, state.seed[:n, None], out=h)
    shifted = ages_u  # (read for the last time above: its buffer holds the shifts)
    np.multiply(h, _HASH[0], out=h)
    for k in (1, 2, 0):  # (murmur3's finaliser: neighbouring ages come out unrelated)
        np.right_shift(h, np.uint32(16), out=shifted)
        np.bitwise_xor(h, shifted, out=h)
        if k:
            np.multiply(h, _HASH[k], out=h)
    w = state._s[:n * f].reshape(n, f)
    np.multiply(h, np.float32(2.0 / 2.0 ** 32), out=w, casting="unsafe")  # [0, 2)
    np.subtract(w, np.float32(1.0), out=w)  # [-1, 1)
    e = state._e[:n * f].reshape(n, f)
    np.multiply(ages32, state.noise_neg[:n, None], out=e)
    np.exp(e, out=e)
    np.multiply(e, state.noise[:n, None], out=e)
    np.multiply(w, e, out=w)
    np.add(v, w, out=v)


def render_events(state: SynthState, frames: int, events: list[tuple[int, int, int, int, int]],
                  out: np.ndarray | None = None) -> tuple[SynthState, np.ndarray]:
    """Render `frames` samples applying events at exact sample offsets.

    Args:
        events: (offset in samples from the block start, part, kind, data1, data2),
            sorted by offset; offsets outside [0, frames) are clamped.
    """
    if out is None:
        out = np.zeros((2, frames), np.float32)
    pos = 0
    for off, part, kind, d1, d2 in events:
        off = min(max(int(off), 0), frames)
        if off > pos:
            render(state, off - pos, out[:, pos:off])
            pos = off
        apply_message(state, part, kind, d1, d2)
    if pos < frames:
        render(state, frames - pos, out[:, pos:frames])
    return state, out[:, :frames]


def soft_clip(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """tanh saturation: transparent at normal levels, never reaches full scale."""
    return np.tanh(x, out=x if out is None else out)

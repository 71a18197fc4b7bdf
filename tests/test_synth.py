import math

import numpy as np
import pytest

from improv.core.audio.synth import (
    PRESETS,
    SynthState,
    all_notes_off,
    control_change,
    note_off,
    note_on,
)
from improv.core.audio.synthrender import render, render_events

SR = 48000


def play_script(state, block):
    """A little score rendered in blocks of `block` frames: (sample, part, kind, d1, d2)."""
    score = [(0, 1, 0x90, 60, 100), (0, 1, 0x90, 64, 90), (5, 0, 0x90, 72, 60), (333, 0, 0x80, 72, 0),
             (900, 1, 0xB0, 64, 127), (1000, 1, 0x80, 60, 0), (1500, 1, 0xB0, 64, 0), (2000, 0, 0x90, 48, 127),
             (2001, 0, 0x90, 48, 127), (4000, 1, 0x80, 64, 0), (6000, 0, 0x80, 48, 0)]
    total = 12000
    out = np.zeros((2, total), np.float32)
    pos = 0
    while pos < total:
        f = min(block, total - pos)
        events = [(t - pos, p, k, a, b) for t, p, k, a, b in score if pos <= t < pos + f]
        render_events(state, f, events, out[:, pos:pos + f])
        pos += f
    return out


@pytest.mark.parametrize("block", [1, 7, 64, 512])
def test_output_is_the_same_for_any_block_size(block):
    whole = play_script(SynthState(SR), 12000)
    parts = play_script(SynthState(SR), block)
    assert np.max(np.abs(whole - parts)) <= 1e-6  # bit-identical here; allow last-ulp SIMD differences


def test_render_api_is_pure_given_a_copy():
    s = SynthState(SR)
    note_on(s, 1, 60, 100)
    a = render(s.copy(), 256)[1]
    b = render(s.copy(), 256)[1]
    assert np.array_equal(a, b) and np.abs(a).max() > 0.01


def test_silence_when_idle_and_no_nan():
    s = SynthState(SR)
    _, block = render(s, 1000)
    assert not block.any()
    note_on(s, 1, 60, 127)
    _, block = render(s, 4800)
    assert np.isfinite(block).all()
    assert np.abs(block[1]).max() > 0.05 and not block[0].any()  # partner row only


@pytest.mark.parametrize("voice", list(PRESETS))
def test_release_ends_in_silence_and_frees_the_voice(voice):
    s = SynthState(SR, voices=(voice, voice))
    note_on(s, 0, 69, 100)
    render(s, 4800)
    note_off(s, 0, 69)
    release = int(PRESETS[voice].release_s * SR) + 1
    _, tail = render(s, release)
    assert np.abs(tail[0, :32]).max() > 0.001  # still sounding just after the key is up
    assert s.n == 0
    _, after = render(s, 256)
    assert not after.any()


def test_no_clicks_at_note_on_and_off():
    s = SynthState(SR)
    note_on(s, 1, 60, 127)
    _, block = render(s, 9600)
    note_off(s, 1, 60)
    _, tail = render(s, 9600)
    y = np.concatenate([block[1], tail[1]])
    assert abs(y[0]) < 0.01  # starts from silence
    peak_step = np.abs(np.diff(y)).max()
    # a click is a jump; the steepest step of a 262 Hz tone with bright partials stays
    # far below the level of the tone itself
    assert peak_step < 0.5 * np.abs(y).max()
    assert abs(y[-1]) == 0.0


def test_held_decaying_note_frees_itself():
    s = SynthState(SR, voices=("epiano", "epiano"))
    note_on(s, 1, 96, 100)
    for _ in range(30):
        render(s, SR)  # 30 s held
    assert s.n == 0


def test_32_voices_then_stealing_keeps_the_newest():
    s = SynthState(SR, polyphony=32, voices=("organ", "organ"))  # no decay: all equally loud
    for k in range(40):
        note_on(s, k % 2, 30 + k, 100)
        render(s, 64)
    assert s.n <= s.capacity
    live = [s.pitch[i] for i in range(s.n) if s.held[i]]
    assert len(live) == 32 and set(range(38, 70)) <= set(live)  # the oldest 8 were stolen
    render(s, SR // 100)  # stolen voices have faded (5 ms)
    assert s.n == 32
    _, block = render(s, 1024)
    assert np.isfinite(block).all()


def test_peak_below_full_scale_with_everything_sounding():
    from improv.core.audio.synthrender import soft_clip

    s = SynthState(SR)
    for k in range(32):
        note_on(s, k % 2, 48 + k, 127)
    _, block = render(s, 4800)
    raw = block.sum(axis=0)
    assert np.abs(raw).max() < 3.0  # 32 voices at full velocity: saturated by the soft clip, not flattened
    mix = soft_clip(raw.copy())
    assert np.abs(mix).max() < 1.0
    one = SynthState(SR)
    note_on(one, 0, 60, 100)
    _, block = render(one, 4800)
    peak = float(np.abs(block.sum(axis=0)).max())
    assert 0.02 < peak < 0.2 and abs(math.tanh(peak) - peak) < 0.003  # a note at normal level: the clip transparent


def test_sustain_pedal_and_all_notes_off():
    s = SynthState(SR)
    control_change(s, 0, 64, 127)
    note_on(s, 0, 60, 100)
    note_off(s, 0, 60)
    render(s, SR // 2)
    assert s.n == 1  # the pedal holds it
    control_change(s, 0, 64, 0)
    render(s, SR // 2)
    assert s.n == 0
    for p in (60, 64, 67):
        note_on(s, 1, p, 90)
    all_notes_off(s)
    render(s, SR)
    assert s.n == 0


def test_repeated_key_restarts_and_unknown_voice():
    s = SynthState(SR)
    note_on(s, 1, 60, 100)
    note_on(s, 1, 60, 100)
    assert sum(bool(s.held[i]) for i in range(s.n)) == 1
    note_off(s, 1, 60)
    render(s, SR)
    assert s.n == 0
    with pytest.raises(ValueError, match="unknown voice 'kazoo'"):
        SynthState(SR, voices=("kazoo", "epiano"))


def test_stealing_takes_a_released_or_quiet_voice_first():
    s = SynthState(SR, polyphony=4, voices=("organ", "organ"))
    note_on(s, 0, 60, 127)
    note_on(s, 0, 62, 10)  # soft
    note_on(s, 0, 64, 127)
    note_on(s, 0, 65, 127)
    note_on(s, 0, 67, 127)
    assert sorted(s.pitch[i] for i in range(s.n) if s.held[i]) == [60, 64, 65, 67]
    note_off(s, 0, 64)  # released: goes before any held voice
    note_on(s, 0, 69, 127)
    assert sorted(s.pitch[i] for i in range(s.n) if s.held[i]) == [60, 65, 67, 69]


def test_the_players_pedal_does_not_hold_the_bass_which_sounds_on_the_players_voice():
    """The walking bass played on the player's part, and the pedal is kept per part: with
    the player's pedal down every bass note-off was sustained and the line piled up into a
    ringing cluster (and stole the player's voices). The bass is a part of its own now, on
    the player's voice and output row."""
    from improv.core.audio.synth import PARTS, VOICE_OF

    bass = PARTS.index("bass")
    assert VOICE_OF[bass] == 0
    s = SynthState(SR)
    control_change(s, 0, 64, 127)  # the player's pedal down
    note_on(s, 0, 72, 80)
    for pitch in (41, 43, 45, 46):  # the bass walks
        note_on(s, bass, pitch, 90)
        render(s, SR // 10)
        note_off(s, bass, pitch)
    render(s, SR // 2)
    assert [int(p) for p in s.pitch[:s.n]] == [72]  # only the player's key rings on
    note_on(s, bass, 41, 90)
    _, block = render(s, 256)
    assert np.abs(block[0]).max() > 0 and not block[1].any()  # the bass on the player's row
    control_change(s, 0, 123, 0)  # the player's all-notes-off leaves the bass alone
    render(s, SR // 2)
    assert 41 in [int(p) for p in s.pitch[:s.n]]
    all_notes_off(s)
    render(s, SR)
    assert s.n == 0


def test_the_same_pitch_from_two_sources_of_a_part_is_two_notes():
    """A pad's held G3 and the bass's short G3 on another channel (a DAW export, or the
    comping and the partner on one voice live): the bass's note-off ended the pad's note
    and its note-on cut it. Each source now ends and pedals its own keys."""
    s = SynthState(SR)
    note_on(s, 1, 55, 80, source=1)  # the pad
    render(s, SR // 4)
    note_on(s, 1, 55, 80, source=2)  # the bass, same pitch
    render(s, SR // 8)
    note_off(s, 1, 55, source=2)
    render(s, SR)
    assert [(int(s.source[i]), bool(s.held[i])) for i in range(s.n)] == [(1, True)]  # the pad still holds
    control_change(s, 1, 64, 127, source=2)  # the other source's pedal does not hold the pad
    note_off(s, 1, 55, source=1)
    render(s, SR)
    assert s.n == 0
    control_change(s, 1, 64, 127, source=1)
    note_on(s, 1, 60, 90, source=1)
    note_off(s, 1, 60, source=1)
    render(s, SR // 2)
    assert s.n == 1  # its own pedal holds it
    all_notes_off(s)  # and the panic lifts every source's pedal
    render(s, SR)
    assert s.n == 0 and not s.pedal


def test_the_keyboards_all_notes_off_leaves_the_notes_the_pedal_holds():
    """MIDI's All Notes Off lets every key go, and a note the sustain pedal holds sounds on
    until the pedal comes up: keyboards that send one whenever the last key comes up (older
    Rolands) had every pedalled note cut on the built-in synth. The panic still silences all."""
    s = SynthState(SR)
    control_change(s, 0, 64, 127)
    for p in (60, 64):
        note_on(s, 0, p, 100)
    control_change(s, 0, 123, 0)
    render(s, SR // 2)
    assert s.n == 2  # held by the pedal
    control_change(s, 0, 64, 0)
    render(s, SR)
    assert s.n == 0
    note_on(s, 0, 67, 100)
    control_change(s, 0, 123, 0)  # no pedal: let go
    render(s, SR)
    assert s.n == 0
    control_change(s, 0, 64, 127)
    note_on(s, 0, 60, 100)
    control_change(s, 0, 120, 0)  # all sound off: silence, pedal or not
    render(s, SR // 10)
    assert s.n == 0 and not s.pedal


@pytest.mark.parametrize("cc", [124, 125, 126, 127])
def test_the_other_channel_mode_messages_let_every_key_go_and_a_reset_lifts_the_pedal(cc):
    """Omni off/on and mono/poly (CC 124-127) let every key go, as all notes off does;
    reset all controllers (121) puts the pedal up. Sent by keyboards' panic and reset
    buttons, they left the keys sounding and the pedal down on the built-in synth."""
    s = SynthState(SR)
    note_on(s, 0, 60, 100)
    control_change(s, 0, cc, 0)
    render(s, SR)
    assert s.n == 0
    control_change(s, 0, 64, 127)
    note_on(s, 0, 64, 100)
    control_change(s, 0, cc, 0)
    render(s, SR // 2)
    assert s.n == 1  # the pedal holds it
    control_change(s, 0, 121, 0)
    render(s, SR)
    assert s.n == 0 and not s.pedal
    control_change(s, 0, 64, 127)
    note_on(s, 0, 60, 100)
    note_off(s, 0, 60)
    all_notes_off(s)  # the panic button
    render(s, SR)
    assert s.n == 0 and not s.pedal


def test_a_downbeat_of_many_notes_over_a_full_synth_fades_the_stolen_voices_out():
    """Every voice sounding (the pedal down), the band's downbeat and the player's chord struck
    at once: each new note steals a voice, which fades out in 5 ms, but only 8 spare slots held
    the fading ones, so from the 9th new note on a stolen voice was cut off at full level: a
    click. The stolen voices now all fade, however many notes come at once (up to the
    polyphony)."""
    s = SynthState(SR, polyphony=32, voices=("organ", "organ"))  # the organ sustains: no decay hides a cut
    for src in range(32):  # one low C from each of 32 sources: a smooth wave, 32 voices deep
        note_on(s, 0, 36, 100, source=src)
    _, before = render(s, 4800)
    before = before[0].copy()
    at = 2400 + int(np.argmax(np.abs(before[2400:])))  # strike where the wave is at its crest
    s2 = SynthState(SR, polyphony=32, voices=("organ", "organ"))
    for src in range(32):
        note_on(s2, 0, 36, 100, source=src)
    _, head = render(s2, at)
    head = head[0].copy()
    assert np.abs(head[-1]) > 0.5 * np.abs(before).max()
    for k in range(20):  # 20 notes at once on the other row: comping, bass, a two-handed chord
        note_on(s2, 1, 60 + k, 100)
    assert sum(bool(s2.held[i]) for i in range(s2.n)) == 32
    _, after = render(s2, SR // 10)
    y = np.concatenate([head, after[0]])
    steady = np.abs(np.diff(head[2400:])).max()
    assert np.abs(np.diff(y[at - 1:])).max() <= 1.5 * steady  # no step beyond the wave's own
    assert np.abs(after[0, -2400:]).max() < 0.5 * np.abs(head).max()  # 20 of 32 voices gone


def test_a_key_still_held_down_outlasts_the_notes_only_the_pedal_holds():
    """On the organ (no decay to tell voices apart), pedal down, the left hand holding a low C
    while the right runs up 40 keys: the stealing counted a pedalled note as held, so the
    oldest voice went first, the low C, its key still down, while the run's released keys
    rang on. Notes only the pedal holds are stolen before keys held down (as FluidSynth
    ranks them)."""
    s = SynthState(SR, polyphony=32, voices=("organ", "organ"))
    control_change(s, 0, 64, 127)
    note_on(s, 0, 36, 100)  # held down throughout
    for k in range(40):
        note_on(s, 0, 48 + k, 100)
        render(s, SR // 20)
        note_off(s, 0, 48 + k)
    i = [int(s.pitch[j]) for j in range(s.n) if s.held[j]]
    assert i == [36]
    # and it is heard: the low C alone once the pedal comes up
    control_change(s, 0, 64, 0)
    render(s, SR // 2)
    _, block = render(s, SR // 10)
    assert s.n == 1 and np.abs(block[0]).max() > 0.05


def band(x, sr, lo, hi):
    """The energy of `x` between `lo` and `hi` Hz."""
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1.0 / sr)
    return float(spectrum[(f >= lo) & (f < hi)].sum())


@pytest.mark.parametrize("key", [76, 77, 33, 42, 38, 36])
def test_a_drum_hit_is_a_short_burst_not_a_note_of_the_keys_pitch(key):
    """General MIDI's channel 10 is a drum kit: the click's wood blocks (76, 77) played on it
    were the electric piano's E5 and F5, ringing for seconds under the band. A hit is a burst
    that has died away within a tenth of a second (what sounds after it is under a thousandth
    of its first 20 ms; a kick's or a snare's low body within 0.3 s), with next to nothing at
    the key's pitch, and frees its voice."""
    s = SynthState(SR)
    note_on(s, 1, key, 100, kit=True)
    x = render(s, SR)[1][1].astype(np.float64)
    head = float(np.sum(x[:SR // 50] ** 2))  # the first 20 ms
    gone = 0.3 if key in (36, 38) else 0.1  # (a kick's and a snare's body, low, lasts a little longer)
    assert head > 0 and float(np.sum(x[int(gone * SR):] ** 2)) < 1e-3 * head
    pitch = 440.0 * 2 ** ((key - 69) / 12)
    assert band(x, SR, pitch * 0.97, pitch * 1.03) < 0.05 * band(x, SR, 20, SR / 2)
    assert s.n == 0 and not x[-100:].any()


def test_the_high_and_the_low_wood_block_are_told_apart():
    """The click's downbeat (76, high) and its other beats (77, low) stay two sounds."""
    def centroid(key):
        s = SynthState(SR)
        note_on(s, 1, key, 100, kit=True)
        x = render(s, SR // 10)[1][1].astype(np.float64)
        spectrum = np.abs(np.fft.rfft(x)) ** 2
        return float((np.fft.rfftfreq(len(x), 1.0 / SR) * spectrum).sum() / spectrum.sum())

    assert centroid(76) > 1.15 * centroid(77)


def test_a_drum_hit_is_one_shot_whatever_its_note_off_and_the_pedal_do():
    """A drum module plays a hit out however short the key's note; the pedal holds nothing."""
    def hit(then):
        s = SynthState(SR)
        note_on(s, 1, 38, 110, source=9, kit=True)
        a = render(s, 240)[1].copy()
        then(s)
        return np.concatenate([a, render(s, SR // 4)[1]], axis=1)

    alone = hit(lambda s: None)
    assert np.array_equal(hit(lambda s: note_off(s, 1, 38, 9)), alone)
    assert np.array_equal(hit(lambda s: (control_change(s, 1, 64, 127, 9), note_off(s, 1, 38, 9))), alone)
    cut = hit(all_notes_off)  # a panic still ends it, over a short release
    assert np.abs(cut[1, 240:240 + 48]).max() > 0.01 and np.abs(cut[:, 240 + SR // 50:]).max() < 1e-6


@pytest.mark.parametrize("block", [1, 7, 64, 512])
def test_drum_hits_are_the_same_for_any_block_size(block):
    """The noise is a function of each voice's age, as the tones are: a block size changes nothing."""
    def hits(block):
        s = SynthState(SR)
        score = [(0, 42, 90), (100, 76, 100), (1000, 38, 120), (1003, 42, 60)]
        total = 6000
        out = np.zeros((2, total), np.float32)
        for start in range(0, total, block):
            end = min(start + block, total)
            cur = start
            for t, key, vel in score:
                if start <= t < end:
                    render(s, t - cur, out[:, cur:t])
                    cur = t
                    note_on(s, 1, key, vel, kit=True)
            render(s, end - cur, out[:, cur:end])
        return out

    assert np.max(np.abs(hits(6000) - hits(block))) <= 1e-6

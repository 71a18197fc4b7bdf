"""The built-in synth's drum kit: what each General MIDI drum key (channel 10) sounds like.

A drum hit is a burst of noise and a few fast-dying sine tones at fixed frequencies (not
at the key's pitch: key 76, the click's high wood block, is a knock, not an E), the same
closed-form voice the synth plays pitched notes with (improv/core/audio/synth.py), one
shot: the key's note-off and the sustain pedal do not touch it. Good enough to keep time
by and to hear a song's groove under its harmony; a General MIDI SoundFont
(`--soundfont`) plays a real kit.
"""

from __future__ import annotations

from dataclasses import dataclass

GM_DRUM_CHANNEL = 9  # MIDI channel 10, 0-based: a General MIDI module's drum kit


@dataclass(frozen=True)
class DrumSound:
    """One key's hit.

    Attributes:
        tones: (Hz, level, seconds to fall by 1/e) of each sine, at most the synth's partials.
        noise: level of the white noise burst.
        noise_s: seconds for the noise to fall by 1/e.
    """

    tones: tuple[tuple[float, float, float], ...]
    noise: float
    noise_s: float


def _click(hz: float, ring_s: float = 0.012) -> DrumSound:
    """A knock: a short high tone over a shorter tick of noise (wood blocks, claves, sticks)."""
    return DrumSound(((hz, 0.8, ring_s), (hz * 2.76, 0.25, ring_s / 2)), 0.5, 0.002)


def _tom(hz: float) -> DrumSound:
    return DrumSound(((hz, 1.0, 0.12), (hz * 1.6, 0.3, 0.05)), 0.25, 0.008)


_CYMBAL = DrumSound(((3150.0, 0.12, 0.3),), 0.45, 0.45)
KIT: dict[int, DrumSound] = {
    31: _click(2500.0), 33: _click(2000.0, 0.008), 34: _click(2600.0, 0.06),  # sticks, metronome click and bell
    35: DrumSound(((52.0, 1.0, 0.08), (98.0, 0.35, 0.03)), 0.25, 0.003),  # kick drums
    36: DrumSound(((58.0, 1.0, 0.07), (110.0, 0.35, 0.03)), 0.3, 0.003),
    37: _click(1800.0, 0.01),  # side stick
    38: DrumSound(((185.0, 0.5, 0.04), (330.0, 0.3, 0.03)), 0.8, 0.05),  # snares, the clap between
    39: DrumSound((), 1.0, 0.035),
    40: DrumSound(((200.0, 0.45, 0.035), (350.0, 0.3, 0.025)), 0.9, 0.06),
    41: _tom(75.0), 43: _tom(90.0), 45: _tom(110.0), 47: _tom(130.0), 48: _tom(155.0), 50: _tom(185.0),
    42: DrumSound((), 0.55, 0.012), 44: DrumSound((), 0.45, 0.01),  # hi-hat closed and pedal
    46: DrumSound((), 0.55, 0.12),  # hi-hat open
    49: _CYMBAL, 52: _CYMBAL, 55: DrumSound((), 0.45, 0.25), 57: _CYMBAL,  # crashes, china, splash
    51: DrumSound(((3400.0, 0.15, 0.35),), 0.3, 0.3), 59: DrumSound(((3600.0, 0.15, 0.35),), 0.3, 0.3),  # rides
    53: DrumSound(((2900.0, 0.35, 0.4),), 0.25, 0.15),  # ride bell
    54: DrumSound((), 0.5, 0.03), 69: DrumSound((), 0.4, 0.03), 70: DrumSound((), 0.45, 0.02),  # shakers
    56: DrumSound(((560.0, 0.6, 0.08), (845.0, 0.5, 0.08)), 0.1, 0.003),  # cowbell
    75: _click(2500.0, 0.02), 76: _click(1700.0), 77: _click(1250.0),  # claves, hi and low wood block
}
DEFAULT = _click(1500.0)  # any other key (congas, bongos, timbales...): a knock, still not its pitch


def drum_sound(key: int) -> DrumSound:
    """What General MIDI drum key `key` (0-127) plays on the built-in kit."""
    return KIT.get(key, DEFAULT)

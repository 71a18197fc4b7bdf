"""General MIDI SoundFont playback through tinysoundfont (an optional extra).

`load_soundfont(path, sample_rate)` returns a `SoundFontSynth` with the same two calls the
built-in synth offers the audio callback and the offline renderer: `message(part, kind,
d1, d2)` and `render(frames, out)` writing one row per part. The player plays on MIDI
channel 1 (GM program 1, acoustic piano by default), the partner on channel 2 (GM program
5, electric piano), each rendered separately so that stems stay possible; the bass plays
GM program 33 (acoustic bass, or the live band's `band.bass_program`) on the player's synth,
on a channel of its own.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from improv.core.audio.synth import PARTS, VOICE_OF
from improv.core.listen.segment import ALL_OFF_CCS, KEYS_OFF_CCS, PEDAL_CC, RESET_CC, pedal_up
from improv.errors import ConfigError

INSTALL_HINT = "pip install --no-deps tinysoundfont (improv uses its synth only, not the pyaudio it asks for)"
PROGRAMS = (0, 4)  # GM programs (0-based): acoustic grand piano, electric piano 1
BASS_PROGRAM, BASS_CHANNEL = 32, 1  # acoustic bass, on a channel of the player's synth
BASS_PART = PARTS.index("bass")


class SoundFontSynth:
    """Two tinysoundfont synths (one per part) on one loaded SoundFont."""

    def __init__(self, path: Path, sample_rate: int, programs: tuple[int, int] = PROGRAMS,
                 bass_program: int = BASS_PROGRAM) -> None:
        import tinysoundfont

        self.sample_rate = sample_rate
        self._synths = []
        self._buf = np.zeros(2 * 4096, np.float32)
        # tinysoundfont has no sustain pedal (it ignores CC 64): the pedal is kept here, and
        # a key let go while it is down is ended when it comes up, as the built-in synth does
        self._pedal: set[tuple[int, int]] = set()  # (synth, channel) with the pedal down
        self._sustained: Counter[tuple[int, int, int]] = Counter()  # (synth, channel, key) -> note-offs held
        self._down: Counter[tuple[int, int, int]] = Counter()  # (synth, channel, key) -> strikes not let go
        for program in programs:
            synth = tinysoundfont.Synth(samplerate=sample_rate)
            try:
                sfid = synth.sfload(str(path))
            except Exception as e:
                raise ConfigError(f"{path} is not a SoundFont tinysoundfont can read ({e}); "
                                  "point --soundfont at a General MIDI .sf2 file") from None
            for ch, prog in ((0, program), (BASS_CHANNEL, bass_program)) if not self._synths else ((0, program),):
                try:
                    synth.program_select(ch, sfid, 0, prog)
                except Exception:  # a small font without that program: its first one
                    first = next((p for p in range(128) if synth.sfpreset_name(sfid, 0, p) is not None), None)
                    if first is None:
                        raise ConfigError(f"{path} has no instrument in bank 0, where General MIDI's are; "
                                          "point --soundfont at a General MIDI .sf2 file") from None
                    synth.program_select(ch, sfid, 0, first)
            self._synths.append(synth)

    def message(self, part: int, kind: int, d1: int, d2: int) -> None:
        """Apply a channel message (status nibble `kind`) to one part (the bass: a channel
        of its own on the player's synth, so that the player's pedal does not hold it)."""
        which = VOICE_OF[part]
        synth = self._synths[which]
        ch = BASS_CHANNEL if part == BASS_PART else 0
        if kind == 0x90 and d2 > 0:
            synth.noteon(ch, d1, d2)
            self._down[(which, ch, d1)] += 1
        elif kind in (0x80, 0x90):
            if self._down[(which, ch, d1)] > 0:
                self._down[(which, ch, d1)] -= 1
                if not self._down[(which, ch, d1)]:
                    del self._down[(which, ch, d1)]
            if (which, ch) in self._pedal:
                self._sustained[(which, ch, d1)] += 1
            else:
                synth.noteoff(ch, d1)
        elif kind == 0xB0:
            down = [k for k in self._down if k[:2] == (which, ch)] if d1 in ALL_OFF_CCS else []
            if d1 in KEYS_OFF_CCS and (which, ch) in self._pedal:  # every key let go, the pedal holding them (MIDI's
                for key in down:  # rule: a keyboard that sends it whenever the last key comes up, older
                    self._sustained[key] += self._down.pop(key)  # Rolands, cut every pedalled note)
            elif d1 in ALL_OFF_CCS:
                self._pedal.discard((which, ch))
                for key in [k for k in self._sustained if k[:2] == (which, ch)] + down:
                    self._sustained.pop(key, None)
                    self._down.pop(key, None)
                synth.notes_off(ch) if d1 in KEYS_OFF_CCS else synth.sounds_off(ch)
            elif d1 in (PEDAL_CC, RESET_CC):
                if not pedal_up(d1, d2):
                    self._pedal.add((which, ch))
                elif (which, ch) in self._pedal:
                    self._pedal.discard((which, ch))
                    for key in [k for k in self._sustained if k[:2] == (which, ch)]:
                        for _ in range(self._sustained.pop(key)):
                            synth.noteoff(ch, key[2])
                if d1 == RESET_CC:  # the other controllers (wheel, volume, bend) go back too
                    synth.control_change(ch, d1, d2)
            else:
                synth.control_change(ch, d1, d2)

    def reset(self) -> None:
        """Back to silence, pedals up and controllers reset, as a new synth starts: each
        offline render begins from here (the stems are rendered after the mix on the same
        synth, and began with its last notes ringing, its pedal down or its volume)."""
        self._pedal.clear()
        self._sustained.clear()
        self._down.clear()
        for synth in self._synths:
            synth.sounds_off()
            for ch in (0, BASS_CHANNEL):
                synth.control_change(ch, 121, 0)  # reset all controllers
        self.render(1024, np.zeros((2, 1024), np.float32))  # (sounds off fades out within 512 frames)

    def render(self, frames: int, out: np.ndarray) -> None:
        """Write `frames` samples per part into `out` (2 x >= frames, float32), mono per part."""
        done = 0
        while done < frames:
            f = min(frames - done, self._buf.size // 2)
            for part, synth in enumerate(self._synths):
                view = synth.generate(f, memoryview(self._buf[:2 * f]).cast("B"))
                stereo = np.frombuffer(view, np.float32, 2 * f)
                np.add(stereo[0::2], stereo[1::2], out=out[part, done:done + f])
                out[part, done:done + f] *= 0.5
            done += f


def missing_soundfont(path: str | Path) -> str | None:
    """Why `path` is not a SoundFont file to open (a few words), or None if it is a file."""
    path = Path(path)
    if path.is_file():
        return None
    if path.is_dir():
        found = sorted(p.name for p in path.iterdir() if p.suffix.lower() == ".sf2")[:3]
        return "is a folder, not a SoundFont file" + (f" (it holds {', '.join(found)}: give one of them)"
                                                      if found else " (and holds no .sf2 file)")
    return "not found"


def load_soundfont(path: str | Path, sample_rate: int, bass_program: int = BASS_PROGRAM) -> SoundFontSynth:
    """Open a .sf2 file for playback, the bass on GM program `bass_program` (0-127: the
    program the live band sends on its bass channel, `band.bass_program`).

    Raises:
        ConfigError: the extra is not installed (says how), or the file is missing or
            unreadable (says where to point).
    """
    path = Path(path)
    why = missing_soundfont(path)
    if why is not None:  # (first: installing the extra would not have found the file either)
        raise ConfigError(f"SoundFont {path} {why}: point --soundfont (or synth.soundfont) at a .sf2 file, "
                          "e.g. /usr/share/sounds/sf2/FluidR3_GM.sf2 from Debian's fluid-soundfont-gm")
    try:
        import tinysoundfont  # noqa: F401
    except ImportError:
        raise ConfigError(f"--soundfont needs the tinysoundfont package: {INSTALL_HINT}") from None
    return SoundFontSynth(path, sample_rate, bass_program=bass_program)

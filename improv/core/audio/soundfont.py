"""General MIDI SoundFont playback through tinysoundfont (an optional extra).

`load_soundfont(path, sample_rate)` returns a `SoundFontSynth` with the same two calls the
built-in synth offers the audio callback and the offline renderer: `message(part, kind,
d1, d2, channel)` and `render(frames, out)` writing one row per part. Each row is a
tinysoundfont synth of 16 channels, played as a General MIDI module plays them: a message
sounds on the MIDI channel it came on, with that channel's program, keys and pedal, and a
program change (0xC0) sets its channel's program. A channel starts on the program of the
first part heard on it: the player's GM program 1 (acoustic piano) on the first row; the
partner's 5 (electric piano) on the second, with the band's comp and click; the bass's 33
(acoustic bass, or the live band's `band.bass_program`) on the first row, so that the
player's pedal does not hold it. `channel_programs` overrides that for some channels: the
live band's comp on `band.comp_program`, its click on the drum kit (`DRUM_KIT`, bank 128);
General MIDI's drum channel (10) is the drum kit unless it names another program there.
Rows render separately, so that stems stay possible.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Mapping

import numpy as np

from improv.core.audio.synth import PARTS, VOICE_OF
from improv.core.listen.segment import ALL_OFF_CCS, KEYS_OFF_CCS, PEDAL_CC, RESET_CC, pedal_up
from improv.errors import ConfigError

INSTALL_HINT = "pip install --no-deps tinysoundfont (improv uses its synth only, not the pyaudio it asks for)"
PROGRAMS = (0, 4)  # GM programs (0-based): acoustic grand piano, electric piano 1
BASS_PROGRAM, BASS_CHANNEL = 32, 1  # acoustic bass; its channel where a message names none
BASS_PART = PARTS.index("bass")
PART_CHANNELS = (0, 0, BASS_CHANNEL)  # each part's channel on its row where a message names none
DRUM_KIT = 128  # a channel's program: General MIDI's drum kit (bank 128; a program change there picks the kit)
GM_DRUM_CHANNEL = 9  # MIDI channel 10
CHANNELS = 16


class SoundFontSynth:
    """Two tinysoundfont synths (one per output row) on one loaded SoundFont.

    Args:
        path: the .sf2 file.
        sample_rate: Hz.
        programs: GM program (0-based) a channel of the player's row, and of the partner's,
            starts on.
        bass_program: ... a channel the bass is heard on first.
        channel_programs: MIDI channel (0-15) -> the program it starts on whichever part
            plays it (0-127, or `DRUM_KIT`); channel 10 is the drum kit unless named here.
    """

    def __init__(self, path: Path, sample_rate: int, programs: tuple[int, int] = PROGRAMS,
                 bass_program: int = BASS_PROGRAM, channel_programs: Mapping[int, int] | None = None) -> None:
        import tinysoundfont

        starts = {GM_DRUM_CHANNEL: DRUM_KIT, **(channel_programs or {})}
        for ch, program in starts.items():
            if not (0 <= ch < CHANNELS and (0 <= program < 128 or program == DRUM_KIT)):
                raise ValueError(f"channel_programs: expected channel 0-15 -> program 0-127 or DRUM_KIT, "
                                 f"found {ch} -> {program}")
        self.sample_rate = sample_rate
        self._part_programs = (programs[0], programs[1], bass_program)
        self._channel_programs = starts
        self._drum_channels = frozenset(ch for ch, p in starts.items() if p == DRUM_KIT)
        self._synths = []
        self._sfids: list[int] = []
        self._buf = np.zeros(2 * 4096, np.float32)
        # tinysoundfont has no sustain pedal (it ignores CC 64): the pedal is kept here, and
        # a key let go while it is down is ended when it comes up, as the built-in synth does
        self._pedal: set[tuple[int, int]] = set()  # (synth, channel) with the pedal down
        self._sustained: Counter[tuple[int, int, int]] = Counter()  # (synth, channel, key) -> note-offs held
        self._down: Counter[tuple[int, int, int]] = Counter()  # (synth, channel, key) -> strikes not let go
        self._set: set[tuple[int, int]] = set()  # (synth, channel) whose program is chosen: heard or changed
        for _ in programs:
            synth = tinysoundfont.Synth(samplerate=sample_rate)
            try:
                sfid = synth.sfload(str(path))
            except Exception as e:
                raise ConfigError(f"{path} is not a SoundFont tinysoundfont can read ({e}); "
                                  "point --soundfont at a General MIDI .sf2 file") from None
            self._synths.append(synth)
            self._sfids.append(sfid)
        # the font's programs in bank 0, looked up once here, not in the audio callback
        synth, sfid = self._synths[0], self._sfids[0]
        self._have = frozenset(p for p in range(128) if synth.sfpreset_name(sfid, 0, p) is not None)
        if not self._have:
            raise ConfigError(f"{path} has no instrument in bank 0, where General MIDI's are; "
                              "point --soundfont at a General MIDI .sf2 file")
        self._first = min(self._have)  # what a small font without a program plays instead

    def _select(self, which: int, ch: int, program: int) -> None:
        """Set a channel's program (0-127; on a drum channel, the kit)."""
        synth, sfid = self._synths[which], self._sfids[which]
        self._set.add((which, ch))
        try:
            if ch in self._drum_channels:
                # tinysoundfont looks in bank 128 for the kit, then its kit 0, then bank 0
                synth.program_select(ch, sfid, 0, 0 if program == DRUM_KIT else program, is_drums=True)
            else:
                synth.program_select(ch, sfid, 0, program if program in self._have else self._first)
        except Exception:  # noqa: BLE001 - a font with no kit and no such program in bank 0: its first
            synth.program_select(ch, sfid, 0, self._first)

    def _start(self, part: int, which: int, ch: int) -> None:
        """A channel heard for the first time since the synth (re)started: its starting program
        (one C call, once a channel: the audio callback can afford it)."""
        self._select(which, ch, self._channel_programs.get(ch, self._part_programs[part]))

    def message(self, part: int, kind: int, d1: int, d2: int, channel: int | None = None) -> None:
        """Apply a channel message (status nibble `kind`; 0xC0, a program change, `d1` the
        program) from `part` on MIDI `channel` (0-15; None: the part's own, `PART_CHANNELS`)."""
        which = VOICE_OF[part]
        ch = PART_CHANNELS[part] if channel is None else int(channel) & 15
        if kind == 0xC0:
            self._select(which, ch, d1 & 127)
            return
        if (which, ch) not in self._set:
            self._start(part, which, ch)
        self._apply(which, ch, kind, d1, d2)

    def let_go(self) -> None:
        """Every key and every pedal of every channel up, each note into its own release (a
        panic; the end of a render)."""
        for which, ch in sorted(self._set):
            self._apply(which, ch, 0xB0, PEDAL_CC, 0)
            self._apply(which, ch, 0xB0, 123, 0)

    def _apply(self, which: int, ch: int, kind: int, d1: int, d2: int) -> None:
        synth = self._synths[which]
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
        """Back to silence, pedals up, controllers and programs reset, as a new synth starts: each
        offline render begins from here (the stems are rendered after the mix on the same
        synth, and began with its last notes ringing, its pedal down or its volume)."""
        self._pedal.clear()
        self._sustained.clear()
        self._down.clear()
        for synth in self._synths:
            synth.sounds_off()
        for which, ch in self._set:
            self._synths[which].control_change(ch, 121, 0)  # reset all controllers
        self._set.clear()  # (each channel back on its starting program when next heard)
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


def check_soundfont_package(asked: str = "--soundfont", otherwise: str = "") -> None:
    """That the optional tinysoundfont package is there to play a SoundFont with (a live
    command asks before it opens a port). `asked`: the flag or key that asked for one;
    `otherwise`: how to play without it, said after the fix.

    Raises:
        ConfigError: it is not installed: one line naming `asked` and the pip command.
    """
    try:
        import tinysoundfont  # noqa: F401
    except ImportError:
        raise ConfigError(f"{asked} needs the tinysoundfont package: {INSTALL_HINT}"
                          + (f"; {otherwise}" if otherwise else "")) from None


def load_soundfont(path: str | Path, sample_rate: int, bass_program: int = BASS_PROGRAM,
                   channel_programs: Mapping[int, int] | None = None) -> SoundFontSynth:
    """Open a .sf2 file for playback, the bass on GM program `bass_program` (0-127: the
    program the live band sends on its bass channel, `band.bass_program`), the channels of
    `channel_programs` (MIDI channel 0-15 -> program 0-127 or `DRUM_KIT`) on theirs: the live
    band's comp and click (`SoundFontSynth`).

    Raises:
        ConfigError: the extra is not installed (says how), or the file is missing or
            unreadable (says where to point).
    """
    path = Path(path)
    why = missing_soundfont(path)
    if why is not None:  # (first: installing the extra would not have found the file either)
        raise ConfigError(f"SoundFont {path} {why}: point --soundfont (or synth.soundfont) at a .sf2 file, "
                          "e.g. /usr/share/sounds/sf2/FluidR3_GM.sf2 from Debian's fluid-soundfont-gm")
    check_soundfont_package()
    return SoundFontSynth(path, sample_rate, bass_program=bass_program, channel_programs=channel_programs)

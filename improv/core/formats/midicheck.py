"""Checking a MIDI file before anything reads it: every command opens files through
`open_midi_file`, so that `respond`, `render`, `plot` and `play` refuse the same things, in
one line naming the file and the value, instead of failing later with a ZeroDivisionError
or a MemoryError: a zero or SMPTE time division, a tempo of 0 or an absurd one, a bar of
no beats, a file longer than a day.
"""

from __future__ import annotations

import math
import shlex
from pathlib import Path

import mido
from mido.midifiles.meta import KeySignatureError  # (64 sharps: not a ValueError)

from improv.core import limits
from improv.errors import DataError


def open_midi_file(path: str | Path) -> mido.MidiFile:
    """Open and check a MIDI file: every command reads files through here.

    Raises:
        DataError: one line naming the file and what is wrong with it: missing, not a
            MIDI file, a type 2 file of several patterns, a division of 0 or in SMPTE
            frames, a tempo of 0 or outside `limits.FILE_TEMPO_BPM`, a time signature of 0
            beats, or longer than a day.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path} is a folder: give the path to a .mid file")
    try:
        with open(path, "rb") as f:
            head = f.read(64)
        if not head.startswith(b"MThd"):  # what mido would call cut short (a file under 4 bytes) or not say
            if _is_journal(path, head):
                folder = shlex.quote(str(path.parent))
                raise DataError(f"{path} is an improv session journal, not a MIDI file: run "
                                f"`improv recover {folder}` to make the .mid from it")
            what = "is empty (0 bytes)" if not head else f"is not a readable MIDI file ({_looks_like(head)})"
            raise DataError(f"{path} {what}; give a standard .mid file")
        mid = mido.MidiFile(str(path))
    except FileNotFoundError:
        raise DataError(f"MIDI file {path} not found: give the path to a .mid file (sessions go to sessions/)") from None
    except PermissionError:
        raise DataError(f"cannot read {path}: permission denied; check the file's permissions") from None
    except EOFError:  # mido says nothing more
        raise DataError(f"{path} is not a readable MIDI file (it ends in the middle of a track: cut short?); "
                        "give a standard .mid file") from None
    except (OSError, ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError, KeySignatureError) as e:
        why = getattr(e, "strerror", None) or str(e) or type(e).__name__
        raise DataError(f"{path} is not a readable MIDI file ({why}); give a standard .mid file") from None
    check_midi(mid, str(path))
    return mid


# what a file that is no MIDI file often is, by its first bytes
_SIGNATURES = (
    (b"RIFF", b"WAVE", "a WAV audio file"),
    (b"RIFF", b"RMID", "a RIFF-wrapped MIDI file, an .rmi: save it as a plain .mid"),
    (b"ID3", b"", "an MP3 audio file"),
    (b"\xff\xfb", b"", "an MP3 audio file"),
    (b"fLaC", b"", "a FLAC audio file"),
    (b"OggS", b"", "an Ogg audio file"),
    (b"PK\x03\x04", b"", "a zip archive, such as a MuseScore .mscz: export MIDI from it"),
    (b"<?xml", b"", "an XML file, such as MusicXML: export MIDI from the notation program"),
)


def _is_journal(path: Path, head: bytes) -> bool:
    """True if a file is an improv session journal (improv/live/journal.py): its header
    line names it, or (a damaged header) it is named `*.journal` and holds JSON lines."""
    if head.lstrip().startswith(b'{"improv_journal"'):
        return True
    return path.name.endswith(".journal") and (b'"improv_journal"' in head or b'\n["' in head or head.startswith(b'["'))


def _looks_like(head: bytes) -> str:
    """What a file that is no MIDI file seems to be, by its first bytes, for a message."""
    for start, at8, kind in _SIGNATURES:
        if head.startswith(start) and head[8:12].startswith(at8):
            return f"it looks like {kind}"
    return "it does not begin with MThd, as every MIDI file does"


def check_midi(mid: mido.MidiFile, where: str = "the MIDI file") -> None:
    """Refuse a MIDI file no reader can use (see `open_midi_file`).

    Raises:
        DataError: one line naming `where` and the bad value.
    """
    if mid.type == 2 and len(mid.tracks) > 1:
        raise DataError(f"{where} is a type 2 MIDI file ({len(mid.tracks)} independent patterns, not tracks that "
                        "play together); improv reads types 0 and 1: export it again from your DAW as type 1")
    ppq = mid.ticks_per_beat
    if not isinstance(ppq, int) or ppq <= 0:
        kind = "an SMPTE (frames per second) time division" if isinstance(ppq, int) and ppq < 0 else f"a division of {ppq!r} ticks per beat"
        raise DataError(f"{where} has {kind}; improv reads files timed in ticks per quarter note: "
                        "export it again from your DAW with a PPQ time base")
    lo, hi = limits.FILE_TEMPO_BPM
    tempo_ticks: list[tuple[int, float]] = []
    last_tick = 0
    for n, track in enumerate(mid.tracks):
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                bpm = 60_000_000 / msg.tempo if msg.tempo > 0 else math.inf
                if not lo <= bpm <= hi:
                    shown = "0 microseconds a beat" if msg.tempo <= 0 else f"{bpm:,.6g} bpm"
                    raise DataError(f"{where}: track {n} sets a tempo of {shown} at beat {tick / ppq:g}: expected "
                                    f"{lo:g} to {hi:g} bpm; fix the tempo in your DAW and export again")
                tempo_ticks.append((tick, bpm))
            elif msg.type == "time_signature" and not limits.FILE_BEATS_PER_BAR[0] <= msg.numerator <= limits.FILE_BEATS_PER_BAR[1]:
                raise DataError(f"{where}: track {n} has a time signature of {msg.numerator}/{msg.denominator} at beat "
                                f"{tick / ppq:g}: expected {limits.FILE_BEATS_PER_BAR[0]} to "
                                f"{limits.FILE_BEATS_PER_BAR[1]} beats a bar")
        last_tick = max(last_tick, tick)
    seconds = _seconds_at(last_tick, tempo_ticks, ppq)
    if seconds > limits.RECORDING_S[1]:
        raise DataError(f"{where} lasts {seconds / 3600:,.1f} hours (its last event is at beat {last_tick / ppq:,.0f}): "
                        f"improv reads files of up to {limits.RECORDING_S[1] / 3600:g} hours; cut it in your DAW")


def _seconds_at(tick: int, tempo_ticks: list[tuple[int, float]], ppq: int) -> float:
    """Seconds from the start to `tick` under (tick, bpm) tempo changes (120 bpm before the first)."""
    seconds, at, bpm = 0.0, 0, 120.0
    for t, new in sorted(tempo_ticks, key=lambda x: x[0]):  # (at one tick: the last written)
        if t >= tick:
            break
        seconds += (t - at) / ppq * 60.0 / bpm
        at, bpm = t, new
    return seconds + (tick - at) / ppq * 60.0 / bpm

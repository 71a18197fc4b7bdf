"""Notes and phrases <-> MIDI messages and tracks (mido), as pure conversions.

`messages_to_notes` / `notes_to_messages` turn (time in beats, message) pairs into notes
and back; `phrase_to_track` / `track_to_phrase` convert a `Phrase` (beats) to a MIDI
track and back; `read_midi_notes` reads notes (timeline beats) from any MIDI file, opened
through `open_midi_file`.

The track-level pieces that session files (`midifile`) build on are here too: the file
resolution `PPQ`, `track_from_abs` (absolute ticks -> a named track of delta times) and
`track_names` / `meta_text` (names and text as the file meant them).
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Iterable

import mido

from improv.core.formats.midicheck import open_midi_file
from improv.core.theory.notes import Note, Phrase
from improv.errors import DataError

PPQ = 480
MAX_DELTA = 0x0FFFFFFF  # the longest delta time a MIDI file holds (a 4-byte variable-length number)


# ------------------------------------------------------------------ tracks


_TEXT_SPELLINGS = str.maketrans({"\u266f": "#", "\u266d": "b", "\u266e": "", "\u2192": "->", "\u2013": "-",
                                 "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


_LETTERS = {"\u0152": "OE", "\u0153": "oe", "\u0141": "L", "\u0142": "l", "\u0110": "D", "\u0111": "d",
            "\u0131": "i"}  # (letters beyond Latin-1 that no decomposition takes back to it)


def file_text(text: str) -> str:
    """`text` as a MIDI text event can hold it (Latin-1): musical signs spelled in ASCII
    (a sharp sign as #); accents written apart joined (a macOS file name's "Cafe\u0301");
    other letters as their base letter (Dvo\u0159\u00e1k -> Dvor\u00e1k, a full-width A -> A, a ligature as
    its letters); anything else (another script) as "?"."""
    text = unicodedata.normalize("NFC", str(text).translate(_TEXT_SPELLINGS))
    try:
        return text.encode("latin-1").decode("latin-1")
    except UnicodeEncodeError:
        pass
    out = []
    for ch in text:
        if ord(ch) < 256:
            out.append(ch)
            continue
        if unicodedata.combining(ch):
            continue  # (an accent no letter before it takes: the letter is kept bare)
        plain = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(plain if plain and all(ord(c) < 256 for c in plain) else _LETTERS.get(ch, "?"))
    return "".join(out)


def track_from_abs(items: list[tuple[int, int, mido.Message | mido.MetaMessage]], name: str) -> mido.MidiTrack:
    """Absolute-tick items (tick, order, msg) -> a track with delta times and a name (as a
    file can hold it: a tune titled "Autumn Leaves \u2013 Les Feuilles mortes" could not be
    written, nor its session recovered)."""
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=file_text(name), time=0))
    now = 0
    for tick, _, msg in sorted(items, key=lambda x: (x[0], x[1])):
        while tick - now > MAX_DELTA:  # a day-long rest in a long session: a delta no reader must refuse
            track.append(mido.MetaMessage("sequencer_specific", data=(), time=MAX_DELTA))
            now += MAX_DELTA
        # (a channel message was checked when it was made: only the delta is new, and it is ours;
        # checking each one again made writing a long session's file take seconds)
        track.append(msg.copy(skip_checks=True, time=tick - now) if isinstance(msg, mido.Message)
                     else msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def meta_text(text: str) -> str:
    """A track name, marker or lyric as the file meant it: mido reads meta text as Latin-1,
    but DAWs and notation programs write UTF-8 (a name such as "Stimme äöü" or "日本語"),
    which Latin-1 turns into mojibake; text that is no UTF-8 stays as read."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def track_names(mid: mido.MidiFile) -> list[str]:
    """Each track's name (its first track_name event, "" for none), in file order."""
    return [meta_text(next((m.name for m in t if m.is_meta and m.type == "track_name"), "")) for t in mid.tracks]


# ------------------------------------------------------------------- notes


def _is_off(msg: mido.Message) -> bool:
    return msg.type == "note_off" or (msg.type == "note_on" and msg.velocity == 0)


def releases_first(items: list[tuple[float, mido.Message]]) -> list[tuple[float, mido.Message]]:
    """(time, message) pairs in time order (and file order at a time), with the release of
    a sounding key moved before the same key struck again at the same time: some programs
    write a repeated note's new note-on before the old one's note-off at the tick where
    they meet, which read in file order made the old note end there and the release then
    end the new one at once (a legato repeated note lost: it sounded, and read, as a
    tick). A note-on and note-off of a key not sounding before are left as written (a note
    of no length)."""
    out: list[tuple[float, mido.Message]] = []
    sounding: set[tuple[int, int]] = set()  # (channel, note): a key struck and not released (one note a key)
    k = 0
    while k < len(items):
        j = k
        while j < len(items) and items[j][0] == items[k][0]:
            j += 1
        group = items[k:j]
        keys = [(m.channel, m.note) if m.type in ("note_on", "note_off") else None for _, m in group]
        now = set(sounding)
        restruck: dict[tuple[int, int], int] = {}  # key -> the index of its re-strike in `group`
        moved: dict[int, int] = {}  # the index of a re-strike -> the index of the release moved before it
        for g, (_, msg) in enumerate(group):
            key = keys[g]
            if key is None:
                continue
            if _is_off(msg):
                if key in restruck:
                    moved[restruck.pop(key)] = g  # the old note's release: the new one sounds on
                else:
                    now.discard(key)
            else:
                if key in now:
                    restruck[key] = g
                now.add(key)
        later = set(moved.values())
        order = [g for g in range(len(group)) if g not in later]
        order = [x for g in order for x in ((moved[g], g) if g in moved else (g,))]
        for g in order:
            out.append(group[g])
            if keys[g] is not None:
                (sounding.discard if _is_off(group[g][1]) else sounding.add)(keys[g])
        k = j
    return out


def messages_to_notes(items: list[tuple[float, mido.Message]], end: float | None = None) -> list[Note]:
    """(time in beats, message) pairs -> notes, paired note-on with note-off per channel and
    pitch (a pad's held G3 is not ended by the bass's G3 on another channel).

    A pitch struck again on its channel while held ends the held note; notes still held at
    the end run to `end` (default: the last message). Zero-length notes get a 1/480-beat
    length.
    """
    open_notes: dict[tuple[int, int], list[tuple[float, int]]] = {}
    notes: list[Note] = []
    last = max((t for t, _ in items), default=0.0)
    stop = last if end is None else max(end, last)

    def close(key: tuple[int, int], t: float) -> None:
        onset, vel = open_notes[key].pop(0)
        notes.append(Note(onset, key[1], max(t - onset, 1.0 / PPQ), vel))

    for t, msg in releases_first(sorted(items, key=lambda x: x[0])):
        if msg.type not in ("note_on", "note_off"):
            continue
        key = (msg.channel, msg.note)
        if msg.type == "note_on" and msg.velocity > 0:
            if open_notes.get(key):
                close(key, t)
            open_notes.setdefault(key, []).append((t, msg.velocity))
        elif open_notes.get(key):
            close(key, t)
    for key in list(open_notes):
        while open_notes[key]:
            close(key, stop)
    notes.sort(key=lambda n: (n.start, n.pitch))
    return notes


def notes_to_messages(notes: list[Note], channel: int = 1) -> list[tuple[float, mido.Message]]:
    """Notes (beats) -> (time in beats, message) pairs; note-offs sort before note-ons at
    the same time so that repeated notes stay separate. Inverse: `messages_to_notes`."""
    out: list[tuple[float, int, mido.Message]] = []
    for n in notes:
        out.append((n.start, 1, mido.Message("note_on", channel=channel - 1, note=n.pitch, velocity=n.velocity)))
        out.append((n.end, 0, mido.Message("note_off", channel=channel - 1, note=n.pitch, velocity=0)))
    out.sort(key=lambda x: (x[0], x[1]))
    return [(t, m) for t, _, m in out]


def phrase_to_track(phrase: Phrase, name: str = "partner", channel: int = 1, ppq: int = PPQ,
                    controls: Iterable[tuple[float, int, int]] = (),
                    setup: Iterable[mido.Message] = ()) -> mido.MidiTrack:
    """A phrase -> a MIDI track, notes at their timeline beats; `controls`: (beat, control,
    value) changes among them (e.g. the sustain pedal), before a note at the same tick;
    `setup`: channel messages (an instrument's bank select and program change) put first
    at tick 0, in their order, so that the track opens on its instrument.
    Inverse: `track_to_phrase`."""
    # Ticks rounded note by note, a note-off before a note-on at one tick (a note at least a
    # tick long): sorted by beats and then rounded, a repeated note's re-strike could come
    # before the release of the note it follows, which a DAW reads as the new note cut at once.
    items: list[tuple[int, int, mido.Message]] = []
    for n in sorted(phrase.absolute(), key=lambda n: n.start):
        on = int(round(n.start * ppq))
        items.append((on, 1, mido.Message("note_on", channel=channel - 1, note=n.pitch, velocity=n.velocity)))
        items.append((max(on + 1, int(round(n.end * ppq))), 0,
                      mido.Message("note_off", channel=channel - 1, note=n.pitch, velocity=0)))
    items += [(int(round(t * ppq)), -1, mido.Message("control_change", channel=channel - 1, control=c, value=v))
              for t, c, v in controls]
    items += [(0, -2, m.copy(channel=channel - 1, time=0)) for m in setup]  # (a stable sort keeps their order)
    return track_from_abs(items, name)


def track_to_phrase(track: mido.MidiTrack, ppq: int = PPQ) -> Phrase:
    """A MIDI track -> a phrase that starts at its first note (timeline beats).
    Inverse: `phrase_to_track`."""
    tick = 0
    items = []
    for msg in track:
        tick += msg.time
        if not msg.is_meta and msg.type in ("note_on", "note_off"):
            items.append((tick / ppq, msg))
    notes = messages_to_notes(items)
    if not notes:
        return Phrase()
    first = notes[0].start
    return Phrase.of([Note(n.start - first, n.pitch, n.duration, n.velocity) for n in notes], start=first)


def read_midi_notes(path: str | Path, track: str | int | None = None) -> list[Note]:
    """The notes of a MIDI file, starts and durations in timeline beats (beat 0 = file start).

    Args:
        path: a .mid file.
        track: None for all tracks, a track name (e.g. "player") or a track index.

    Raises:
        DataError: unreadable file, or no such track (the message lists the tracks).
    """
    mid = open_midi_file(path)
    names = track_names(mid)
    if track is None:
        chosen = list(range(len(mid.tracks)))
    elif isinstance(track, int) and 0 <= track < len(mid.tracks):
        chosen = [track]
    elif isinstance(track, str) and track in names:
        chosen = [names.index(track)]
    else:
        listing = ", ".join(f"{i}:{n or '(unnamed)'}" for i, n in enumerate(names))
        raise DataError(f"{path} has no track {track!r}; its tracks are {listing}")
    notes: list[Note] = []
    for i in chosen:
        t = mid.tracks[i]
        phrase = track_to_phrase(t, mid.ticks_per_beat)
        notes.extend(phrase.absolute())
    notes.sort(key=lambda n: (n.start, n.pitch))
    return notes

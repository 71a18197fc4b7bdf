"""Sessions <-> standard MIDI files (mido), as pure conversions.

A recorded session is a `Recording`: channel messages stamped in seconds from the session
start, each belonging to a part (`player`, `partner`, and the rhythm section's `comp`,
`bass` and `click`), plus text markers and a tempo map. `recording_to_midi` writes it as a
type-1 file at 480 ppq: a conductor track (tempo map, time signature, markers) and one
track per part on its own channel (the band's tracks only when they played). Markers are written
by kind so that they read back as they were written: chord symbols as `text` events,
section names as `marker` events (what DAWs show as markers), free text as `cue_marker`
events. `midi_to_recording` is the inverse; `TempoMap` (in `tempomap`, imported here
too) converts seconds <-> ticks, and `recording_notes` gives a part's notes in timeline
beats. Every file is read through
`open_midi_file`, which refuses, in one line, what would otherwise break a reader later: a
zero or SMPTE division, tempos of 0 or absurd ones, a bar of no beats, a file longer than
a day.

Notes and phrases <-> MIDI messages and tracks (and reading notes from any MIDI file) are
in `miditrack`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import mido

from improv.core import limits
from improv.core.formats.midicheck import check_midi, open_midi_file
from improv.core.formats.miditrack import PPQ, file_text, messages_to_notes, meta_text, releases_first, track_from_abs
from improv.core.formats.tempomap import TempoMap
from improv.core.listen.segment import ALL_OFF_CCS
from improv.core.theory.chart import Chart
from improv.core.theory.notes import Note

PARTS = ("player", "partner", "comp", "bass", "click")
BAND_PARTS = ("comp", "bass", "click")
GM_DRUM_CHANNEL = 9  # General MIDI's drums: channel 10, 0-based
DRUM_TYPES = ("note_on", "note_off", "polytouch")  # a drum's messages (a pad's pressure too)
GM_BASS_PROGRAM = 32  # General MIDI's acoustic bass (0-based), as improv plays the bass on a SoundFont
DEFAULT_CHANNELS = {"player": 1, "partner": 2, "comp": 3, "bass": 4, "click": 10}  # 1-16, as in the config
LAYERED_S = 0.02  # a key struck again this soon is the same note (a layered keyboard's two channels merged)
MARKER_KINDS = ("chord", "section", "text")
HEARD = "(heard) "  # a chord marker's prefix for a chord heard in the player's notes (a session with no chart)
SUBSTITUTE = "(substitute) "  # ...and for a chord the partner put in for a heard one (re-harmonised, with no chart)
CHORD_LABELS = (HEARD, SUBSTITUTE)
_KIND_TO_META = {"chord": "text", "section": "marker", "text": "cue_marker"}
_META_TO_KIND = {v: k for k, v in _KIND_TO_META.items()}


@dataclass(frozen=True, slots=True)
class TimedMessage:
    """A channel message as it happened.

    Attributes:
        t: seconds from the session start.
        part: one of `PARTS` ("player", "partner", "comp", "bass", "click").
        msg: the mido channel message (its channel is the one it was played on).
    """

    t: float
    part: str
    msg: mido.Message


@dataclass(frozen=True, slots=True)
class Marker:
    """A text marker at `t` seconds: kind "chord" (a chord symbol), "section" or "text"."""

    t: float
    text: str
    kind: str = "text"


def is_drum(e: TimedMessage) -> bool:
    """A note on or off (or its key pressure) of a General MIDI drum kit (channel 10), the
    click excepted."""
    return e.part != "click" and e.msg.type in DRUM_TYPES and e.msg.channel == GM_DRUM_CHANNEL


@dataclass(frozen=True)
class Recording:
    """A session: messages and markers in seconds, with its tempo map and metre.

    Attributes:
        events: messages sorted by time.
        markers: markers sorted by time.
        tempos: (seconds, bpm) tempo changes, the first at 0.0.
        beats_per_bar: quarter notes a bar (a file's time signature in quarters: 6/8 is 3).
        player_channel: 1-16, the player's track channel in the file.
        partner_channel: 1-16, the partner's track channel.
        title: the conductor track's name.
        comp_channel, bass_channel, click_channel: 1-16, the rhythm section's channels.
        metres: (seconds, quarter notes a bar) at each change of metre after the start (a
            pickup bar, a bar of 3/4 in a 4/4 tune); empty when the metre never changes.
    """

    events: tuple[TimedMessage, ...] = ()
    markers: tuple[Marker, ...] = ()
    tempos: tuple[tuple[float, float], ...] = ((0.0, 120.0),)
    beats_per_bar: int = 4
    player_channel: int = 1
    partner_channel: int = 2
    title: str = "improv session"
    comp_channel: int = 3
    bass_channel: int = 4
    click_channel: int = 10
    metres: tuple[tuple[float, int], ...] = ()

    def channel(self, part: str) -> int:
        """The channel (1-16) `part` is written on."""
        return int(getattr(self, f"{part}_channel"))

    def drum_notes(self) -> int:
        """Note-ons on the General MIDI drum channel (10) outside the click: a file's drum
        kit, which a piano roll leaves out (they sound no pitch; the synths play them on a kit)."""
        return sum(1 for e in self.events if is_drum(e) and e.msg.type == "note_on" and e.msg.velocity > 0)

    @property
    def parts(self) -> tuple[str, ...]:
        """The parts that have messages, in `PARTS` order."""
        present = {e.part for e in self.events}
        return tuple(p for p in PARTS if p in present)

    @property
    def duration(self) -> float:
        """Seconds from the start to the last event or marker."""
        last = [e.t for e in self.events[-1:]] + [m.t for m in self.markers[-1:]]
        return max(last, default=0.0)


# ------------------------------------------------------------ session files


def recording_to_midi(rec: Recording, ppq: int = PPQ) -> mido.MidiFile:
    """A `Recording` -> a type-1 MIDI file. Inverse: `midi_to_recording`.

    Messages land at the ticks where they happened under the tempo map; each part's
    messages are moved onto that part's channel, on its own track (player and partner
    always, a band part when it played; the bass with a General MIDI bass program, unless it
    has a program of its own), but for the player's General MIDI drums (`is_drum`: the
    drum pads played beside the keys), which stay on channel 10. Notes still held at the end get a note-off at
    the last event, so that no note hangs in a DAW; a key struck again while it sounds is
    let go just before and sounds to its next release (one note on a key at a time, as a
    synth plays it and as `recording_notes` reads it), or is the same note when struck
    within `LAYERED_S`; a note let go at the tick it was struck lasts a tick (no zero-length
    notes); a release with nothing sounding on its key is left out; an All Notes
    Off (or All Sound Off) lets go of every key of the part still sounding.

    Raises:
        ValueError: a channel outside 1-16, a tempo outside `limits.FILE_TEMPO_BPM`, a
            time that is not finite or a session longer than a day.
    """
    for part in PARTS:
        if not 1 <= rec.channel(part) <= 16:
            raise ValueError(f"{part} channel: expected 1-16, got {rec.channel(part)}")
    tempos = tuple(sorted(rec.tempos)) or ((0.0, 120.0),)
    for t, bpm in tempos:
        lo, hi = limits.FILE_TEMPO_BPM
        if not (math.isfinite(t) and math.isfinite(bpm) and lo <= bpm <= hi):
            raise ValueError(f"tempo {bpm!r} bpm at {t!r} s: expected {lo:g} to {hi:g} bpm")
    if not (math.isfinite(rec.duration) and rec.duration <= limits.RECORDING_S[1]):
        raise ValueError(f"the session is {rec.duration!r} s long: at most {limits.RECORDING_S[1]:g} s can be written")
    tmap = TempoMap(tempos, ppq)
    conductor: list[tuple[int, int, mido.MetaMessage]] = []
    for i, (t, bpm) in enumerate(tempos):
        conductor.append((tmap.ticks(t), 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))))
    conductor.append((0, 1, mido.MetaMessage("time_signature", numerator=rec.beats_per_bar, denominator=4)))
    for t, quarters in rec.metres:
        conductor.append((tmap.ticks(t), 1, mido.MetaMessage("time_signature", numerator=quarters, denominator=4)))
    for i, m in enumerate(rec.markers):
        if m.kind not in MARKER_KINDS:
            raise ValueError(f"marker kind must be one of {MARKER_KINDS}, got {m.kind!r}")
        meta = mido.MetaMessage(_KIND_TO_META[m.kind], text=file_text(m.text))
        conductor.append((tmap.ticks(m.t), 2 + i, meta))
    end_tick = tmap.ticks(rec.duration)
    mid = mido.MidiFile(type=1, ticks_per_beat=ppq)
    mid.tracks.append(track_from_abs(conductor, rec.title))
    present = set(rec.parts)
    for part in PARTS:
        if part in BAND_PARTS and part not in present:
            continue
        ch = rec.channel(part)
        items: list[tuple[int, float, mido.Message]] = []
        held: set[tuple[int, int]] = set()  # keys sounding, (channel, note) (one note a key: see the docstring)
        struck: dict[tuple[int, int], tuple[float, int]] = {}  # when each key was last struck: (seconds, tick)
        let_go: dict[tuple[int, int], int] = {}  # the tick of each key's last release moved a tick on (below)
        for i, e in enumerate(rec.events):
            if e.part != part:
                continue
            # (a checked message; `ch` checked above). The player's drum pads stay on channel 10: moved,
            # they played as pitches
            pad = part == "player" and is_drum(e)
            msg = e.msg.copy(skip_checks=True, channel=GM_DRUM_CHANNEL if pad else ch - 1, time=0)
            tick = tmap.ticks(e.t)
            if msg.type == "note_on" and msg.velocity > 0:
                key = (msg.channel, msg.note)
                tick = max(tick, let_go.get(key, tick))  # (struck again in that tick: after the release)
                if key in held:
                    # a key struck again while it sounds (two inputs merged onto the player's channel):
                    # a synth plays one note on that key, which the next release ends; a file with
                    # two ons and one off made a DAW that pairs them in turn hold the second to the
                    # file's end. Struck twice at once (a layered keyboard's two channels) it is one note.
                    if e.t - struck[key][0] < LAYERED_S:
                        continue
                    items.append((tick, i - 0.5, mido.Message("note_off", channel=key[0], note=msg.note, velocity=0)))
                held.add(key)
                struck[key] = (e.t, tick)
            elif msg.type in ("note_on", "note_off"):
                key = (msg.channel, msg.note)
                if key not in held:
                    continue  # a release with nothing sounding on the key (the re-strike's other one)
                held.discard(key)
                if tick <= struck[key][1]:
                    # let go within a tick of its strike (a partner note cut by a yield as it began):
                    # a zero-length note, which a DAW drops or, ordering the release first, holds on
                    let_go[key] = struck[key][1] + 1
                    items.append((let_go[key], i, msg))
                    continue
            elif msg.type == "control_change" and msg.control in ALL_OFF_CCS:
                # the keyboard's own panic, for keys whose release never came: they end here, not
                # at the file's end (their releases, if they come later, are left out as strays)
                off = [k for k in sorted(held) if k[0] == msg.channel]
                items += [(tick, i - 0.5, mido.Message("note_off", channel=c, note=note, velocity=0))
                          for c, note in off]
                held.difference_update(off)
            items.append((tick, i, msg))
        n = len(rec.events)
        for k, key in enumerate(sorted(held)):  # (a key struck at the very end still sounds a tick)
            items.append((max(end_tick, struck[key][1] + 1), n + 1 + k,
                          mido.Message("note_off", channel=key[0], note=key[1], velocity=0)))
        if part == "bass" and _needs_bass_program(rec, ch):
            # (no program change: a General MIDI DAW or synth played the walking bass on a piano)
            items.append((0, -1, mido.Message("program_change", channel=ch - 1, program=GM_BASS_PROGRAM)))
        track = track_from_abs(items, part)
        mid.tracks.append(track)
    return mid


def _needs_bass_program(rec: Recording, ch: int) -> bool:
    """Whether the bass track gets a General MIDI bass program at its start: it has none of
    its own before its first note, and its channel is its own (not the drums', nor a channel
    another part plays on, whose sound it would change)."""
    if ch - 1 == GM_DRUM_CHANNEL or ch in {rec.channel(p) for p in PARTS if p != "bass"}:
        return False
    for e in rec.events:
        if e.part != "bass":
            continue
        if e.msg.type == "program_change":
            return False
        if e.msg.type == "note_on" and e.msg.velocity > 0:
            return True
    return False


def bar_quarters(numerator: int, denominator: int) -> int:
    """A time signature's bar in quarter notes, what `Recording.beats_per_bar` counts: 6/8
    is 3, 12/8 is 6, 2/2 is 4. A bar of no whole number of quarters (5/8, 7/8) counts its
    numerator, as before."""
    quarters = numerator * 4 / denominator if denominator > 0 else 0.0
    return int(quarters) if quarters >= 1 and quarters == int(quarters) else numerator


def _all_chords(texts: Iterable[str]) -> bool:
    """Whether every text reads as a chord symbol (or NC)."""
    from improv.core.theory.chords import parse_chord
    from improv.errors import ChordError

    for text in texts:
        try:
            parse_chord(text)
        except (ChordError, ValueError):
            return False
    return True


def midi_to_recording(mid: mido.MidiFile) -> Recording:
    """A MIDI file -> a `Recording`. Inverse: `recording_to_midi`.

    Tracks named after a part (`player`, `partner`, `comp`, `bass`, `click`) give the
    parts, and any other track with notes in such a file (one added in a DAW) is the
    partner's too; in files from elsewhere the first track with notes is the player and
    any others are the partner.

    Raises:
        DataError: a file no reader can use (see `check_midi`).
    """
    check_midi(mid)
    ppq = mid.ticks_per_beat
    tempo_ticks: list[tuple[int, float]] = []
    bpb = 4
    metre_ticks: list[tuple[int, int]] = []
    title = ""
    abs_tracks: list[tuple[str, list[tuple[int, mido.Message | mido.MetaMessage]]]] = []
    for track in mid.tracks:
        tick = 0
        name = ""
        items = []
        for msg in track:
            tick += msg.time
            if msg.is_meta and msg.type == "track_name" and not name:
                name = meta_text(msg.name)
            elif msg.is_meta and msg.type == "set_tempo":
                tempo_ticks.append((tick, mido.tempo2bpm(msg.tempo)))
            elif msg.is_meta and msg.type == "time_signature":
                metre_ticks.append((tick, bar_quarters(msg.numerator, msg.denominator)))
            items.append((tick, msg))
        abs_tracks.append((name, items))
    tempo_ticks.sort(key=lambda x: x[0])  # (stable: of two tempos at one tick the last written rules, as in any player)
    if not tempo_ticks or tempo_ticks[0][0] > 0:  # before a file's first tempo: 120 bpm, as MIDI has it
        tempo_ticks.insert(0, (0, 120.0))
    tempos: list[tuple[float, float]] = []
    last_tick = 0
    for tick, bpm in tempo_ticks:  # each change's time from the one before (one pass, not one map per change)
        t = tempos[-1][0] + (tick - last_tick) * 60.0 / (tempos[-1][1] * ppq) if tempos else 0.0
        last_tick = tick
        if tempos and abs(tempos[-1][0] - t) < 1e-12:
            tempos[-1] = (t, round(bpm, 3))
        else:
            tempos.append((t, round(bpm, 3)))
    tmap = TempoMap(tempos, ppq)
    metres: list[tuple[float, int]] = []
    for tick, quarters in sorted(metre_ticks, key=lambda x: x[0]):  # (stable: a track's own order at a tick)
        if tick == 0:
            bpb = quarters
        elif quarters != (metres[-1][1] if metres else bpb):
            metres.append((tmap.seconds(tick), quarters))

    named: dict[str, int] = {}
    for i, (name, _) in enumerate(abs_tracks):
        named.setdefault(name, i)
    with_notes = [i for i, (_, items) in enumerate(abs_tracks) if any(not m.is_meta and m.type == "note_on" for _, m in items)]
    foreign = not ("player" in named or "partner" in named)  # not one of improv's own files
    if not foreign:
        part_of = {named[p]: p for p in PARTS if p in named}
        for i in with_notes:  # a track added in a DAW (or a part's second track): played with its part, not lost
            part_of.setdefault(i, abs_tracks[i][0] if abs_tracks[i][0] in PARTS else "partner")
    else:
        part_of = {i: ("player" if k == 0 else "partner") for k, i in enumerate(with_notes)}
    # A track of no notes sets up the channels others play (a song's programs and volumes on
    # its first track, a sustain pedal on a track of its own): its messages go to the part
    # whose notes play on their channel (left out, a violin played as a piano, the pedal held nothing).
    channel_part: dict[int, str] = {}
    for i in with_notes:
        for _, m in abs_tracks[i][1]:
            if not m.is_meta and m.type == "note_on":
                channel_part.setdefault(m.channel, part_of[i])
    channels = dict(DEFAULT_CHANNELS)
    song_end = tmap.seconds(max((items[-1][0] for _, items in abs_tracks if items), default=0))
    seen: set[str] = set()
    events: list[TimedMessage] = []
    setup: list[TimedMessage] = []  # from the tracks of no notes
    markers: list[Marker] = []
    for i, (name, items) in enumerate(abs_tracks):
        if i == 0:
            title = name
        part = part_of.get(i)
        held: dict[tuple[int, int], int] = {}  # (channel, note) -> note-ons not yet ended
        first_marker = len(markers)
        for tick, msg in releases_first(items):  # (a repeated note's release written after its re-strike)
            t = tmap.seconds(tick)
            if msg.is_meta:
                kind = _META_TO_KIND.get(msg.type)
                if kind:
                    markers.append(Marker(t, meta_text(msg.text), kind))
            elif hasattr(msg, "channel") and (part or channel_part.get(msg.channel)):
                owner = part or channel_part[msg.channel]
                if owner not in seen:
                    # the part's channel is its first message's, but for the player's drum (a session's
                    # player part holds the drum pads played beside the keys on channel 10; a file's
                    # first track may play its drums beside its melody): 10 only if nothing else comes
                    channels[owner] = msg.channel + 1
                    if not (owner == "player" and msg.type in DRUM_TYPES and msg.channel == GM_DRUM_CHANNEL):
                        seen.add(owner)
                (events if part else setup).append(TimedMessage(t, owner, msg.copy(skip_checks=True, time=0)))  # (checked when read)
                if msg.type in ("note_on", "note_off"):
                    key = (msg.channel, msg.note)
                    on = msg.type == "note_on" and msg.velocity > 0
                    held[key] = held.get(key, 0) + 1 if on else max(0, held.get(key, 0) - 1)
        if foreign and not _all_chords(m.text for m in markers[first_marker:] if m.kind == "chord"):
            # in a file from elsewhere a text event is a chord symbol only on a track of chord
            # symbols: a rehearsal letter "B" beside "Exported from Reaper" is no B major chord
            markers[first_marker:] = [Marker(m.t, m.text, "text") if m.kind == "chord" else m
                                      for m in markers[first_marker:]]
        if part is not None and any(held.values()):
            # A note never ended in its file ends where the song does, as a sequencer's stop
            # ends it (a renderer would otherwise cut it off at the last message, unreleased;
            # at its own track's end, a lead track that ends on the note-on would never sound it).
            end = song_end
            for (ch, note), n in sorted(held.items()):
                events.extend(TimedMessage(end, part, mido.Message("note_off", channel=ch, note=note))
                              for _ in range(n))
    events = sorted(setup + events, key=lambda e: e.t)  # (stable: a set-up at a tick comes before its notes)
    markers.sort(key=lambda m: m.t)
    return Recording(tuple(events), tuple(markers), tuple(tempos), bpb, channels["player"], channels["partner"], title,
                     channels["comp"], channels["bass"], channels["click"], tuple(metres))


def save_recording(rec: Recording, path: str | Path) -> Path:
    """Write a recording as a .mid file; returns the path."""
    path = Path(path)
    recording_to_midi(rec).save(str(path))
    return path


def load_recording(path: str | Path) -> Recording:
    """Read a .mid file as a recording.

    Raises:
        DataError: the file is missing, is not a MIDI file, or holds values no reader can
            use (see `open_midi_file`).
    """
    return midi_to_recording(open_midi_file(path))


def recording_notes(rec: Recording, part: str, pitched: bool = False) -> list[Note]:
    """One part's notes with starts and durations in timeline beats (under the tempo map);
    `pitched`: leave out General MIDI drums (channel 10), which sound no pitch."""
    tmap = TempoMap(rec.tempos)
    items = [(tmap.ticks(e.t) / PPQ, e.msg) for e in rec.events
             if e.part == part and not (pitched and getattr(e.msg, "channel", None) == GM_DRUM_CHANNEL)]
    end = tmap.ticks(rec.duration) / PPQ
    return messages_to_notes(items, end)


def chart_markers(chart: Chart, end: float, tempos: tuple[tuple[float, float], ...]) -> list[Marker]:
    """Chord markers at each chord change and section markers at each section start of a
    looping chart, from the start to `end` seconds."""
    tmap = TempoMap(tempos)
    end_beat = tmap.ticks(end) / PPQ
    out: list[Marker] = []
    prev = object()
    for span in chart.changes_between(0.0, end_beat + 1e-6):
        if span.chord != prev:
            out.append(Marker(tmap.seconds(span.start * PPQ), str(span.chord) if span.chord else "NC", "chord"))
            prev = span.chord
    bpb = chart.beats_per_bar
    chorus = 0
    while chart.sections and chorus * chart.length < end_beat:
        for first, name in chart.sections:
            beat = chorus * chart.length + first * bpb
            if beat <= end_beat:
                out.append(Marker(tmap.seconds(beat * PPQ), name, "section"))
        chorus += 1
    out.sort(key=lambda m: (m.t, m.kind != "section"))
    return out

"""The MIDI files of `improv respond`: the call file it reads and the call + answer file it writes.

`read_call` takes a call from any MIDI file a DAW or an improv session wrote: its pitched
notes (drums skipped), tempo map, metre, key signatures, sustain pedal, chord text events
and instrument, with a track chosen as `--track` says. `write_answer` writes the type-1
file the answer goes to: a conductor track (tempo map, metre, keys, the chords the answer
was played over and the partner's notes on them), the call on `player`, the answer on
`partner`, both in the call's key and on its instrument. Beats throughout: beat 0 is the
call file's beat 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from improv.config import Config
from improv.core.theory.chart import Chart
from improv.core.theory.notes import Note, Phrase
from improv.errors import ConfigError, DataError

DRUM_CHANNEL = 9  # MIDI channel 10, 0-based


class CallFile:
    """What `read_call` found: notes (timeline beats), tempo map [(beat, bpm)], metre,
    which tracks (and channels, 1-16) the notes came from, the sustain pedal's moves
    [(beat, value)] on them, the file's end (beats), its key signatures [(beat, key)] and
    the call's instrument `setup` (bank select and program change messages, or none)."""

    def __init__(self, notes: list[Note], tempos: list[tuple[float, float]], beats_per_bar: int | None, drums: int,
                 tracks: str = "", channels: tuple[int, ...] = (), metre: str = "",
                 pedal: tuple[tuple[float, int], ...] = (), end: float = 0.0,
                 keys: tuple[tuple[float, str], ...] = (), setup: tuple[Any, ...] = (),
                 chords: tuple[tuple[float, str], ...] = (), hits: tuple[float, ...] = ()) -> None:
        self.hits = hits  # beats of the drum hits (channel 10) on the call's tracks: heard as time by --follow
        self.chords = chords  # (beat, text) of the file's text events: a session's chord symbols
        self.keys = keys
        self.setup = setup
        self.pedal = pedal
        self.end = end
        self.metre = metre  # the time signature as written ("6/8"), or ""
        self.tracks = tracks
        self.channels = channels
        self.notes = notes
        self.tempos = tempos
        self.beats_per_bar = beats_per_bar
        self.drums = drums


def read_call(path: Path, track: str | None) -> CallFile:
    """Read a call file: pitched notes (drums on channel 10 skipped), tempo map, metre.

    Raises:
        DataError: missing or unreadable file, or no such track.
    """
    import mido

    from improv.core.formats.calltrack import choose_tracks
    from improv.core.formats.midicheck import open_midi_file
    from improv.core.formats.midifile import PARTS, bar_quarters
    from improv.core.formats.miditrack import messages_to_notes, meta_text, track_names

    if not path.exists():
        raise DataError(f"call file {path} not found: give a .mid file with the phrase to answer")
    mid = open_midi_file(path)  # the checks every command makes (type 2 of several patterns, division, tempos, ...)
    names = track_names(mid)
    choice = choose_tracks(names, track, str(path))
    chosen = set(choice.indices)
    # a track of no notes sets up the channels others play (a song's programs on its first
    # track, a pedal on a track of its own): read with the call's notes, for their channels
    # (not a session's own part that played nothing: the partner's track is not the player's set-up)
    setup_tracks = {i for i, t in enumerate(mid.tracks) if i not in chosen and names[i].strip().lower() not in PARTS
                    and not any(m.type == "note_on" for m in t)}
    ppq = mid.ticks_per_beat
    tempos: list[tuple[float, float]] = []
    bpb: int | None = None
    notes: list[Note] = []
    pedal: list[Any] = []  # (beat, value, channel 1-16 of a set-up track's pedal, None for the call's own)
    hits: list[float] = []  # (beats of the drums struck on the call's tracks)
    channels: set[int] = set()
    keys: list[tuple[int, str]] = []
    texts: list[tuple[float, str]] = []
    moves: list[tuple[int, mido.Message]] = []  # bank selects and program changes (tick, msg)
    was = ""  # the metre so far, as written
    song_end = max((sum(m.time for m in t) for t in mid.tracks), default=0) / ppq
    for i, t in enumerate(mid.tracks):
        tick = 0
        items = []
        for msg in t:
            tick += msg.time
            if msg.is_meta:
                if msg.type == "set_tempo":
                    tempos.append((tick / ppq, mido.tempo2bpm(msg.tempo)))
                elif msg.type == "key_signature":
                    keys.append((tick, msg.key))
                elif msg.type == "text" and msg.text.strip():  # (improv's sessions write their chords so)
                    texts.append((tick / ppq, meta_text(msg.text).strip()))  # (UTF-8, as DAWs write: B♭7)
                elif msg.type == "time_signature":
                    # a bar in quarter notes, as the chart counts it: 2/2 is 4/4, 6/8 is 3, 12/8 is 6
                    metre, quarters = f"{msg.numerator}/{msg.denominator}", bar_quarters(msg.numerator, msg.denominator)
                    if quarters * msg.denominator != msg.numerator * 4:
                        raise DataError(f"{path} is in {metre}, no whole number of quarter notes a bar: respond "
                                        "reads calls in metres such as 3/4, 4/4, 2/2, 6/8 or 12/8")
                    if bpb is not None and quarters != bpb:
                        if tick == bpb * ppq and quarters > bpb:  # one short bar, then the tune's metre
                            raise DataError(f"{path} begins with a pickup bar ({was}, then {metre}): respond counts "
                                            "bar 1 from the file's first beat; export the call from a bar line, "
                                            "without the pickup")
                        raise DataError(f"{path} changes metre ({was}, then {metre}): give a call in one metre")
                    was, bpb = metre, quarters
            elif (i in chosen or i in setup_tracks) and msg.type == "control_change" and msg.control == 64 \
                    and msg.channel != DRUM_CHANNEL:
                pedal.append((tick / ppq, msg.value, None if i in chosen else msg.channel + 1))
            elif (i in chosen or i in setup_tracks) and (msg.type == "program_change" or msg.type == "control_change"
                                                         and msg.control in (0, 32)):  # the instrument: bank, program
                moves.append((tick, msg))
            elif i in chosen and msg.type in ("note_on", "note_off"):
                if msg.channel == DRUM_CHANNEL:
                    if msg.type == "note_on" and msg.velocity > 0:
                        hits.append(tick / ppq)
                else:
                    items.append((tick / ppq, msg))
                    channels.add(msg.channel + 1)
        notes.extend(messages_to_notes(items, song_end))  # a note never ended runs to the song's end
    notes.sort(key=lambda n: (n.start, n.pitch))
    tempos.sort(key=lambda x: x[0])  # (stable: of two tempos at one beat the last written rules)
    tempos = list({beat: bpm for beat, bpm in tempos}.items())
    pedal = sorted(((beat, value) for beat, value, ch in pedal if ch is None or ch in channels), key=lambda x: x[0])
    key_map: list[tuple[float, str]] = []
    for tick, key in sorted(keys, key=lambda x: x[0]):  # (a key repeated on another track is one)
        if not key_map or key_map[-1][1] != key:
            key_map.append((tick / ppq, key))
    first = round(notes[0].start * ppq) if notes else 0
    return CallFile(notes, tempos, bpb, len(hits), choice.description, tuple(sorted(channels)), was, tuple(pedal),
                     song_end, tuple(key_map), _instrument(moves, channels, first), tuple(sorted(texts)),
                     tuple(sorted(hits)))


def _instrument(moves: list[tuple[int, Any]], channels: set[int], first: int) -> tuple[Any, ...]:
    """The call's instrument, kept so that the answer file opens on it: the last program
    change on the call's channel (1-16) at or before its first note (tick `first`), or with
    several channels the first one on any of them, preceded by the bank select (CC 0, 32)
    last sent on that channel; () for none. `moves`: (tick, message), in file order."""
    bank: dict[tuple[int, int], Any] = {}
    found: list[tuple[int, tuple[Any, ...]]] = []
    for tick, msg in sorted(moves, key=lambda x: x[0]):
        if msg.channel + 1 not in channels:
            continue
        if msg.type == "control_change":
            bank[(msg.channel, msg.control)] = msg
        else:
            sent = tuple(bank[k] for k in ((msg.channel, 0), (msg.channel, 32)) if k in bank)
            found.append((tick, (*sent, msg)))
    if len(channels) > 1:
        return found[0][1] if found else ()
    before = [setup for tick, setup in found if tick <= first]
    return before[-1] if before else ()


def write_answer(path: Path, call: list[Note], answer: Phrase, tempos: list[tuple[float, float]],
                 chart: Chart, cfg: Config, notes: list[tuple[float, str]] = (),  # type: ignore[assignment]
                 pedal: tuple[tuple[float, int], ...] = (), metre: str = "",
                 keys: tuple[tuple[float, str], ...] = (), setup: tuple[Any, ...] = ()) -> None:
    """A type-1 file: conductor (tempo map, metre, chord text events: `chart`, the one the
    answer was played over, substitute included; `notes`, (beat, text) markers, e.g. what
    the partner did with an outside note), player (the call and its sustain `pedal`),
    partner; written beside `path` and renamed into place, so a failure leaves nothing
    half-written. `metre`: the call's time signature as written ("6/8"; default the
    chart's bars in quarter notes), so that a 6/8 call is not given back in 3/4. `keys`: the
    call's key signatures [(beat, key)], and `setup`: its bank select and program change,
    written at tick 0 on both the player and the partner (who answers on the player's
    instrument), so that the file opens in the call's key and sound."""
    import mido

    from improv.core.formats.miditrack import PPQ, file_text, phrase_to_track
    from improv.core.formats.paths import whole_or_nothing

    bpb = chart.beats_per_bar
    end = max([n.end for n in call] + [answer.end, 0.0])
    items: list[tuple[int, int, mido.MetaMessage]] = [
        (int(round(b * PPQ)), 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))) for b, bpm in tempos
    ]
    num, den = (int(x) for x in metre.split("/")) if metre else (bpb, 4)
    items.append((0, 1, mido.MetaMessage("time_signature", numerator=num, denominator=den)))
    items += [(int(round(b * PPQ)), 1, mido.MetaMessage("key_signature", key=key)) for b, key in keys]
    prev: object = object()
    for span in chart.changes_between(0.0, max(end, 1e-6)):
        if span.chord != prev:
            items.append((int(round(span.start * PPQ)), 2, mido.MetaMessage("text", text=file_text(str(span.chord)) if span.chord else "NC")))
            prev = span.chord
    items += [(int(round(b * PPQ)), 3, mido.MetaMessage("cue_marker", text=file_text(text))) for b, text in notes]
    conductor = mido.MidiTrack([mido.MetaMessage("track_name", name="improv respond", time=0)])
    now = 0
    for tick, _, msg in sorted(items, key=lambda x: (x[0], x[1])):
        conductor.append(msg.copy(time=tick - now))
        now = tick
    conductor.append(mido.MetaMessage("end_of_track", time=0))
    mid = mido.MidiFile(type=1, ticks_per_beat=PPQ)
    mid.tracks.append(conductor)
    mid.tracks.append(phrase_to_track(Phrase.of(call), "player", cfg.midi.player_channel, PPQ,
                                      [(b, 64, v) for b, v in pedal], setup=setup))  # the pedal as played
    mid.tracks.append(phrase_to_track(answer, "partner", cfg.midi.partner_channel, PPQ, setup=setup))
    try:
        with whole_or_nothing(path) as tmp:
            mid.save(str(tmp))
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror or e}; nothing was left behind: give -o a path in an "
                          "existing, writable folder with space free") from None

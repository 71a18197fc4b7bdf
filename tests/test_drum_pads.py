"""A keyboard's drum pads (notes on channel 10, as most controllers' pads send by default):
played and recorded as drums, not heard in the call; and what the session files and
`improv play` make of them."""

import random

import mido
import pytest

from improv.commands.jam import jam_settings
from improv.commands.play import playback_plan
from improv.config import override
from improv.core.formats.midifile import (Recording, TimedMessage, midi_to_recording, recording_notes,
                                          recording_to_midi)
from improv.live.player import PADS_FOLLOWED, PADS_SAID
from test_session import CALL, config, make, play

KICK, SNARE = 36, 38  # a pad bank's first pads (General MIDI's bass drum 1 and acoustic snare)
PADS = [(0.1, [0x99, KICK, 110]), (0.2, [0x89, KICK, 0]), (0.45, [0x99, SNARE, 90]), (0.46, [0xA9, SNARE, 60]),
        (0.55, [0x89, SNARE, 0])]  # struck between the call's notes, one with the pad's pressure


def groove_under_held_notes(bpm, first=0.0, seed=2, pads=True, beats=20):
    """(seconds, bytes) in time order: a kick and snare groove on the pads on each of `beats`
    beats from `first` (10 ms of a human's scatter), under three whole notes on the keys from
    beat 4 (40 ms behind the beat, as a soloist's), which alone say little of a tempo."""
    period, rnd, events = 60.0 / bpm, random.Random(seed), []
    if pads:
        for b in range(beats):
            t, pad = first + b * period + rnd.gauss(0, 0.01), KICK if b % 2 == 0 else SNARE
            events += [(t, [0x99, pad, 100]), (t + 0.1, [0x89, pad, 0])]
    for k, pitch in enumerate((60, 64, 67)):
        t = first + (4 + 4 * k) * period + 0.04
        events += [(t, [0x90, pitch, 90]), (t + 3.8 * period, [0x80, pitch, 0])]
    return sorted(events, key=lambda e: e[0])


def jam_with_pads(cfg, events, until=4.0):
    s, clock, inq, sink, rec = make(cfg)
    said = []
    s.say = said.append
    s.start()
    play(s, clock, inq, events, until=until)
    s.close()
    return s, sink, rec[0], said


def test_drum_pads_play_and_are_recorded_as_drums_and_are_not_heard_in_the_call():
    """Moved to the player's channel and heard (as before), a pad's kick drum was a low C
    in the call: the partner answered it, and passed through it sounded as a piano note."""
    s, sink, rec, said = jam_with_pads(config(), CALL + PADS)
    assert [c.pitches() for c in s.responder.learned] == [[65, 69]]  # the call, without the pads
    assert [p for _, p in sink.ons(channel=9)] == [KICK, SNARE]  # the pads on the synth's drum kit
    assert [p for _, p in sink.ons(channel=0)] == [65, 69]
    assert [m.type for _, m in sink.sent if m.channel == 9] == ["note_on", "note_off", "note_on", "polytouch",
                                                                "note_off"]
    assert not sink.sounding()
    pads = [m for part, m, _ in rec.events if part == "player" and m.channel == 9]
    assert [(m.type, m.note) for m in pads] == [("note_on", KICK), ("note_off", KICK), ("note_on", SNARE),
                                                ("polytouch", SNARE), ("note_off", SNARE)]
    assert [line.split("  ", 1)[1] for line in said if PADS_SAID in line] == [PADS_SAID + PADS_FOLLOWED]  # said once
    assert s.player.pad_hits == 2


def test_pads_alone_are_no_call_and_no_pad_keeps_a_call_open():
    """A groove on the pads while the partner rests is not answered, and pads struck after
    the call's last key do not hold the call open (its answer comes as without them)."""
    groove = [(0.25 * k, [0x99, KICK if k % 2 == 0 else SNARE, 100]) for k in range(12)]
    groove += [(0.25 * k + 0.1, [0x89, KICK if k % 2 == 0 else SNARE, 0]) for k in range(12)]
    s, sink, _, _ = jam_with_pads(config(), groove)
    assert s.responder.learned == [] and sink.ons(channel=1) == []
    alone = jam_with_pads(config(), CALL)[1].ons(channel=1)
    after = [(1.0 + 0.2 * k, [0x99 if k % 2 == 0 else 0x89, KICK, 100 if k % 2 == 0 else 0]) for k in range(8)]
    assert jam_with_pads(config(), CALL + after)[1].ons(channel=1) == alone and alone


def test_no_drum_pads_hears_channel_10_as_notes_as_before():
    s, sink, _, said = jam_with_pads(override(config(), "midi", drum_pads=False), CALL + PADS)
    assert [c.pitches() for c in s.responder.learned] == [[65, KICK, SNARE, 69]]
    assert sink.ons(channel=9) == [] and [p for _, p in sink.ons(channel=0)] == [65, KICK, SNARE, 69]
    assert not any(PADS_SAID in line for line in said)


def test_a_pad_on_the_ports_thread_goes_out_on_channel_10():
    """The passthrough sent on the port's thread (`fast_thru`) moved every message to the
    player's channel: a pad played a piano's low C there, and a drum on the recording."""
    s, clock, inq, sink, _ = make(config())
    s.start()
    s.player.fast_thru([0x99, KICK, 100], clock.now())
    s.player.fast_thru([0x91, 60, 100], clock.now())  # a key on another channel: the player's
    assert [(m.channel, m.note) for _, m in sink.sent[-2:]] == [(9, KICK), (0, 60)]
    s.close()


def test_the_flag_sets_drum_pads():
    from improv.cli import build_parser
    p = build_parser("jam")
    assert jam_settings(p.parse_args(["jam"])).midi.drum_pads
    assert not jam_settings(p.parse_args(["jam", "--no-drum-pads"])).midi.drum_pads


def session_with_pads(player_channel=1):
    """A session's recording: the keys and the pads on the player's part, the partner."""
    ev = [TimedMessage(0.0, "player", mido.Message("note_on", channel=9, note=KICK, velocity=100)),
          TimedMessage(0.1, "player", mido.Message("note_on", channel=0, note=KICK, velocity=90)),  # the key C2 too
          TimedMessage(0.2, "player", mido.Message("note_off", channel=9, note=KICK)),
          TimedMessage(0.5, "player", mido.Message("note_on", channel=9, note=KICK, velocity=100)),
          TimedMessage(0.6, "player", mido.Message("note_off", channel=9, note=KICK)),
          TimedMessage(1.0, "player", mido.Message("note_off", channel=0, note=KICK)),
          TimedMessage(1.5, "partner", mido.Message("note_on", channel=1, note=67, velocity=80)),
          TimedMessage(2.0, "partner", mido.Message("note_off", channel=1, note=67))]
    return Recording(tuple(ev), (), ((0.0, 120.0),), 4, player_channel, 2)


def notes_by_channel(track):
    """(channel, note, start tick, end tick) of a track's notes."""
    tick, on, out = 0, {}, []
    for m in track:
        tick += m.time
        if m.type == "note_on" and m.velocity:
            on[(m.channel, m.note)] = tick
        elif m.type in ("note_on", "note_off"):
            out.append((m.channel, m.note, on.pop((m.channel, m.note)), tick))
    return sorted(out)


def test_a_sessions_drum_pads_stay_on_channel_10_in_its_file_and_read_back():
    """Every part's messages were moved onto its channel: the pads became the key they share
    a number with, and the key C2 held under a kick was cut by the pad's release."""
    mid = recording_to_midi(session_with_pads(player_channel=3))
    player = next(t for t in mid.tracks if t.name == "player")
    tick = lambda s: round(s * 2 * mid.ticks_per_beat)  # noqa: E731 (seconds at 120 bpm)
    assert notes_by_channel(player) == [(2, KICK, tick(0.1), tick(1.0)), (9, KICK, 0, tick(0.2)),
                                        (9, KICK, tick(0.5), tick(0.6))]
    back = midi_to_recording(mid)
    assert back.player_channel == 3  # the keys' channel, though a pad came first
    assert [n.pitch for n in recording_notes(back, "player", pitched=True)] == [KICK]
    assert back.drum_notes() == 2


def test_play_moves_a_sessions_keys_to_the_players_channel_and_leaves_its_pads_on_10():
    rec = midi_to_recording(recording_to_midi(session_with_pads()))
    plan = [m for _, m in playback_plan(rec, player_channel=5, partner_channel=6) if not isinstance(m, str)]
    ons = [(m.channel, m.note) for m in plan if m.type == "note_on" and m.velocity]
    assert ons == [(9, KICK), (4, KICK), (9, KICK), (5, 67)]


@pytest.mark.parametrize("first", ["pad", "key"])
def test_a_foreign_files_drums_on_its_first_track_are_no_player_channel(first):
    """A file from elsewhere whose melody track also plays channel 10: the player's channel
    is the melody's, whichever came first."""
    mid = mido.MidiFile(type=1)
    track = mido.MidiTrack()
    pad = [mido.Message("note_on", channel=9, note=KICK, velocity=100),
           mido.Message("note_off", channel=9, note=KICK, time=60)]
    key = [mido.Message("note_on", channel=4, note=60, velocity=100),
           mido.Message("note_off", channel=4, note=60, time=60)]
    track.extend(pad + key if first == "pad" else key + pad)
    mid.tracks.append(track)
    rec = midi_to_recording(mid)
    assert rec.player_channel == 5
    assert [n.pitch for n in recording_notes(rec, "player", pitched=True)] == [60]


def test_a_player_on_channel_10_alone_keeps_it():
    """A player track all on channel 10 (`player_channel = 10`, or a file's first track of
    drums alone) still reads as the player's channel 10."""
    rec = midi_to_recording(recording_to_midi(session_with_pads(player_channel=10)))
    assert rec.player_channel == 10
    assert all(e.msg.channel == 9 for e in rec.events if e.part == "player")

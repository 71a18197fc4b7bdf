"""A band session over a real `improv jam` (JACK) is recorded part by part: the comping, the
walking bass and the click each on its own track and channel, never on the partner's."""

from __future__ import annotations

import signal
import time

import mido
import pytest

from improv.core.formats.midifile import load_recording, recording_notes
from jackutil import Jam, note_events, require_jam, wired

pytestmark = pytest.mark.jack  # (over the JACK server: skipped when none runs, rerun after a failure)

TEMPO = 120.0


def test_a_band_jam_is_recorded_track_by_track(tmp_path):
    require_jam()
    extra = ["--tempo", f"{TEMPO:g}", "--tune", "blues-f", "--comp", "--bass", "--click", "--seed", "3"]
    with Jam(tmp_path, duration=30, extra=extra) as jam:
        wired(jam)
        jam.player.play(note_events([(65, 0.0, 0.45), (69, 0.5, 0.45), (72, 1.0, 0.9)], TEMPO),
                        start=time.perf_counter() + 0.01)
        time.sleep(5.0)
        heard = [a.data for a in jam.listener.arrivals]
        rc = jam.stop(signal.SIGTERM, timeout=10)
        log = jam.stderr()
        recs = jam.recordings()
    # The phrase may be played while the partner still warms up: bar 1 is set after that with
    # a band, and what came before it goes to a file of its own (`-before-start`), at its times.
    main = [r for r in recs if not r.name.endswith("-before-start.mid")]
    assert rc == 0 and len(main) == 1 and len(recs) <= 2, log[-2000:]
    played = [n.pitch for r in recs for n in recording_notes(load_recording(r), "player")]
    # (a note held over bar 1 is in both: whole beside the file, from bar 1 in it)
    assert set(played) == {65, 69, 72} and len(played) <= 4, played
    # the band set its channels' sounds before its first note (a GM module played the bass as a piano)
    first_bass = next(i for i, d in enumerate(heard) if d[0] == 0x93 and d[2] > 0)
    assert (0xC2, 4) in heard[:first_bass] and (0xC3, 32) in heard[:first_bass], heard[:first_bass + 1]
    assert not [d for d in heard if d[0] == 0xC9]  # (none on the drum channel)
    recs = main
    mid = mido.MidiFile(str(recs[0]))
    channels = {}
    for track in mid.tracks[1:]:
        name = next(m.name for m in track if m.type == "track_name")
        channels[name] = {m.channel + 1 for m in track if not m.is_meta}
    assert channels["comp"] == {3} and channels["bass"] == {4} and channels["click"] == {10}, channels
    programs = {next(m.name for m in t if m.type == "track_name"): [m.program for m in t if m.type == "program_change"]
                for t in mid.tracks[1:]}
    assert programs["comp"] == [4] and programs["bass"] == [32] and programs["click"] == [], programs
    assert channels["partner"] <= {2}
    rec = load_recording(recs[0])
    bass = recording_notes(rec, "bass")
    assert len(bass) >= 8 and max(n.pitch for n in bass) < 60
    assert all(n.pitch >= 48 for n in recording_notes(rec, "partner"))  # no bass line on the e-piano

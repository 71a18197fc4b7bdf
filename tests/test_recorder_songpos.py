"""The recording of a session that follows a DAW's MIDI clock is on the DAW's time: notes at
the song position they were played at, the time the DAW stood stopped left out, a jump back
a new take a whole number of choruses later, so that the chart's chord markers stay under
the bars the DAW played (`Recorder.follow`, `Recorder.transport`).

A real `ExternalClock` (its `ClockFollower`) is fed the DAW's messages on a manual clock,
as the session's conductor does, and tells the recorder its song position and transport.
"""

import mido
import pytest

from improv.core.formats.midifile import load_recording, recording_notes
from improv.core.listen.midiclock import CLOCK, CONTINUE, SONG_POSITION, START, STOP
from improv.core.theory.chart import parse_chart
from improv.live.clock import ManualClock
from improv.live.midisync import ExternalClock
from improv.live.recorder import Recorder

CHART = "C7 | F7 | G7 | Bb7"  # 16 beats a chorus


def on(note, vel=90, ch=0):
    return mido.Message("note_on", channel=ch, note=note, velocity=vel)


def off(note, ch=0):
    return mido.Message("note_off", channel=ch, note=note, velocity=0)


class Daw:
    """A DAW sending clock to the session, and the session's side: the follower's events
    to the recorder's transport, the DAW's tempo as the session records it (a change of
    more than 0.5 %), notes recorded when they are played."""

    def __init__(self, tmp_path, bpm=100.0, chart=CHART, config_tempo=120.0, follow=True, offset=0.0):
        self.clock = ManualClock(50.0)
        self.ext = ExternalClock(self.clock, guess=config_tempo)
        self.bpm = bpm
        self.rec = Recorder(tmp_path, config_tempo, 4, 1, 2, t0=50.0, chart=parse_chart(chart) if chart else None,
                            stamp="daw")
        tl = self.ext.timeline

        self.offset = offset  # the timeline's beat = the song's + offset (trading's count-in: -4)

        def song_beat(t):
            with tl.lock:
                return tl.follower.beat_at(t) + offset

        if follow:
            self.rec.follow(song_beat)
        self.recorded_tempo = None
        self.song = 0.0  # the song position (beats) of the next tick

    def send(self, data, dt=0.0):
        self.clock.advance(dt)
        self.ext.receive(list(data))
        for ev in self.ext.poll():
            if ev.kind in ("start", "continue", "stop", "position"):
                self.rec.transport(ev.kind, ev.time, ev.beat + self.offset)
            if ev.kind == "start" and self.recorded_tempo is None:
                self.recorded_tempo = 0.0
        tempo = self.ext.follower.tempo
        if self.ext.running and tempo and (not self.recorded_tempo or abs(tempo / self.recorded_tempo - 1) > 0.005):
            self.recorded_tempo = tempo
            self.rec.tempo(tempo, self.clock.now())

    def run(self, beats, notes=(), part="player"):
        """Ticks for `beats` beats from the song position; `notes`: (beat in the song, pitch,
        beats long), played at those positions."""
        spt = 60.0 / self.bpm / 24
        events = []
        for b, pitch, dur in notes:
            events += [(b, on(pitch)), (b + dur, off(pitch))]
        events.sort(key=lambda e: e[0])
        for _ in range(int(round(beats * 24))):
            self.send([CLOCK], spt)
            while events and events[0][0] <= self.song + 1e-9:
                self.rec.event(part, events.pop(0)[1], self.clock.now())
            self.song += 1 / 24

    def stop(self, dt=0.001):
        self.send([STOP], dt)

    def start(self, dt=0.001):
        self.song = 0.0
        self.send([START], dt)

    def cont(self, dt=0.001):
        self.send([CONTINUE], dt)

    def position(self, beat, dt=0.001):
        sixteenths = int(beat * 4)
        self.song = beat
        self.send([SONG_POSITION, sixteenths & 0x7F, sixteenths >> 7], dt)

    def close(self):
        return load_recording(self.rec.close())


def starts(back, part="player"):
    return [(n.pitch, round(n.start, 2)) for n in recording_notes(back, part)]


def chord_at(back, beat):
    """The chord marker in force at `beat` of the file."""
    chords = [(m.t, m.text) for m in back.markers if m.kind == "chord"]
    secs = beats_to_file_seconds(back, beat)
    return [text for t, text in chords if t <= secs + 1e-6][-1]


def file_beat(back, seconds):
    from improv.core.formats.tempomap import seconds_to_ticks
    from improv.core.formats.miditrack import PPQ

    return seconds_to_ticks(seconds, back.tempos) / PPQ


def beats_to_file_seconds(back, beat):
    from improv.core.formats.tempomap import ticks_to_seconds
    from improv.core.formats.miditrack import PPQ

    return ticks_to_seconds(beat * PPQ, back.tempos)


def test_stop_then_continue_goes_on_in_the_same_bar_without_the_stopped_time(tmp_path):
    """Stop at bar 3, ten seconds stopped (no ticks), Continue: a note played at the DAW's
    bar 3 beat 2 is at beat 9 of the file, under G7, not ten seconds (16.7 beats) later."""
    daw = Daw(tmp_path)
    daw.start(0.5)
    daw.run(8, [(4.0, 65, 1.0)])  # bar 2
    daw.stop()
    daw.clock.advance(10.0)
    daw.cont()
    daw.run(8, [(9.0, 67, 1.0)])  # bar 3, beat 2
    daw.stop()
    back = daw.close()
    assert starts(back) == [(65, 4.0), (67, 9.0)]
    assert chord_at(back, 4.0) == "F7" and chord_at(back, 9.0) == "G7"


def test_a_jump_back_is_a_new_take_a_chorus_on_under_the_same_chords(tmp_path):
    """Bars 1-3, Stop, Song Position to bar 2, Continue: the second pass is a new take after
    the first, a whole chorus (16 beats) on, its bar 2 under F7 again and named."""
    daw = Daw(tmp_path)
    daw.start(0.5)
    daw.run(12, [(1.0, 60, 0.5), (9.0, 67, 0.5)])
    daw.stop()
    daw.clock.advance(2.0)
    daw.position(4.0)
    daw.cont(0.3)
    daw.run(4, [(4.5, 62, 0.5)])
    daw.stop()
    back = daw.close()
    assert starts(back) == [(60, 1.0), (67, 9.0), (62, 20.5)]
    assert chord_at(back, 20.5) == "F7"
    named = [(round(file_beat(back, m.t), 2), m.text) for m in back.markers if m.kind == "text"]
    assert (20.0, "take 2: from bar 2") in named


def test_a_second_start_is_a_new_take_from_bar_1(tmp_path):
    daw = Daw(tmp_path)
    daw.start(0.5)
    daw.run(20, [(17.0, 64, 0.5)])  # into the second chorus
    daw.stop()
    daw.clock.advance(3.0)
    daw.start()
    daw.run(4, [(0.0, 72, 0.5)])
    daw.stop()
    back = daw.close()
    assert starts(back) == [(64, 17.0), (72, 32.0)]  # the take starts on the next chorus after beat 20
    assert chord_at(back, 32.0) == "C7"


def test_the_file_keeps_the_daws_beat_at_a_tempo_measured_within_half_a_percent(tmp_path):
    """At 100.4 bpm the session records the tempo once (changes under 0.5 % are not
    recorded): 400 beats on, a note on the DAW's beat is still on it in the file; a tempo
    change to 130 keeps it too, and is in the file's tempo map."""
    daw = Daw(tmp_path, bpm=100.4)
    daw.start(0.5)
    daw.run(400, [(396.0, 65, 1.0)])
    daw.bpm = 130.0
    daw.run(100, [(496.0, 67, 1.0)])
    daw.stop()
    back = daw.close()
    got = starts(back)
    assert [p for p, _ in got] == [65, 67]
    assert got[0][1] == pytest.approx(396.0, abs=0.02) and got[1][1] == pytest.approx(496.0, abs=0.02)
    assert back.tempos[-1][1] == pytest.approx(130.0, rel=0.01)


def test_a_daw_that_sends_no_clock_while_stopped_has_its_tempo_from_bar_1(tmp_path):
    """Config tempo 120, the DAW at 90 sending no clock until Play: the file's tempo map
    read 120 at bar 1 and 90 from its first tick on (a DAW importing it showed a tempo of
    120 at bar 1 that nobody played). The tempo measured from the first ticks is the tempo
    from beat 0; a change later in the first bar still goes where it came."""
    daw = Daw(tmp_path, bpm=90.0, config_tempo=120.0)
    daw.start(0.5)
    daw.run(8, [(0.0, 60, 1.0), (4.0, 62, 1.0)])
    daw.stop()
    back = daw.close()
    assert back.tempos == ((0.0, 90.0),), back.tempos
    assert starts(back) == [(60, 0.0), (62, 4.0)]
    mid = mido.MidiFile(str(tmp_path / "daw.mid"))
    assert [m.tempo for m in mid.tracks[0] if m.type == "set_tempo"] == [mido.bpm2tempo(90.0)]

    later = Daw(tmp_path / "later", bpm=90.0, config_tempo=90.0)
    later.start(0.5)
    later.run(2, [(0.0, 60, 1.0)])
    later.bpm = 120.0
    later.run(6, [(4.0, 62, 1.0)])
    later.stop()
    back = later.close()
    assert back.tempos[0] == (0.0, 90.0) and back.tempos[-1][1] == pytest.approx(120.0, rel=0.01)
    assert [(p, round(b, 1)) for p, b in starts(back)] == [(60, 0.0), (62, 4.0)]


def test_a_sound_chosen_while_the_daw_stood_stopped_is_the_next_takes(tmp_path):
    """An organ chosen on the keyboard between takes, the DAW stopped: what is played while
    it stands stopped is left out but for a pickup, and the program change went with it; the
    next take was written on the sound before it."""
    daw = Daw(tmp_path)
    daw.start(0.5)
    daw.run(8, [(0.0, 60, 1.0)])
    daw.stop()
    daw.clock.advance(1.0)
    daw.rec.event("player", mido.Message("control_change", control=0, value=1), daw.clock.now())
    daw.rec.event("player", mido.Message("program_change", program=16), daw.clock.now())
    daw.clock.advance(5.0)
    daw.cont()
    daw.run(8, [(8.0, 67, 1.0)])
    daw.stop()
    back = daw.close()
    assert starts(back) == [(60, 0.0), (67, 8.0)]
    mid = mido.MidiFile(str(tmp_path / "daw.mid"))
    ticks, seq = 0, []
    for m in mid.tracks[1]:
        ticks += m.time
        if not m.is_meta:
            seq.append((ticks, m.type, getattr(m, "program", getattr(m, "note", None))))
    assert seq[2:4] == [(3840, "control_change", None), (3840, "program_change", 16)], seq
    assert seq[4] == (3840, "note_on", 67) and daw.rec.left_out == 0


def test_notes_end_at_the_stop_and_playing_while_stopped_is_left_out_but_a_pickup_is_kept(tmp_path):
    daw = Daw(tmp_path)
    daw.start(0.5)
    daw.run(6)
    daw.rec.event("partner", on(70, ch=1), daw.clock.now())  # the partner's note at the last tick, beat 5 23/24
    daw.run(1)
    daw.stop()  # before the tick of beat 7
    daw.rec.event("partner", off(70, ch=1), daw.clock.now() + 0.01)  # silenced at the stop
    daw.clock.advance(5.0)
    daw.rec.event("player", on(50), daw.clock.now())  # noodling while stopped: not in the song
    daw.rec.event("player", off(50), daw.clock.now() + 0.2)
    daw.clock.advance(3.0)
    daw.rec.event("player", on(55), daw.clock.now())  # 0.3 s (half a beat) before Continue: a pickup
    daw.clock.advance(0.3)
    daw.cont()
    daw.run(1)
    daw.rec.event("player", off(55), daw.clock.now())
    daw.run(1)
    daw.stop()
    back = daw.close()
    partner = recording_notes(back, "partner")
    assert [(n.pitch, round(n.start, 2), round(n.end, 2)) for n in partner] == [(70, 5.96, 7.0)]
    assert starts(back) == [(55, 6.5)]
    assert daw.rec.left_out == 1


def test_a_daw_started_at_bar_5_puts_its_notes_in_bar_5(tmp_path):
    """improv starts while the DAW stands at bar 5: it sends Song Position and Continue."""
    daw = Daw(tmp_path)
    daw.position(16.0, 0.5)
    daw.cont()
    daw.run(4, [(17.0, 65, 1.0)])
    daw.stop()
    back = daw.close()
    assert starts(back) == [(65, 17.0)]
    assert chord_at(back, 17.0) == "C7"  # bar 5 is the chart's bar 1 again


def test_without_following_the_file_is_on_the_session_clock_as_before(tmp_path):
    """A recorder nobody tells the song position (improv's own clock) is unchanged."""
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="plain")
    rec.transport("start", 1.0, 0.0)  # ignored: not following
    rec.event("player", on(60), 2.0)
    rec.event("player", off(60), 2.5)
    back = load_recording(rec.close())
    assert starts(back) == [(60, 4.0)]


def test_a_start_while_running_is_a_new_take_and_a_repeated_continue_moves_nothing(tmp_path):
    """Some DAWs rewind by sending Start while running; a Continue while running changes
    nothing (the follower keeps its position)."""
    daw = Daw(tmp_path)
    daw.start(0.5)
    daw.run(6, [(1.0, 60, 0.5)])
    daw.cont()  # running already
    daw.run(2, [(7.0, 62, 0.5)])
    daw.start()  # rewinds to bar 1 while running
    daw.run(2, [(1.0, 64, 0.5)])
    daw.stop()
    back = daw.close()
    assert starts(back) == [(60, 1.0), (62, 7.0), (64, 17.0)]
    assert chord_at(back, 17.0) == "C7"


def test_trading_on_a_daws_clock_starts_the_file_after_its_count_in(tmp_path):
    """Trading on a DAW's clock counts in its first bar: the file's beat 0 is the chart's
    bar 1 (the DAW's bar 2), as before; a pickup played in the count-in is beside it."""
    daw = Daw(tmp_path, offset=-4.0)
    daw.start(0.5)
    daw.run(12, [(3.5, 60, 0.4), (5.0, 65, 1.0)])  # song beats: the pickup in the count-in, then chart beat 1
    daw.stop()
    back = daw.close()
    assert starts(back) == [(65, 1.0)]
    assert chord_at(back, 1.0) == "C7"
    early = load_recording(daw.rec.before_start)
    assert [n.pitch for n in recording_notes(early, "player")] == [60]


def test_a_crash_recovers_the_same_file_from_the_journal(tmp_path):
    """The placement is made as the notes come, in the journal: `improv recover` of a
    journal a crash left behind gives the file the session would have written."""
    import shutil
    import time

    from improv.live.recovery import recover

    (tmp_path / "live").mkdir()
    daw = Daw(tmp_path / "live")
    daw.start(0.5)
    daw.run(8, [(4.0, 65, 1.0)])
    daw.stop()
    daw.clock.advance(10.0)
    daw.cont()
    daw.run(8, [(9.0, 67, 1.0)])
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and daw.rec._journal.lines_written < 7:
        time.sleep(0.05)  # (the journal's writer thread: on disk within its sync interval)
    (tmp_path / "crash").mkdir()
    shutil.copy(daw.rec.journal_path, tmp_path / "crash" / "crash.journal")  # what a kill -9 leaves
    assert recover(tmp_path / "crash", say=lambda _: None) == [tmp_path / "crash" / "crash.mid"]
    assert starts(load_recording(tmp_path / "crash" / "crash.mid")) == [(65, 4.0), (67, 9.0)]
    assert starts(daw.close()) == [(65, 4.0), (67, 9.0)]


def test_a_song_position_rounded_down_to_the_sixteenth_at_stop_is_no_new_take(tmp_path):
    """Many DAWs send their position at every Stop, rounded down to a sixteenth: a Stop a
    tick past beat 8 and a Continue from beat 8 go on in the same take."""
    daw = Daw(tmp_path)
    daw.start(0.5)
    daw.run(8 + 2 / 24, [(4.0, 65, 1.0)])
    daw.stop()
    daw.position(8.0)
    daw.clock.advance(1.0)
    daw.cont()
    daw.run(4, [(9.0, 67, 1.0)])
    daw.stop()
    back = daw.close()
    assert starts(back) == [(65, 4.0), (67, 9.0)]
    assert not [m for m in back.markers if m.kind == "text"]


def test_a_key_held_over_a_jump_back_ends_at_the_stop(tmp_path):
    """A key held through Stop, Song Position back and Continue came out 11 beats long, into
    take 2; a DAW ends it at the stop."""
    daw = Daw(tmp_path)
    daw.start(0.5)
    daw.run(6)
    daw.rec.event("player", on(64), daw.clock.now())  # at beat 6, held on
    daw.run(2)
    daw.stop()
    daw.clock.advance(1.0)
    daw.position(0.0)
    daw.cont(0.3)
    daw.run(4)
    daw.rec.event("player", off(64), daw.clock.now())  # let go in take 2
    daw.run(4, [(4.5, 62, 0.5)])
    daw.stop()
    back = daw.close()
    (held,) = [n for n in recording_notes(back, "player") if n.pitch == 64]
    assert abs(held.start - 6.0) < 0.05 and abs(held.start + held.duration - 8.0) < 0.05, held  # (was 14 beats)
    assert [n.pitch for n in recording_notes(back, "player")].count(64) == 1


@pytest.mark.parametrize("bpm", [90.0, 110.0, 120.0])
def test_a_line_played_in_a_daw_count_in_keeps_its_notes_whatever_the_daws_tempo(tmp_path, bpm):
    """Trading on a DAW's clock (a bar's count-in) at a tempo other than the config's: the
    DAW's tempo, measured after its Start, re-timed the count-in's beats under notes already
    written, so a release could land before its note (a key squashed onto one tick, or a
    ghost note at bar 1). Every note keeps its length and its place after the Start."""
    daw = Daw(tmp_path, bpm=bpm, config_tempo=120.0, offset=-4.0, chart="F7 | Bb7 | F7 | F7")
    daw.start(0.5)
    line = [(0.05, 60, 0.2), (0.3, 62, 0.2), (0.55, 64, 0.2), (1.05, 67, 0.2), (2.5, 70, 0.4), (4.5, 72, 0.5)]
    daw.run(8, line)
    back = daw.close()
    assert starts(back) == [(72, 0.5)]  # bar 1 beat 1.5, and nothing else (no ghost at 0)
    early = recording_notes(load_recording(daw.rec.before_start), "player")
    got = [(n.pitch, round(n.start, 2), round(n.end - n.start, 2)) for n in early]
    assert [p for p, _, _ in got] == [60, 62, 64, 67, 70]
    for (pitch, start, length), (b, _, dur) in zip(got, line):
        assert start == pytest.approx(b, abs=0.05) and length == pytest.approx(dur, abs=0.05), got


def test_a_loop_going_round_while_the_daw_plays_is_a_new_take_with_the_held_key_ended(tmp_path):
    """A DAW looping bars 2-3 sends a Song Position back to bar 2 as it goes round, with no
    Stop: the second pass was written over the first at the same beats, with no take marker,
    and a key held over the loop point ran on into it."""
    daw = Daw(tmp_path)
    daw.start(0.5)
    daw.run(4)
    daw.run(4, [(5.0, 65, 1.0)])  # bar 2
    daw.run(1 / 24)
    daw.rec.event("player", on(67), daw.clock.now())  # beat 8, held over the loop point
    daw.run(4 - 1 / 24)  # bar 3
    daw.position(4.0, dt=0.0)  # round again, still running
    daw.run(1)
    daw.rec.event("player", off(67), daw.clock.now())
    daw.run(3, [(6.0, 62, 0.5)])
    daw.stop()
    back = daw.close()
    assert starts(back) == [(65, 5.0), (67, 8.0), (62, 22.0)]  # the second pass a chorus on
    (held,) = [n for n in recording_notes(back, "player") if n.pitch == 67]
    assert held.end == pytest.approx(12.0, abs=0.05)  # at the loop point
    named = [(round(file_beat(back, m.t), 2), m.text) for m in back.markers if m.kind == "text"]
    assert (20.0, "take 2: from bar 2") in named

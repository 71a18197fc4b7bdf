"""The rhythm section tells the recorder whose each message is (comp, bass, click), so that a
band session is recorded track by track and renders as it sounded."""

import mido

from improv.core.audio.render import VOICE_OF_PART, recording_to_parts
from improv.core.formats.midifile import load_recording, recording_notes
from improv.core.theory.chart import parse_chart
from improv.live.band import Band, BandParts
from improv.live.clock import ManualClock
from improv.live.midisync import FixedTimeline
from improv.live.recorder import Recorder


def run_band(parts, on_sent, seconds=4.0):
    clock = ManualClock(0.0)
    sent = []
    timeline = FixedTimeline(0.0, 120.0)
    band = Band(parse_chart("Dm7 G7 | Cmaj7"), clock, sent.append, timeline, parts, seed=3, on_sent=on_sent)
    for step in range(int(seconds / 0.025) + 1):
        clock.set(step * 0.025)
        band.pump(timeline.beat_at(clock.now()))
        band.scheduler.poll()
    band.close()
    return sent


def test_on_sent_names_the_part_of_every_message():
    got = []
    parts = BandParts(comp=True, bass=True, click=True, comp_channel=4, bass_channel=5, click_channel=9)
    sent = run_band(parts, lambda part, msg, t: got.append((part, msg.channel, msg.type)))
    assert len(got) == len(sent) > 0
    by_part = {}
    for part, ch, _ in got:
        by_part.setdefault(part, set()).add(ch)
    assert by_part == {"comp": {4}, "bass": {5}, "click": {9}}
    assert all(t in ("note_on", "note_off") for _, _, t in got)


def test_a_channel_left_by_a_part_turned_off_goes_to_the_part_that_plays_it():
    band = Band(parse_chart("C7"), ManualClock(0.0), lambda m: None, FixedTimeline(0.0, 120.0),
                BandParts(comp=False, bass=True, comp_channel=3, bass_channel=3))
    assert band.part_of(3) == "bass"
    band.parts.comp, band.parts.bass = True, False
    assert band.part_of(3) == "comp"


def test_a_band_session_records_renders_and_reads_back_part_by_part(tmp_path):
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="band",
                   band_channels={"comp": 3, "bass": 4, "click": 10})
    parts = BandParts(comp=True, bass=True, click=True, comp_channel=2, bass_channel=3, click_channel=9)
    run_band(parts, rec.event)
    rec.event("player", mido.Message("note_on", note=72, velocity=90), 0.3)
    rec.event("player", mido.Message("note_off", note=72), 0.6)
    back = load_recording(rec.close())
    assert back.parts == ("player", "comp", "bass", "click")
    assert {e.msg.channel + 1 for e in back.events if e.part == "bass"} == {4}
    assert {e.msg.channel + 1 for e in back.events if e.part == "click"} == {10}
    bass = recording_notes(back, "bass")
    assert len(bass) >= 7 and max(n.pitch for n in bass) < 60  # a bass line, not partner notes
    # rendered as the live synth plays them: the bass on the player's voice, comp and click on the partner's
    # (the bass is a synth part of its own, on the player's voice and row: the player's pedal does not hold it)
    from improv.core.audio.synth import VOICE_OF

    assert tuple(VOICE_OF[VOICE_OF_PART[p]] for p in ("bass", "comp", "click")) == (0, 1, 1)
    audio = recording_to_parts(back, 48000, tail_s=0.2)
    assert abs(audio[0]).max() > 0.01 and abs(audio[1]).max() > 0.01


def test_the_live_band_never_strikes_a_comp_note_that_still_sounds_as_the_player_gets_busier():
    """Bar by bar the band comps with the player's density of the moment; an anticipation
    held over the bar line was struck again on the downbeat when the density changed."""
    from improv.core.band.comping import CompSettings

    blues = parse_chart("F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | D7 | Gm7 | C7 | F7 D7 | Gm7 C7")
    for seed in range(6):
        clock, sent = ManualClock(0.0), []
        timeline = FixedTimeline(0.0, 120.0)
        parts = BandParts(comp=True, comp_channel=2, comp_settings=CompSettings(anticipation=0.8))
        band = Band(blues, clock, sent.append, timeline, parts, seed=seed)
        for step in range(int(48.0 / 0.025)):
            clock.set(step * 0.025)
            beat = timeline.beat_at(clock.now())
            band.set_density(3.0 if int(beat // 4) % 2 else 0.0)  # busy every other bar
            band.pump(beat)
            band.scheduler.poll()
        band.close()
        sounding = set()
        for msg in sent:
            if msg.type == "note_on" and msg.velocity > 0:
                assert msg.note not in sounding, (seed, msg)
                sounding.add(msg.note)
            elif msg.type in ("note_on", "note_off"):
                sounding.discard(msg.note)


def test_the_live_band_never_strikes_a_note_that_still_sounds_when_the_tempo_jumps():
    """A tapped tempo (or a DAW's) sped up from 120 to 200 bpm: what was handed to the
    scheduler kept its old lengths in seconds, the next stab came before them on the same
    keys, and the comp struck notes that still sounded (a stage audit on JACK)."""
    blues = parse_chart("F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | D7 | Gm7 | C7 | F7 D7 | Gm7 C7")
    for seed in range(4):
        clock, sent = ManualClock(0.0), []
        timeline = FixedTimeline(0.0, 120.0)
        parts = BandParts(comp=True, bass=True, comp_channel=2, bass_channel=3)
        band = Band(blues, clock, sent.append, timeline, parts, seed=seed)
        for step in range(int(30.0 / 0.025)):
            now = step * 0.025
            clock.set(now)
            if step % 80 == 40:  # every two seconds, slower and faster by turns
                timeline.set_tempo(200.0 if (step // 80) % 2 == 0 else 90.0, now)
            band.pump(timeline.beat_at(now))
            band.scheduler.poll()
        band.close()
        sounding = set()
        for msg in sent:
            key = (msg.channel, msg.note)
            if msg.type == "note_on" and msg.velocity > 0:
                assert key not in sounding, (seed, msg)
                sounding.add(key)
            elif msg.type in ("note_on", "note_off"):
                sounding.discard(key)
        assert not sounding


def test_the_click_accents_every_bars_first_beat_count_in_bars_too():
    """The high wood block marks beat 1 of every bar (of the count-in as of the tune), the
    low one the other beats: a click accented only once gives no bar to count by."""
    from improv.live.band import CLICK_HIGH, CLICK_LOW

    for chart, bpb in ((parse_chart("Dm7 G7 | Cmaj7"), 4), (parse_chart("C | G7", 3), 3)):
        for parts in (BandParts(click=True), BandParts(count_in=True)):
            band = Band(chart, ManualClock(0.0), lambda m: None, FixedTimeline(0.0, 120.0), parts,
                        start_beat=-2 * bpb)
            bars = range(-2 * bpb, 3 * bpb, bpb) if parts.click else range(-2 * bpb, 0, bpb)
            for bar in bars:
                clicks = [(on, pitch) for on, _, ch, pitch, _ in band.render_bar(float(bar)) if ch == 9]
                assert clicks == [(bar + k, CLICK_HIGH if k == 0 else CLICK_LOW) for k in range(bpb)], (bpb, bar)
            band.close()


def test_a_part_coming_back_after_a_stop_plays_from_now_and_reports_nothing_late():
    """The bass off, a panic (the band restarts a bar later), then the bass on again some
    bars on: the bars from the restart were rendered again from their start, and every bass
    note between the restart and the press went to the scheduler seconds late, dropped and
    said ('band note 3845 ms late'), counted as dropped in the status line."""
    clock, sent = ManualClock(0.0), []
    timeline = FixedTimeline(0.0, 120.0)
    band = Band(parse_chart("F7 | Bb7 | F7 | C7"), clock, sent.append, timeline,
                BandParts(bass=True, bass_channel=3), seed=1)
    presses = {2.0: lambda beat: band.set_part("bass", False), 2.5: lambda beat: band.restart_at(beat + 4),
               8.0: lambda beat: band.set_part("bass", True)}
    for step in range(int(11.0 / 0.005)):
        now = step * 0.005
        clock.set(now)
        beat = timeline.beat_at(now)
        if round(now, 3) in presses:
            presses[round(now, 3)](beat)
        band.pump(beat)
        band.scheduler.poll()
    band.close()
    assert band.scheduler.late == band.scheduler.dropped == 0
    ons = [m for m in sent if m.type == "note_on" and m.velocity > 0]
    assert len(ons) >= 4 + 5  # before the stop, and back from beat 16 on


def test_the_band_sets_its_channels_to_its_programs_and_records_them(tmp_path):
    """With no program change a General MIDI module (or a DAW's GM instrument) played the
    walking bass on a piano: the band sets each playing part's channel to its program (the
    click none: on the drum channel a program picks the kit), tells the recorder whose it
    is, and the file opens the bass on that program, not on the GM bass it adds otherwise."""
    rec = Recorder(tmp_path, 120.0, 4, 1, 2, t0=0.0, stamp="progs", band_channels={"comp": 3, "bass": 4, "click": 10})
    sent = []
    parts = BandParts(comp=True, bass=True, click=True, comp_channel=2, bass_channel=3, click_channel=9,
                      comp_program=4, bass_program=35)  # (a fretless bass, as a user may set it)
    band = Band(parse_chart("Dm7 G7 | Cmaj7"), ManualClock(0.0), sent.append, FixedTimeline(0.0, 120.0), parts,
                on_sent=rec.event)
    assert band.send_programs() == 2
    assert [(m.type, m.channel, m.program) for m in sent] == [("program_change", 2, 4), ("program_change", 3, 35)]
    band.close()
    mid = mido.MidiFile(str(run_and_close(rec)))
    progs = {next(m.name for m in t if m.type == "track_name"): [m.program for m in t if m.type == "program_change"]
             for t in mid.tracks[1:]}
    assert progs["bass"] == [35] and progs["comp"] == [4] and progs["click"] == []


def run_and_close(rec):
    run_band(BandParts(comp=True, bass=True, click=True, comp_channel=2, bass_channel=3, click_channel=9), rec.event)
    rec.event("player", mido.Message("note_on", note=72, velocity=90), 0.3)  # (a file of no player note is not kept)
    rec.event("player", mido.Message("note_off", note=72), 0.6)
    return rec.close()


def test_a_part_off_or_given_no_program_sends_none_until_it_comes_in():
    """A part that is off sends its program when it is turned on (a live control), not
    before; a part given none (`band.bass_program = 0`: the instrument's own sound) never."""
    sent = []
    band = Band(parse_chart("C7"), ManualClock(0.0), sent.append, FixedTimeline(0.0, 120.0),
                BandParts(comp=False, bass=True, comp_channel=2, bass_channel=3, comp_program=4, bass_program=None))
    assert band.send_programs() == 0 and sent == []
    band.set_part("comp", True)
    assert [(m.type, m.channel, m.program) for m in sent] == [("program_change", 2, 4)]
    band.close()

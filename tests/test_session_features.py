"""The live session's features on top of call and answer: embracing outside notes, live
controls, and the rhythm section under a free jam. Manual clock, no sleeping."""

import pytest

from test_session import FakeSink, config, make, play, play_more

from improv.config import override
from improv.core.theory.chart import parse_chart
from improv.core.respond.markov import MarkovResponder
from improv.core.band.bass import BassSettings, walk
from improv.core.band.comping import CompSettings, plan_bar
from improv.live.band import Band, BandParts
from improv.live.clock import ManualClock
from improv.live.midisync import FixedTimeline

# C# held two beats, loud, on beat 1 over Cmaj7: a clear "mistake"; then E and G.
OUTSIDE_CALL = [(0.0, [0x90, 61, 120]), (1.0, [0x80, 61, 0]), (1.0, [0x90, 64, 70]), (1.4, [0x80, 64, 0]),
                (1.5, [0x90, 67, 70]), (1.9, [0x80, 67, 0])]


def answer_pcs_in_first_bar(sink, s):
    bar_end = s.time_of(5.0 + 4.0)
    return {note % 12 for t, note in sink.ons(channel=1) if t < bar_end}


def test_embrace_builds_the_answer_on_the_outside_note_and_says_so():
    cfg = override(config(), "embrace", mode="embrace", daring=1.0)
    s, clock, inq, sink, rec = make(cfg, chart="Cmaj7", responder=MarkovResponder(seed=3))
    s.start()
    play(s, clock, inq, OUTSIDE_CALL, until=7.0)
    s.close()
    assert s.answers == 1
    assert 1 in answer_pcs_in_first_bar(sink, s)  # C# comes back in the answer's first bar
    heard = [text for text, _ in rec[0].markers if text.startswith("bar 1: heard C#")]
    assert heard and "->" in heard[0], rec[0].markers
    assert sink.sounding() == set()


# A call that leans on its outside note (C# over Cmaj7, three times, long and accented).
LEANING_CALL = [(0.0, [0x90, 61, 120]), (0.45, [0x80, 61, 0]), (0.5, [0x90, 62, 90]), (0.7, [0x80, 62, 0]),
                (0.75, [0x90, 61, 110]), (1.2, [0x80, 61, 0]), (1.25, [0x90, 64, 90]), (1.45, [0x80, 64, 0]),
                (1.5, [0x90, 61, 115]), (2.4, [0x80, 61, 0])]


def test_guide_steers_away_from_the_outside_note():
    # Over 20 seeds: with embrace off the partner (which learns from the call) plays the
    # call's C# now and then, so the test can tell; guide never does (favouring the chord
    # tones alone still let two through: the C# is avoided as well).
    def c_sharps(mode):
        n = 0
        for seed in range(20):
            cfg = override(config(), "embrace", mode=mode)
            s, clock, inq, sink, rec = make(cfg, chart="Cmaj7", responder=MarkovResponder(seed=seed))
            s.start()
            play(s, clock, inq, LEANING_CALL, until=7.0)
            s.close()
            assert s.answers == 1
            n += sum(1 for _, note in sink.ons(channel=1) if note % 12 == 1)
        return n

    assert c_sharps("off") > 0, "control: with embrace off the C# is played"
    assert c_sharps("guide") == 0


def test_live_controls_change_mode_daring_and_answer_length_and_are_not_music():
    cfg = override(config(), "controls", mode="note 36", daring="cc 21", answer_length="cc 22", end_of_call="cc 23")
    s, clock, inq, sink, rec = make(cfg, chart="Cmaj7")
    s.start()
    play(s, clock, inq, [(0.0, [0xB0, 21, 127]), (0.1, [0x90, 36, 100]), (0.2, [0x80, 36, 0]),
                         (0.3, [0xB0, 22, 16])], until=0.5)
    assert s.cfg.embrace.daring == 1.0 and s.cfg.embrace.mode == "guide"
    assert s.policy.segmenter.s.answer_bars == 1
    # all the way down: as long as the call again (once turned, it was 1-8 bars for good)
    play_more(s, clock, inq, [(0.6, [0xB0, 22, 0])], start=0.5, until=0.7)
    assert s.policy.segmenter.s.answer_bars == 0 and s.cfg.phrase.answer_bars == 0
    assert sink.sent == [] and not s.policy.segmenter.in_call  # the pad and knobs are not played through
    s.close()


def test_a_bound_pads_pressure_is_not_music():
    """A pad bound to tap sends its key's pressure (polyphonic aftertouch) while held, as drum
    pads do: that went through to the synth and into the player's track of the recording."""
    cfg = override(config(), "controls", tap="note 36")
    s, clock, inq, sink, rec = make(cfg, chart="Cmaj7")
    s.start()
    play(s, clock, inq, [(0.0, [0x99, 36, 100]), (0.01, [0xA9, 36, 60]), (0.02, [0xA9, 36, 90]),
                         (0.1, [0x89, 36, 0]), (0.6, [0xA0, 37, 20])], until=0.8)
    assert [m.type for _, m in sink.sent] == ["polytouch"]  # an unbound key's pressure still goes through
    assert [(part, m.type, m.note) for part, m, _ in rec[0].events] == [("player", "polytouch", 37)]
    s.close()


def test_the_end_of_call_control_answers_at_once():
    cfg = override(config(), "controls", end_of_call="cc 23")
    s, clock, inq, sink, rec = make(cfg, chart="Cmaj7")
    s.start()
    play(s, clock, inq, [(0.0, [0x90, 60, 90]), (0.1, [0xB0, 23, 127])], until=0.15)
    assert s.calls == 1  # without waiting a beat of silence
    s.close()


def test_comp_and_bass_under_a_free_jam_stop_clean():
    cfg = override(config(), "band", comp=True, bass=True)
    s, clock, inq, sink, rec = make(cfg, chart="Dm7 G7 | Cmaj7")
    s.start()
    play(s, clock, inq, [], until=4.0)  # two bars at 120 bpm
    comp, bass = sink.ons(channel=2), sink.ons(channel=3)
    assert comp and len(bass) >= 7  # one bass note a beat
    assert all(abs((t - s.t0) / 0.5 - round((t - s.t0) / 0.5)) < 0.02 for t, _ in bass)  # on the beats
    s.close()
    assert sink.sounding() == set()


def test_the_band_sets_its_sounds_when_the_session_starts_and_again_after_a_panic():
    """On a General MIDI module the bass line played as a piano: no program change was ever
    sent. The band's programs go out at the start, before its first note, and again after a
    panic (a player who slams it may have reset the module); `band.bass_program = 0` sends
    none for the bass (the instrument's own sound), and a recorder hears them as the parts'."""
    cfg = override(config(), "band", comp=True, bass=True, click=True)
    s, clock, inq, sink, rec = make(cfg, chart="Dm7 G7 | Cmaj7")
    s.start()
    progs = [(m.channel, m.program) for _, m in sink.sent if m.type == "program_change"]
    assert progs == [(2, 4), (3, 32)]  # electric piano 1, acoustic bass (GM 5 and 33); the click none
    assert sink.sent[0][1].type == sink.sent[1][1].type == "program_change"  # before anything else
    assert [(part, m.program) for part, m, _ in rec[0].events if m.type == "program_change"] == [("comp", 4),
                                                                                                 ("bass", 32)]
    play(s, clock, inq, [], until=1.0)
    n = len(sink.sent)
    s.panic()
    assert [(m.channel, m.program) for _, m in sink.sent[n:] if m.type == "program_change"] == [(2, 4), (3, 32)]
    s.close()
    s, clock, inq, sink, rec = make(override(cfg, "band", bass_program=0, comp_program=1), chart="Dm7 G7 | Cmaj7")
    s.start()
    assert [(m.channel, m.program) for _, m in sink.sent if m.type == "program_change"] == [(2, 0)]
    s.close()


class WiredSink(FakeSink):
    """A MIDI output that can tell which synths are connected to it (`MidiOutSink.listeners`)."""

    def __init__(self, clock):
        super().__init__(clock)
        self.wired = {"fluidsynth:midi_in"}

    def listeners(self):
        return frozenset(self.wired)


def test_a_synth_connected_after_the_start_is_sent_the_bands_programs():
    """A General MIDI module wired to improv's output in a patchbay after the session started
    never got the program changes (sent once, at the start): it played the walking bass on a
    piano. A synth that joins an output (or leaves and comes back) is sent them within a
    watch round; one already there is not sent them again and again."""
    from improv.live.session import WATCH_EVERY_S

    cfg = override(config(), "band", comp=True, bass=True)
    s, clock, inq, _, rec = make(cfg, chart="Dm7 G7 | Cmaj7")
    sink = WiredSink(clock)
    s.sinks = [sink]

    def progs(since=0):
        return [(m.channel, m.program) for _, m in sink.sent[since:] if m.type == "program_change"]

    s.start()
    assert progs() == [(2, 4), (3, 32)]
    play(s, clock, inq, [], until=3 * WATCH_EVERY_S)
    assert progs() == [(2, 4), (3, 32)]  # nobody new: nothing sent again
    n = len(sink.sent)
    sink.wired.add("a2j:Roland SC-8850 [20] (playback): SC-8850 Part A")
    play_more(s, clock, inq, [], start=3 * WATCH_EVERY_S, until=5 * WATCH_EVERY_S)
    assert progs(n) == [(2, 4), (3, 32)]
    assert [(part, m.program) for part, m, _ in rec[0].events if m.type == "program_change"][2:] == [("comp", 4),
                                                                                                    ("bass", 32)]
    n = len(sink.sent)
    sink.wired = set()  # unplugged, and back
    play_more(s, clock, inq, [], start=5 * WATCH_EVERY_S, until=7 * WATCH_EVERY_S)
    assert progs(n) == []
    sink.wired = {"a2j:Roland SC-8850 [20] (playback): SC-8850 Part A"}
    play_more(s, clock, inq, [], start=7 * WATCH_EVERY_S, until=9 * WATCH_EVERY_S)
    assert progs(n) == [(2, 4), (3, 32)]
    s.close()


def test_an_output_plugged_back_in_is_sent_the_bands_programs_once():
    """An output unplugged and back (`MidiOutSink.reconnect`) is sent the band's programs on
    any backend; where it can tell who hears it, the synth it connected to was also a join
    at the next look, and the programs went out twice."""
    from improv.live.session import WATCH_EVERY_S

    class Replugged(WiredSink):
        gone, lines = False, []

        def reconnect(self):  # (opened again: connected to the synth there)
            if not self.lines:
                return ""
            self.wired = {"a2j:Roland SC-8850 [20] (playback): SC-8850 Part A"}
            return self.lines.pop(0)

        def alive(self):
            return True

    cfg = override(config(), "band", comp=True, bass=True)
    s, clock, inq, _, rec = make(cfg, chart="Dm7 G7 | Cmaj7")
    sink = Replugged(clock)
    s.sinks = [sink]
    s.watched.append(sink)
    s.start()
    play(s, clock, inq, [], until=2 * WATCH_EVERY_S)
    n = len(sink.sent)
    sink.lines.append("MIDI output 'SC-8850' is back: every channel silenced, play on")
    play_more(s, clock, inq, [], start=2 * WATCH_EVERY_S, until=5 * WATCH_EVERY_S)
    assert [(m.channel, m.program) for _, m in sink.sent[n:] if m.type == "program_change"] == [(2, 4), (3, 32)]
    s.close()


def test_a_session_started_mid_bar_plays_its_band_from_there_with_nothing_late():
    """The demo starts a beat before its first note (beat 3 of bar 1): the band's notes of
    beats 0-2 are past, not late (the ballad preset's demo dropped 7 of them, one 2.7 s late)."""
    cfg = override(config(), "band", comp=True, bass=True)
    s, clock, inq, sink, rec = make(cfg, chart="Dm7 G7 | Cmaj7", start_beat=3.0)
    s.start()
    start = clock.now()
    for step in range(1, 301):  # three seconds: six beats at 120 bpm
        clock.set(start + step * 0.01)
        s.step()
    assert s.band.scheduler.late == 0 and s.band.scheduler.dropped == 0
    bass = sink.ons(channel=3)
    assert bass and min(t for t, _ in bass) >= start - 1e-9
    assert len(bass) >= 6  # beat 3 (on time, at the start) and the bar after, a note a beat
    s.close()
    assert sink.sounding() == set()


def test_a_reharmonised_span_is_played_by_the_rhythm_section_too():
    for seed in range(4):
        clock = ManualClock(0.0)
        sink = FakeSink(clock)
        timeline = FixedTimeline(0.0, 120.0)
        band = Band(parse_chart("Cmaj7 | G7"), clock, sink.send, timeline, BandParts(bass=True), seed=seed)
        band.pump(0.0)  # bars 1 and 2 are rendered ahead, only the first beat handed over
        band.override(4.0, 8.0, parse_chart("Cmaj7 | Db7"))  # a tritone substitute over bar 2
        for step in range(0, 161):
            clock.set(step * 0.025)
            band.pump(timeline.beat_at(clock.now()))
            band.scheduler.poll()
        bar2 = [note for t, note in sink.ons(channel=3) if 2.0 - 1e-6 <= t < 4.0]
        assert len(bar2) == 4 and bar2[0] % 12 in {1, 5, 8, 11}, (seed, bar2)  # Db7's chord tones, not G7's root
        band.close()
        assert sink.sounding() == set()


def _bass_line(tune, sub=None, at_s=0.0, sub_start=4.0, hold=None, seed=0):
    """The bass's notes {beat: pitch} over three bars of `tune` at 120 bpm, when the chart
    `sub` (a substitute over [sub_start, 8)) reaches the band at `at_s` seconds."""
    clock = ManualClock(0.0)
    sink = FakeSink(clock)
    timeline = FixedTimeline(0.0, 120.0)
    band = Band(parse_chart(tune), clock, sink.send, timeline, BandParts(bass=True), seed=seed, lookahead=1.0)
    for step in range(0, 2400):  # 6 s in steps of 2.5 ms
        clock.set(step * 0.0025)
        if sub is not None and step == round(at_s / 0.0025):
            band.override(sub_start, 8.0, parse_chart(sub))
        band.pump(timeline.beat_at(clock.now()), hold)
        band.scheduler.poll()
    band.close()
    assert sink.sounding() == set()
    ons = [(round(timeline.beat_at(t), 3), note) for t, note in sink.ons(channel=3)]
    assert len(ons) == len({b for b, _ in ons}) == 12, ons  # a walking bass: one note a beat, none twice
    return dict(ons)


TUNE, SUB = "Cmaj7 | G7 | Cmaj7", "Cmaj7 | Db7 | Cmaj7"


def test_trading_holds_the_partners_downbeat_for_its_substitute():
    """Trading hands the call over 0.1 s before the partner's turn (beat 4 here): a beat of
    lookahead had handed the turn's downbeat to the scheduler already, so the bass played
    G7's root under the partner's Db7."""
    for seed in range(4):
        early = _bass_line(TUNE, SUB, at_s=0.1, seed=seed)  # the substitute known before bar 2 was handed
        late = _bass_line(TUNE, SUB, at_s=2.0 - 0.08, seed=seed)
        held = _bass_line(TUNE, SUB, at_s=2.0 - 0.08, hold=4.0, seed=seed)
        plain = _bass_line(TUNE, seed=seed)
        assert late[4.0] == plain[4.0] != early[4.0]  # (without the hold: G7's downbeat)
        # held: bar 1 as it was played, bar 2 walked over the substitute from its downbeat
        sub, _ = walk(parse_chart(SUB), 4.0, 8.0, seed, plain[3.0], BassSettings())
        assert [held[b] for b in range(4)] == [plain[b] for b in range(4)]
        assert [held[b] for b in range(4, 8)] == [n.pitch for n in sub.absolute()], (seed, held, sub)


def test_a_substitute_that_arrives_in_its_bar_plays_for_the_rest_of_it():
    """An answer whose first beats were handed already: what was handed stays, the rest of
    the bar follows the substitute (before, only the next bar did), nothing plays twice."""
    for seed in range(4):
        plain = _bass_line(TUNE, seed=seed)
        # bar 2 over the substitute from its downbeat, after a bar 1 played as written
        before = _bass_line(TUNE, SUB, at_s=2.0 - 0.08, hold=4.0, seed=seed)
        got = _bass_line(TUNE, SUB, at_s=2.3, seed=seed)  # ready 0.3 s into bar 2: beats 4 and 5 handed
        assert [got[b] for b in range(4)] == [before[b] for b in range(4)] == [plain[b] for b in range(4)]
        assert [got[4.0], got[5.0]] == [plain[4.0], plain[5.0]]
        assert [got[6.0], got[7.0]] == [before[6.0], before[7.0]] != [plain[6.0], plain[7.0]], (seed, got, before)


def test_an_answer_from_beat_3_re_harmonises_its_bar_from_beat_3():
    """The free jam answers on the next beat: a substitute over [6, 8) (bar 2 from its beat
    3) was never played, as the band looked up a bar's chart at its first beat only."""
    half = "Cmaj7 | G7 Db7 | Cmaj7"
    for seed in range(4):
        got = _bass_line(TUNE, half, at_s=0.1, sub_start=6.0, seed=seed)
        assert got == _bass_line(half, seed=seed), seed


def test_two_substitutes_in_one_bar_both_sound():
    """Each substitute's chart is the tune but for its own span: the later one laid the
    tune back over the earlier's for the whole bar (G7 under the first half's Db7)."""
    two = "Cmaj7 | Db7 Ab7 | Cmaj7"
    for seed in range(4):
        clock = ManualClock(0.0)
        sink = FakeSink(clock)
        timeline = FixedTimeline(0.0, 120.0)
        band = Band(parse_chart(TUNE), clock, sink.send, timeline, BandParts(bass=True), seed=seed, lookahead=1.0)
        band.override(4.0, 6.0, parse_chart("Cmaj7 | Db7 G7 | Cmaj7"))
        band.override(6.0, 8.0, parse_chart("Cmaj7 | G7 Ab7 | Cmaj7"))
        for step in range(0, 2400):
            clock.set(step * 0.0025)
            band.pump(timeline.beat_at(clock.now()))
            band.scheduler.poll()
        band.close()
        got = {round(timeline.beat_at(t), 3): note for t, note in sink.ons(channel=3)}
        assert got == _bass_line(two, seed=seed), seed


G7_ONLY = {2, 4, 7, 9}  # pitch classes of G7 and its 9 and 13 (D, E, G, A) that Db7's voicings lack
DB7 = {1, 3, 5, 8, 10, 11}  # Db7 and its 9 and 13: Db Eb F Ab Bb Cb
ANTICIPATING = CompSettings(anticipation=1.0)  # a comp that anticipates every change it can


def _comp_at_bar_2(tune, sub=None, at_s=0.0, hold=None, seed=0):
    """The comp over three bars of `tune` at 120 bpm when `sub` (a substitute chart over bar
    2, [4, 8)) reaches the band at `at_s` seconds: (the pitch classes sounding just after
    bar 2's downbeat, {beat: pitch classes struck} for beats in [3, 8))."""
    clock = ManualClock(0.0)
    sink = FakeSink(clock)
    timeline = FixedTimeline(0.0, 120.0)
    band = Band(parse_chart(tune), clock, sink.send, timeline, BandParts(comp=True, comp_settings=ANTICIPATING),
                seed=seed, lookahead=1.0)
    sounding = None
    for step in range(0, 2400):  # 6 s in steps of 2.5 ms
        clock.set(step * 0.0025)
        if sub is not None and step == round(at_s / 0.0025):
            band.override(4.0, 8.0, parse_chart(sub))
        band.pump(timeline.beat_at(clock.now()), hold)
        band.scheduler.poll()
        if step == round(2.01 / 0.0025):  # just after bar 2's downbeat (2.0 s)
            sounding = {pitch % 12 for ch, pitch in sink.sounding() if ch == 2}
    band.close()
    assert sink.sounding() == set() and band.scheduler.late == 0
    struck: dict[float, set[int]] = {}
    for t, pitch in sink.ons(channel=2):
        if 1.5 <= t < 4.0:
            struck.setdefault(round(timeline.beat_at(t), 3), set()).add(pitch % 12)
    return sounding, struck


def _planned_bar_2(chart, seed, anticipated):
    return [h.start for h in plan_bar(parse_chart(chart), 1, seed, 0.0, ANTICIPATING, prev_anticipated=anticipated)]


def test_a_substitute_on_the_partners_downbeat_cuts_the_comps_anticipation_of_the_written_chord():
    """Trading: the comp anticipated bar 2's written G7 on the "and" of 4 (handed out a beat
    ahead), then the partner's answer re-harmonised bar 2 with Db7, 0.08 s before its
    downbeat. The G7 voicing rang on under the Db7 for a beat, and the bar was comped as if
    Db7 had been anticipated. Now the held G7 stops on the downbeat and the bar is comped
    as a bar whose chord was not anticipated, over Db7."""
    for seed in range(4):
        plain, plain_struck = _comp_at_bar_2(TUNE, seed=seed)
        assert 3.5 in plain_struck and 4.0 not in plain_struck  # it anticipates (the downbeat was played early)
        assert plain & G7_ONLY and plain_struck[3.5] & G7_ONLY
        got, struck = _comp_at_bar_2(TUNE, SUB, at_s=2.0 - 0.08, hold=4.0, seed=seed)
        assert struck[3.5] == plain_struck[3.5]  # the anticipation sounded as it was voiced: G7
        assert not got & G7_ONLY, (seed, got)  # ...and stops on the downbeat
        bar2 = sorted(b for b in struck if b >= 4.0)
        assert bar2 == _planned_bar_2(SUB, seed, anticipated=False), (seed, struck)
        assert all(struck[b] <= DB7 for b in bar2 if b < 7.5)  # (7.5: the anticipation of bar 3)


def test_a_substitute_known_before_the_anticipation_is_anticipated():
    """The substitute arrived before the "and" of 4 was handed out: the anticipation voices
    it (before, only bars from the substitute's own were rendered again)."""
    for seed in range(4):
        got, struck = _comp_at_bar_2(TUNE, SUB, at_s=1.0, seed=seed)  # beat 2: the "and" of 4 is handed at beat 2.5
        assert 3.5 in struck and struck[3.5] <= DB7 and got <= DB7, (seed, struck, got)
        assert sorted(b for b in struck if b >= 4.0) == _planned_bar_2(SUB, seed, anticipated=True)


def test_a_substitute_over_an_unchanged_chord_is_comped_as_not_anticipated():
    """Over "Cmaj7 | Cmaj7" the comp had nothing to anticipate; a substitute on bar 2 made
    the chart say the bar before anticipated it, so bar 2's stabs before its "and" of 2
    were left out (where its pattern had them, nothing sounded the substitute there)."""
    for seed in range(4):
        _, plain_struck = _comp_at_bar_2("Cmaj7 | Cmaj7 | Cmaj7", seed=seed)
        assert 3.5 not in plain_struck
        _, struck = _comp_at_bar_2("Cmaj7 | Cmaj7 | Cmaj7", "Cmaj7 | Db7 | Cmaj7", at_s=2.0 - 0.08, hold=4.0,
                                   seed=seed)
        assert 3.5 not in struck, (seed, struck)
        bar2 = sorted(b for b in struck if b >= 4.0)
        assert bar2 == _planned_bar_2("Cmaj7 | Db7 | Cmaj7", seed, anticipated=False), (seed, struck)
        assert all(struck[b] <= DB7 for b in bar2 if b < 7.5)  # (7.5: the anticipation of bar 3)


def _comp_notes(tune, subs=(), hold=None, seed=0, bass=False, secs=6.0, step_s=0.0025, actions=(), bpb=4):
    """Drive a band playing `tune` at 120 bpm (comp anticipating all it can; `bass`) with the
    substitutes `subs` [(at seconds, start beat, end beat, chart)] and `actions` [(at
    seconds, fn(band))]: (the comp's notes [(on beat, off beat, pitch)], its pitches struck
    while still sounding [(beat, pitch)])."""
    clock = ManualClock(0.0)
    sink = FakeSink(clock)
    timeline = FixedTimeline(0.0, 120.0)
    band = Band(parse_chart(tune, bpb), clock, sink.send, timeline,
                BandParts(comp=True, bass=bass, comp_settings=ANTICIPATING), seed=seed, lookahead=1.0)
    for step in range(int(secs / step_s)):
        clock.set(step * step_s)
        for at, start, end, chart in subs:
            if step == round(at / step_s):
                band.override(start, end, parse_chart(chart, bpb))
        for at, fn in actions:
            if step == round(at / step_s):
                fn(band)
        band.pump(timeline.beat_at(clock.now()), hold)
        band.scheduler.poll()
    band.close()
    assert sink.sounding() == set() and band.scheduler.late == 0
    sounding, notes, twice = {}, [], []
    for t, m in sink.sent:
        if m.type in ("note_on", "note_off") and m.channel == 2:
            beat = round(timeline.beat_at(t), 3)
            if m.type == "note_on" and m.velocity:
                if m.note in sounding:
                    twice.append((beat, m.note))
                sounding.setdefault(m.note, beat)
            elif m.note in sounding:
                notes.append((sounding.pop(m.note), beat, m.note))
    return sorted(notes), twice


def test_a_substitute_after_the_downbeat_was_handed_out_still_cuts_the_anticipation():
    """The free jam: the bass's downbeat is handed out a beat ahead, and the answer (with its
    substitute) came after it, at beat 3.6. The held G7 was not cut, and Db7 stabs came
    over it, striking its B and F again while they sounded."""
    for seed in range(4):
        notes, twice = _comp_notes(TUNE, [(1.8, 4.0, 8.0, SUB)], seed=seed, bass=True)
        assert twice == [], (seed, twice)
        assert [off for on, off, _ in notes if on == 3.5] == [4.0] * 4, (seed, notes)  # the G7 stops on the downbeat
        assert all(p % 12 in DB7 for on, _, p in notes if 4.0 <= on < 7.5), (seed, notes)


def test_the_cut_and_the_downbeat_it_makes_room_for_keep_their_order_when_the_tempo_moves():
    """The cut's time was fixed when the bar was rendered again, the stab's when it was
    handed out: a tempo change between put the cut after the stab, and the Db7 lost its B
    and F (shared with the G7 held) a fraction of a millisecond after they were struck."""
    for seed in range(8):
        tempo = [(1.94, lambda band: band.feeder.timeline.set_tempo(122.0, 1.94))]
        notes, twice = _comp_notes(TUNE, [(1.92, 4.0, 8.0, SUB)], hold=4.0, seed=seed, step_s=0.0005, actions=tempo)
        assert twice == [], (seed, twice)
        assert all(off - on > 0.1 for on, off, _ in notes), (seed, notes)


def test_a_substitute_that_makes_the_bar_before_anticipate_cuts_the_stab_it_handed_out():
    """Over "Cmaj7 | Cmaj7" a substitute at beat 2.2 lets the bar before anticipate it; its
    beat-4 stab was handed out already and still sounded when the anticipation struck the
    same B, whose earlier note-off then silenced the Db7's seventh."""
    for seed in range(10):
        notes, twice = _comp_notes("Cmaj7 | Cmaj7 | Cmaj7", [(1.1, 4.0, 8.0, SUB)], seed=seed, secs=3.0)
        assert twice == [], (seed, twice)
        assert all(off - on > 0.1 for on, off, _ in notes), (seed, notes)


def test_a_substitute_back_to_the_bar_befores_chord_still_cuts_the_anticipation():
    """The substitute over bar 2 is bar 1's Cmaj7: the bar before, rendered again, no longer
    anticipates, and its record of the G7 it held (handed out already) was lost."""
    for seed in range(4):
        notes, twice = _comp_notes(TUNE, [(1.35, 4.0, 8.0, "Cmaj7 | Cmaj7 | Cmaj7")], seed=seed, secs=3.0)
        assert twice == [], (seed, twice)
        g7 = [(on, off) for on, off, p in notes if on == 3.5]
        assert g7 and all(off == 4.0 for _, off in g7), (seed, notes)


def test_in_three_four_a_stab_ends_the_chord_held_over_its_bar_line():
    """A 3/4 bar's last stab may ring over the bar line (no anticipation: the same chord);
    the next bar's first stab struck its common tones again while they sounded, and the
    held stab's note-off then cut them."""
    for seed in range(12):
        _, twice = _comp_notes("Cmaj7 | % | Dm7 | G7", seed=seed, secs=12.0, bpb=3)
        assert twice == [], (seed, twice)


def test_tap_tempo_keeps_the_beat_and_changes_the_tempo():
    cfg = override(config(), "controls", tap="note 40")
    s, clock, inq, sink, rec = make(cfg, chart="Cmaj7")
    rec_tempos = []
    s.start()
    rec[0].tempo = lambda bpm, t: rec_tempos.append(bpm)
    taps = [(1.0 + i * 0.6, [0x90, 40, 100]) for i in range(4)]
    play(s, clock, inq, taps, until=3.0)
    assert abs(s.tempo - 100.0) < 0.5 and rec_tempos
    beat = s.beat_at(clock.now())
    assert abs(s.time_of(beat) - clock.now()) < 1e-9
    s.close()


def test_embrace_settings_reach_the_job_as_they_were_when_the_call_ended():
    # The partner computes on its own thread or process: a mode switched (a pad, a knob)
    # while it thinks must not change the answer to the call already ended.
    from test_session import HandPartner

    partner = HandPartner()
    s, clock, inq, sink, rec = make(override(config(), "embrace", mode="embrace", daring=0.9), chart="Cmaj7",
                                    responder=partner)
    s.start()
    play(s, clock, inq, OUTSIDE_CALL, until=2.95)  # the call has ended: asked
    assert s.calls == 1 and len(partner.jobs) == 1
    s.cfg = override(s.cfg, "embrace", mode="off", daring=0.1)  # switched while the partner thinks
    job = partner.jobs[0]
    assert (job.embrace.mode, job.embrace.daring) == ("embrace", 0.9)
    s.close()


def test_send_clock_lets_a_daw_follow_and_stops_it_at_the_end():
    cfg = override(config(), "band", send_clock=True)
    s, clock, inq, sink, rec = make(cfg, chart="Cmaj7")
    s.start()
    play(s, clock, inq, [], until=1.0)  # two beats at 120 bpm
    s.close()
    kinds = [m.type for _, m in sink.sent]
    assert kinds[0] == "start" and kinds[-1] == "stop"
    ticks = [t - s.t0 for t, m in sink.sent if m.type == "clock"]
    assert len(ticks) == 49  # 24 a beat, the first on beat 0, the last on beat 2
    assert all(abs(t - i * 0.5 / 24) < 0.011 for i, t in enumerate(ticks))  # within one 10 ms step


@pytest.mark.parametrize("gap", [1.0, 0.6])
def test_a_tapped_tempo_keeps_the_daw_following_improvs_clock_on_improvs_beat(gap):
    """Tapping a new tempo while improv sends its clock: improv's beat stayed where it was at
    the tap, but the clock's next tick stayed where the old tempo had it, so from then on
    every beat the DAW played was off improv's band and partner by up to a 24th of the
    change (21 ms tapping 120 down to 60 bpm)."""
    from improv.core.listen.midiclock import tick_time

    cfg = override(override(config(), "band", send_clock=True), "controls", tap="note 40")
    s, clock, inq, sink, rec = make(cfg, chart="Cmaj7")
    s.start()
    taps = [(1.013 + i * gap, [0x90, 40, 100]) for i in range(3)]
    play(s, clock, inq, taps, until=1.013 + 2 * gap + 1.0)
    cs = s.clock_sender
    assert s.tempo == pytest.approx(60.0 / gap) and cs.tempo == pytest.approx(60.0 / gap)
    now_beat = s.beat_at(clock.now())
    for beat in range(int(now_beat) + 1, int(now_beat) + 9):  # the DAW's beats from now on are improv's
        tick = round((beat - cs.position) * 24)
        assert tick_time(cs.start, cs.tempo, tick) == pytest.approx(s.time_of(beat), abs=1e-6), beat
    s.close()


def test_a_session_started_mid_bar_tells_a_daw_where_it_is_instead_of_a_burst_of_ticks():
    """The demo starts on beat 3: the DAW gets Song Position (12 sixteenths) and Continue,
    then ticks on improv's beats, not a Start for beat 0 followed by 72 ticks at once."""
    cfg = override(config(), "band", send_clock=True)
    s, clock, inq, sink, rec = make(cfg, chart="Cmaj7", start_beat=3.0)
    s.start()
    start = s.time_of(3.0)  # beat 3, a moment after start(): the first tick must not be due before it runs
    assert 0.2 <= start - clock.now() <= 0.3
    for step in range(1, 101 + 25):  # to two beats at 120 bpm after it
        clock.set(start - 0.25 + step * 0.01)
        s.step()
    s.close()
    msgs = [m for _, m in sink.sent if m.type in ("songpos", "start", "continue", "clock", "stop")]
    assert [m.type for m in msgs[:2]] == ["songpos", "continue"] and msgs[0].pos == 12
    ticks = [(t - start) for t, m in sink.sent if m.type == "clock"]
    assert len(ticks) == 49 and all(abs(t - i * 0.5 / 24) < 0.011 for i, t in enumerate(ticks))


DAW_CALL = {0: [0x90, 65, 100], 12: [0x80, 65, 0], 24: [0x90, 69, 90], 36: [0x80, 69, 0]}  # clock tick -> message


def _daw_session():
    """A free jam with the bass over F7 | Bb7, following an external clock (a DAW's) on a
    manual clock: (session, clock, input queue, sink, recorders, the external clock)."""
    from improv.live.midisync import ExternalClock

    clock = ManualClock(10.0)
    ext = ExternalClock(clock)
    s, clock, inq, sink, rec = make(override(config(), "band", bass=True), chart="F7 | Bb7", clock=clock,
                                    external=ext)
    return s, clock, inq, sink, rec, ext


def test_the_free_jam_follows_an_external_clock_and_stop_silences():
    from improv.core.listen.midiclock import CLOCK, START, STOP, tick_time

    s, clock, inq, sink, rec, ext = _daw_session()
    s.start()
    inq.push([0x90, 60, 90])  # before the DAW's Start: passed through, but no call
    s.step()
    assert not s.policy.segmenter.in_call and sink.ons(channel=0)
    ext.receive([START])
    t_start, bpm = 10.5, 100.0
    spb = 60.0 / bpm
    ticks = [tick_time(t_start, bpm, k) for k in range(24 * 12)]
    call = DAW_CALL  # on beats 0 and 1
    stopped_at = None
    for k, t in enumerate(ticks):
        clock.set(t)
        ext.receive([CLOCK])
        if k in call:
            inq.push(call[k])
        s.step()
        if k == 24 * 10:  # beat 10: stop the DAW mid-answer
            before = len(sink.sent)
            ext.receive([STOP])
            s.step()
            stopped_at = before
            break
    assert s.answers == 1
    partner = sink.ons(channel=1)
    assert partner  # the answer (beats 3..7) sounded, on the DAW's grid
    for t, _ in partner + sink.ons(channel=3):
        pos = (t - t_start) / spb
        assert abs(pos * 12 - round(pos * 12)) < 0.05, pos  # on the 12-ticks-a-beat grid of the clock
    after = sink.sent[stopped_at:]
    assert all(m.type == "note_off" or m.velocity == 0 for _, m in after if m.type.startswith("note"))
    for _ in range(20):  # nothing more while stopped
        clock.advance(0.02)
        s.step()
    assert not [m for _, m in sink.sent[stopped_at + len(after):] if m.type == "note_on" and m.velocity]
    s.close()
    assert sink.sounding() == set()


def test_a_daw_jumping_back_while_it_plays_silences_the_answer_and_the_band_plays_on_from_there():
    """The DAW loops (or is clicked back to bar 1) while it plays: a Song Position, no Stop.
    The rest of the answer under way played five beats later over other chords, and the
    bass stood silent until the song came back to the beats it had rendered."""
    from improv.core.listen.midiclock import CLOCK, START, song_position, tick_time

    s, clock, inq, sink, rec, ext = _daw_session()
    said = []
    s.say = said.append
    s.start()
    ext.receive([START])
    t_start, spb = 10.5, 0.6
    call = DAW_CALL
    jump_tick = 24 * 5  # beat 5, the answer (beats 3-7) under way
    for k in range(24 * 10):
        clock.set(tick_time(t_start, 100.0, k))
        if k == jump_tick:
            assert s.partner_busy()
            ext.receive(list(song_position(0.0)))  # back to bar 1, still playing
        ext.receive([CLOCK])
        if k in call:
            inq.push(call[k])
        s.step()
        if k == jump_tick:
            jumped = len(sink.sent)
            assert not {key for key in sink.sounding() if key[0] == 1}  # the answer's note ended at the jump
        clock.advance(0.001)  # (and a look just after: a scheduler thread would)
        s.step()
    assert s.answers == 1 and "clock jumped: to bar 1" in said and "clock stopped: silence" not in said
    after = sink.sent[jumped:]
    assert not [m for _, m in after if m.type == "note_on" and m.velocity and m.channel == 1]
    bass = [round((t - t_start) / spb - 5, 2) for t, m in after if m.type == "note_on" and m.velocity and m.channel == 3]
    assert {1.0, 2.0, 3.0, 4.0} <= set(bass), bass  # on the song's beats 1-4 after the jump
    s.close()
    assert sink.sounding() == set()


def test_play_pressed_again_while_the_daw_plays_silences_the_answer_under_way():
    """A Start while the DAW plays (Play pressed again: back to bar 1): the band started the
    bar again, but the rest of the answer under way played when the song came back to its
    beats, five beats later over other chords."""
    from improv.core.listen.midiclock import CLOCK, START, tick_time

    s, clock, inq, sink, rec, ext = _daw_session()
    s.start()
    ext.receive([START])
    call = DAW_CALL
    restart = 24 * 5  # beat 5, the answer (beats 3-7) under way
    for k in range(24 * 10):
        clock.set(tick_time(10.5, 100.0, k))
        if k == restart:
            assert s.partner_busy()
            ext.receive([START])
        ext.receive([CLOCK])
        if k in call:
            inq.push(call[k])
        s.step()
        if k == restart:
            again = len(sink.sent)
            assert not {key for key in sink.sounding() if key[0] == 1}  # the answer's note ended there
        clock.advance(0.001)  # (and a look just after: a scheduler thread would)
        s.step()
    assert s.answers == 1
    assert not [m for _, m in sink.sent[again:] if m.type == "note_on" and m.velocity and m.channel == 1]
    assert [m for _, m in sink.sent[again:] if m.type == "note_on" and m.velocity and m.channel == 3]
    s.close()
    assert sink.sounding() == set()


def test_a_daw_clock_that_stops_with_no_stop_is_said_to_be_lost_and_nothing_hangs():
    """The DAW quits mid-answer (or its cable comes out): the band and the partner fell
    silent a beat later, said as "clock stopped: silence", as if the player had pressed Stop,
    with nothing of the DAW gone or of what brings it back."""
    from improv.core.listen.midiclock import CLOCK, START, STOP, tick_time

    s, clock, inq, sink, rec, ext = _daw_session()
    said = []
    s.say = said.append
    s.start()
    ext.receive([START])
    call = DAW_CALL
    for k in range(24 * 5):  # the answer (beats 3-7) under way when the ticks stop
        clock.set(tick_time(10.5, 100.0, k))
        ext.receive([CLOCK])
        if k in call:
            inq.push(call[k])
        s.step()
    for _ in range(100):  # two seconds with no tick
        clock.advance(0.02)
        s.step()
    lost = [line for line in said if line.startswith("MIDI clock lost with no Stop")]
    assert len(lost) == 1 and "clock stopped: silence" not in said, said
    assert not s.running and sink.sounding() == set()
    ext.receive([START])  # the DAW back, played and stopped: a Stop is said as one
    for k in range(24):
        clock.set(10.5 + 30.0 + k * 0.025)
        ext.receive([CLOCK])
        s.step()
    ext.receive([STOP])
    s.step()
    assert said[-1] == "clock stopped: silence" and len(lost) == 1
    s.close()


def test_the_band_sets_its_sounds_again_at_each_of_the_daws_plays():
    """A DAW chases its tracks' programs when it starts playing; the band sent its own only
    when the jam started, so a DAW that quit and came back (its clock input reconnected,
    its GM instrument opened afresh) played the bass on a piano from its next Play. A Song
    Position while it plays (a jump, no Stop pressed) sends none."""
    from improv.core.listen.midiclock import CLOCK, START, STOP, tick_time

    s, clock, inq, sink, rec, ext = _daw_session()
    s.start()

    def bass_programs():
        return [m.program for _, m in sink.sent if m.type == "program_change" and m.channel == 3]

    assert bass_programs() == [32]
    for take in range(2):
        ext.receive([START])
        t0 = clock.now()
        for k in range(24 * 4):  # four beats at 120
            clock.set(tick_time(t0, 120.0, k))
            ext.receive([CLOCK])
            s.step()
        assert bass_programs() == [32] * (2 + take)
        first_on = next(i for i, (_, m) in enumerate(sink.sent) if m.type == "note_on" and m.channel == 3)
        last_prog = max(i for i, (_, m) in enumerate(sink.sent) if m.type == "program_change")
        assert take > 0 or last_prog < first_on  # (before the bass's first note)
        ext.receive([STOP])
        s.step()
    s.daw.on_clock("stop", 8.0, clock.now(), jump=True)
    s.daw.on_clock("continue", 8.0, clock.now(), jump=True)
    assert bass_programs() == [32] * 3
    s.close()


def test_a_daws_play_with_no_clock_ticks_is_said_once():
    """A DAW set to send Start and Stop but not its clock: the band played on at the tempo
    guessed (--tempo), off the DAW's, with nothing said of the clock that never came."""
    from improv.core.listen.midiclock import CLOCK, START, STOP
    from improv.live.midisync import ExternalClock

    clock = ManualClock(10.0)
    ext = ExternalClock(clock, guess=120.0)  # (as the jam opens it)
    s, clock, inq, sink, rec = make(override(config(), "band", bass=True), chart="F7 | Bb7", clock=clock,
                                    external=ext)
    said = []
    s.say = said.append
    s.start()
    ext.receive([START])
    for _ in range(100):  # a second, two beats at the guess, and not a tick
        clock.advance(0.01)
        s.step()
    unclocked = [line for line in said if line.startswith("the DAW's Play came with no MIDI clock")]
    assert unclocked == ["the DAW's Play came with no MIDI clock: playing at 120 bpm, not following its tempo; "
                         "set it to send its clock (sync), not only Start and Stop, to 'improv clock'"], said
    assert s.running and sink.ons(channel=3)  # (it plays on at the guess, as it did)
    ext.receive([STOP])
    s.step()
    ext.receive([START])
    for _ in range(100):
        clock.advance(0.01)
        s.step()
    assert len([line for line in said if "no MIDI clock" in line]) == 1  # said once
    s.close()

    ticking = ExternalClock(ManualClock(10.0), guess=120.0)  # its ticks come: nothing said
    s, clock, inq, sink, rec = make(config(), chart="F7 | Bb7", clock=ticking.clock, external=ticking)
    said = []
    s.say = said.append
    s.start()
    ticking.receive([START])
    for k in range(48):
        clock.advance(0.5 / 24)
        ticking.receive([CLOCK])
        s.step()
    assert not [line for line in said if "no MIDI clock" in line], said
    s.close()


def test_a_key_held_with_nothing_else_played_is_said_before_the_cap():
    """A key held (or stuck) after a call kept the call open to the 8-bar cap, 16 s at 120
    bpm, with no word (a stage audit), where a pedal held says why after 2 bars."""
    s, clock, inq, sink, rec = make()
    said = []
    s.say = said.append
    s.start()
    call = [(0.0, [0x90, 62, 100]), (0.3, [0x80, 62, 0]), (0.5, [0x90, 65, 100])]  # then 65 stays down
    play(s, clock, inq, call, until=8.4)  # four bars at 120 bpm from the last key: not yet
    assert not any("held with nothing else" in line for line in said) and s.calls == 0
    play_more(s, clock, inq, [], 8.41, 9.0)
    assert sum("F4 held with nothing else played for 4 bars" in line for line in said) == 1 and s.calls == 0
    assert s.snapshot(clock.now()).state == "key held"
    play_more(s, clock, inq, [(9.5, [0x80, 65, 0])], 9.01, 12.0)  # lifted: the call ends and is answered
    assert s.calls == 1 and s.snapshot(clock.now()).state != "key held"
    assert sum("held with nothing else" in line for line in said) == 1
    s.close()


def test_a_pedal_held_with_nothing_played_is_shown_not_silent():
    s, clock, inq, sink, rec = make()
    said = []
    s.say = said.append
    s.start()
    call = [(0.0, [0xB0, 64, 127]), (0.1, [0x90, 65, 100]), (0.4, [0x80, 65, 0])]  # then the pedal stays down
    play(s, clock, inq, call, until=4.0)  # two bars at 120 bpm (4 s): not yet
    assert not any("sustain pedal" in line for line in said) and s.calls == 0
    play_more(s, clock, inq, [], 4.01, 5.0)
    assert sum("sustain pedal is down" in line for line in said) == 1 and s.calls == 0  # said once, call still open
    assert s.snapshot(clock.now()).state == "pedal held"
    play_more(s, clock, inq, [(5.5, [0xB0, 64, 0])], 5.01, 7.0)  # lifted: the call ends, the partner answers
    assert s.calls == 1 and s.snapshot(clock.now()).state != "pedal held"
    s.close()


def test_a_phrase_left_to_ring_under_the_pedal_at_a_fast_tempo_is_not_taken_for_a_stuck_pedal():
    """At 240 bpm two bars are 2 s: a pianist letting a phrase ring under the pedal for 3 s
    was asked "a pedal stuck down or wired inverted?" after each ring-out (a jam over JACK,
    validation solos at 200-260 bpm). The hint waits 4 s too, and says how many bars that is."""
    cfg = override(config(), "timing", follow=False, tempo=240.0)
    s, clock, inq, sink, rec = make(cfg)
    said = []
    s.say = said.append
    s.start()
    call = [(0.0, [0xB0, 64, 127]), (0.1, [0x90, 65, 100]), (0.3, [0x80, 65, 0]), (3.3, [0xB0, 64, 0])]
    play(s, clock, inq, call, until=4.5)  # rung 3 s, then lifted: answered, no hint
    assert not any("sustain pedal" in line for line in said) and s.calls == 1, said
    s.close()
    s, clock, inq, sink, rec = make(cfg)
    said = []
    s.say = said.append
    s.start()
    play(s, clock, inq, call[:3], until=3.9)  # the pedal down 3.6 s after the last key: not yet
    assert not any("sustain pedal" in line for line in said), said
    play_more(s, clock, inq, [], 3.91, 4.8)  # 4.5 s: said
    hints = [line for line in said if "sustain pedal is down" in line]
    assert len(hints) == 1 and "no key played for 4 bars" in hints[0], said
    s.close()


def test_a_half_pedalled_ring_out_is_said_once_not_at_every_bounce():
    """After the phrase the pianist half-pedals the ring-out (the pedal's value bouncing
    between 40 and 90): the hint was said again each time the pedal came back down past the
    middle, 17 lines in four seconds. It is said once until a key is played or the call ends."""
    s, clock, inq, sink, rec = make()
    said = []
    s.say = said.append
    s.start()
    call = [(0.0, [0xB0, 64, 127]), (0.1, [0x90, 65, 100]), (0.4, [0x80, 65, 0])]
    bounces = [(0.5 + 0.08 * k, [0xB0, 64, 40 if k % 2 else 90]) for k in range(100)]  # to 8.5 s
    play(s, clock, inq, call + bounces, until=8.4)
    assert s.calls == 0  # (the pedal never up for the gap: the call is still open)
    assert sum("sustain pedal is down" in line for line in said) == 1, said
    s.close()


def test_the_stage_view_is_told_where_in_the_form_and_what_was_heard():
    s, clock, inq, sink, rec = make(chart="F7 | Bb7 | F7 | F7")
    s.start()
    play(s, clock, inq, [(0.0, [0x90, 64, 120])], until=0.1)  # a long E over F7
    snap = s.snapshot(clock.now())
    assert (snap.chorus, snap.form_bar, snap.form_bars, snap.chord_next) == (1, 1, 4, "Bb7")
    assert snap.next_in_beats == pytest.approx(4.0 - snap_beat(s, clock), abs=1e-6)
    assert dict(snap.controls)["outside"] == "embrace" and snap.turn == ""
    play_more(s, clock, inq, [(1.9, [0x80, 64, 0])], 0.11, 4.0)
    snap = s.snapshot(clock.now())
    assert s.answers == 1 and "E over F7" in snap.heard and snap.did  # what the partner made of it


def snap_beat(s, clock):
    return s.beat_at(clock.now())


def test_trading_tells_the_view_whose_turn_it_is():
    from dataclasses import replace as dc_replace

    cfg = config()
    cfg = dc_replace(cfg, band=dc_replace(cfg.band, trade_bars=2))
    s, clock, inq, sink, rec = make(cfg, chart="F7 | Bb7 | F7 | C7")
    s.start()
    clock.set(s.time_of(-1.0))
    s.step()
    assert s.snapshot(clock.now()).turn == "count-in"
    clock.set(s.time_of(9.0))  # the partner's 2 bars: beats 8-15
    s.step()
    snap = s.snapshot(clock.now())
    assert snap.turn == "partner" and snap.turn_beats_left == pytest.approx(7.0) and snap.state == "partner"
    s.close()


def test_after_a_jump_back_a_substitute_does_not_silence_beats_handed_before_the_jump():
    """A DAW's Stop at bar 9, Song Position back to bar 8, Continue: the band still thought
    it had handed out up to the old position, and a substitute then left the partner's
    downbeat and the beats after it silent."""
    from improv.core.embrace.reharm import substitute

    class DawTime:  # the DAW's song position at 120 bpm; a jump moves t0
        t0 = 0.0

        def beat_at(self, t):
            return (t - self.t0) * 2.0

        def time_of(self, b):
            return self.t0 + b / 2.0

    tune = parse_chart("Cmaj7 | G7 | Cmaj7 | G7")
    db7 = parse_chart("Db7").chord_at(0.0)

    def bass(jump):
        clock, tl = ManualClock(0.0), DawTime()
        sink = FakeSink(clock)
        band = Band(tune, clock, sink.send, tl, BandParts(bass=True), seed=0)
        band.start()
        t = 0.0
        if jump:  # played to bar 9, stopped, back to bar 8
            while tl.beat_at(t) < 33.6:
                clock.set(t)
                band.pump(tl.beat_at(t))
                band.scheduler.poll()
                t += 0.0025
            band.stop()
            band.scheduler.poll()
            t += 1.0
        tl.t0 = t - 14.0
        band.restart_at(28.0)
        mark = t
        while tl.beat_at(t) < 37.0:
            clock.set(t)
            if abs(tl.beat_at(t) - 31.8) < 0.003:  # the partner's answer for bar 9, with a substitute
                band.override(32.0, 36.0, substitute(tune, 32.0, 36.0, db7))
            band.pump(tl.beat_at(t), 32.0)
            band.scheduler.poll()
            t += 0.0025
        band.close()
        return sorted(round(tl.beat_at(x)) for x, n in sink.ons(channel=3) if x >= mark)

    assert bass(True) == bass(False) == list(range(28, 37))


def test_a_pianists_chords_count_once_in_the_density_the_band_follows():
    """A four-note chord on every beat read as four notes a beat, and the comping all but
    dropped out under a player comping quarter notes (found by the band audit)."""
    s, clock, inq, sink, rec = make(chart="Cmaj7")
    s.start()
    chords = [(beat * 0.5 + k * 0.005, [0x90, p, 80]) for beat in range(8) for k, p in enumerate((48, 52, 55, 59))]
    play(s, clock, inq, chords, until=4.0)
    assert s.player.density(s.beat_at(clock.now())) == pytest.approx(1.0, abs=0.26)  # a strike a beat, not four
    s.close()

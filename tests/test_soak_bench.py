"""`python -m improv.bench.soak`: what it reads from the jam's log, and its bad input (the
long jam itself needs JACK and minutes: it is run by hand, figures/soak-*.json)."""

from improv.bench.soak import from_stderr, main

LOG = """4:1  heard call 1: 8 bars (cut: the longest call), 40 notes; answering at 4:2 for 8 bars
4:2  answer 1: 17 notes (C6 Bb5 ...), ready in 24.1 ms
8:4  heard call 2: 2 bars, 9 notes; answering at 9:1 for 2 bars
9:1  answer 2: 30 notes (C4 ...), ready in 120.5 ms, at 200.0 bpm (heard)
answer 2 was ready 40 ms after it began: its first 2 notes left out
12:3  answer 3: 9 notes (D4 ...), ready in 30.0 ms
14:1  answer 4: 12 notes (E4 ...), ready in 0.7 ms (drafted in your rest), at 200.0 bpm (heard)
answer 3 was ready 3 ms after its first note was due
session ended (SIGTERM): 4 calls, 4 answers, 0 yields; answer ready p99 120.5 ms
"""


def test_the_log_gives_the_ready_times_the_late_answers_and_the_summary():
    got = from_stderr(LOG)
    assert got["answers_logged"] == 4 and got["ready_ms"]["median"] == 27.05 and got["ready_ms"]["max"] == 120.5
    assert got["drafted"] == 1 and got["undrafted_ready_ms"]["median"] == 30.0
    assert got["undrafted"] == [  # (answer 3's call not in the log: no call said)
        {"answer": 1, "ready_ms": 24.1, "call": "8 bars (cut: the longest call), 40 notes"},
        {"answer": 2, "ready_ms": 120.5, "call": "2 bars, 9 notes"}, {"answer": 3, "ready_ms": 30.0, "call": ""}]
    assert got["undrafted_cut"] == 1
    assert got["late_answers"] == 2 and got["tracebacks"] == 0
    assert got["late_lines"] == ["answer 2 was ready 40 ms after it began: its first 2 notes left out",
                                 "answer 3 was ready 3 ms after its first note was due"]
    assert got["summary"] == ["session ended (SIGTERM): 4 calls, 4 answers, 0 yields; answer ready p99 120.5 ms"]
    assert from_stderr("Traceback (most recent call last):\n")["tracebacks"] == 1
    assert from_stderr("")["ready_ms"] == {}
    assert got["recording_lines"] == []


def test_a_partner_note_sent_late_is_a_late_line():
    """Three minutes of the free jam with two busy loops on the machine's two cores: the
    summary said "dropped 1 (queue 0, unreadable 0, late 1)", and the soak 0 late answers
    (the scheduler's own line was not one it read)."""
    log = LOG + "partner note 14.2 ms late: dropped (1 late so far)\n"
    got = from_stderr(log)
    assert got["late_answers"] == 3 and got["late_lines"][-1] == "partner note 14.2 ms late: dropped (1 late so far)"


def test_the_recordings_warnings_are_listed():
    """A 6-minute free jam of a validation solo refused a tempo of its own tempo map's
    (1000.0000000000001 bpm, improv/core/formats/tempofit.py): the soak said nothing of it."""
    log = LOG + ("a tempo of 1000.0000000000001 bpm is not recorded (expected 1 to 1000 bpm)\n"
                 "recorded to sessions/20261207-030627.mid\n")
    assert from_stderr(log)["recording_lines"] == [
        "a tempo of 1000.0000000000001 bpm is not recorded (expected 1 to 1000 bpm)"]


def test_bad_minutes_and_missing_data_are_one_line(tmp_path, capsys):
    assert main(["--minutes", "0"]) == 2
    assert "--minutes must be 0-1440" in capsys.readouterr().err
    assert main([str(tmp_path / "nope.tar.gz"), "--minutes", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("improv.bench.soak: ") and len(err.splitlines()) == 1


def _solo():
    """A soloist at 100 bpm whose beats drift a little late from beat 8 on, with a pickup
    30 ms ahead of bar 2's downbeat, a swung note and a note in the turn's last half beat."""
    from improv.bench.human import BeatTrack, HumanPhrase, HumanSolo, PlayedNote

    beats = list(range(32))
    times = [0.6 * b + (0.02 * (b - 8) if b > 8 else 0.0) for b in beats]
    track = BeatTrack(beats, times)
    notes = (PlayedNote(track.time_of(4) - 0.03, 0.2, 60, 80, 4.0),  # a pickup, 30 ms ahead of the bar
             PlayedNote(track.time_of(5.64), 0.3, 62, 70, 5.67),  # a swung eighth
             PlayedNote(track.time_of(11.0), 0.9, 64, 90, 11.0),  # from 11 to 12.5: past the turn's end
             PlayedNote(track.time_of(11.7), 0.1, 65, 60, 11.67))  # in the turn's last half beat: left out
    return HumanSolo("x", 100.0, (HumanPhrase("x", notes, track),), track)


def test_a_trading_turn_keeps_the_soloists_place_among_their_own_beats():
    from improv.bench.soak import turn_notes

    got = turn_notes(_solo(), 4, 160.0, 8.0)  # two bars of 4 from the solo's bar 2, at 160 bpm
    assert [n.pitch for _, _, n in got] == [60, 62, 64]
    (on0, _, _), (on1, off1, _), (on2, off2, _) = got
    assert -0.06 < on0 < -0.04  # 30 ms ahead at 100 bpm is 0.05 beat ahead: kept in beats, not seconds
    assert abs(on1 - 1.64) < 1e-6 and abs(off1 - (1.64 + 0.3 / 0.6)) < 1e-6  # the swing and the length in beats
    assert abs(on2 - 7.0) < 1e-6 and abs(off2 - (8.0 - 0.05)) < 1e-6  # released by the turn's end


def test_partner_notes_are_counted_in_the_players_turns_and_its_silent_turns_named():
    from improv.bench.jackprobe import Arrival
    from improv.bench.soak import partner_turns

    spb, beat0, turn = 0.5, 100.0, 8.0

    def on(beat, channel=2):
        return Arrival(beat0 + beat * spb, (0x90 | (channel - 1), 60, 90))

    arrivals = [on(8.0), on(15.9), on(8.0 - 0.1),  # its turn 1 (the last a feel's 50 ms ahead of it)
                on(7.5), on(16.2), on(-1.0),  # in the player's turns 0 and 2, and in the count-in
                on(3.0, channel=1), on(40.0, channel=3),  # the player's passthrough and the comp: not the partner
                Arrival(beat0 + 33 * spb, (0x91, 60, 0))]  # a note-off in turn 4
    got = partner_turns(arrivals, beat0, spb, turn, turns=3)
    assert got == {"partner_in_player_turns": 3, "partner_turns_silent": [3, 5]}


def test_bad_trading_arguments_are_one_line(capsys):
    for args, says in ((["--trade", "--tempo", "500"], "--tempo must be 40-320"),
                       (["--trade", "--trade-bars", "3"], "--trade-bars must be one of 1, 2, 4"),
                       (["--trade", "--tune", "no-such-tune"], "no tune named 'no-such-tune'")):
        assert main([*args, "--minutes", "1"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("improv.bench.soak: ") and says in err and len(err.splitlines()) == 1, err


def test_a_json_path_that_cannot_be_written_is_refused_before_the_soak(tmp_path, capsys):
    """--json into a missing folder was written after the jam: a 25-minute soak, then a
    FileNotFoundError traceback and nothing kept."""
    bad = tmp_path / "no-such-folder" / "soak.json"
    assert main([str(tmp_path / "nope.tar.gz"), "--minutes", "1", "--json", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("improv.bench.soak: --json ") and "does not exist" in err and len(err.splitlines()) == 1


def test_the_soaks_percentiles_are_by_nearest_rank():
    """Of 100 answers the p99 was the slowest one and the p90 the 91st: one rank high."""
    log = "".join(f"answer {i}: 8 notes, ready in {i}.0 ms\n" for i in range(1, 101))
    got = from_stderr(log)["ready_ms"]
    assert (got["p90"], got["p99"], got["max"]) == (90.0, 99.0, 100.0)


def test_a_config_the_jam_would_refuse_is_refused_before_the_soak(tmp_path, capsys):
    """--config (an A/B of one setting) is read first: a bad key ends the soak in one line, not
    after the jam failed to start minutes in."""
    bad = tmp_path / "ab.toml"
    bad.write_text("[timing]\nrealtime = 3\n")
    assert main([str(tmp_path / "nope.tar.gz"), "--minutes", "1", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("improv.bench.soak: ") and "realtime" in err and len(err.splitlines()) == 1, err

"""Journal-reading edge cases a mutation audit found untested (each test fails under its mutation): negative and boolean times, a damaged stretch told as one, a file that is not a journal, the first origin, a velocity-0 release before bar 1, a pedal at exactly 64, a tempo at the origin, markers before it, and lines out of time order."""

import json

import pytest

from improv.live.journalread import load_journal_report

HEADER = {"improv_journal": 3, "tempo": 100.0, "beats_per_bar": 4, "player_channel": 1, "partner_channel": 2,
          "comp_channel": 3, "bass_channel": 4, "click_channel": 10}


def journal(tmp_path, *records, header=HEADER, raw=()):
    path = tmp_path / "s.journal"
    lines = ([json.dumps(header)] if header is not None else []) + [json.dumps(r) for r in records] + list(raw)
    path.write_text("\n".join(lines) + "\n")
    return path


def notes(rec, part="player"):
    return [(round(e.t, 6), e.msg.type, e.msg.note, e.msg.velocity) for e in rec.events
            if e.part == part and e.msg.type in ("note_on", "note_off")]


def test_negative_and_boolean_times_are_skipped_and_counted(tmp_path):
    """Catches the time check loosened: a record at -1 s (or at `true`) went into the recording instead of being skipped and counted."""
    path = journal(tmp_path, ["player", 0.5, [144, 60, 90]], ["player", -1.0, [144, 61, 90]],
                   ["player", True, [144, 62, 90]], ["player", 1.0, [128, 60, 0]])
    rec, early, damage = load_journal_report(path)
    assert [n[2] for n in notes(rec)] == [60, 60] and damage.records == 2


def test_consecutive_damaged_lines_are_told_as_one_stretch(tmp_path):
    """Catches a run of damaged lines counted line by line: a hole in the journal was reported as unrelated torn records."""
    path = journal(tmp_path, *(["player", i / 10, [144, 60, 90]] for i in range(6)),
                   raw=["#garbage#", "#garbage#", "#garbage#"])
    rec, early, damage = load_journal_report(path)
    assert "damaged stretch" in damage.text and damage.records == 3


def test_a_file_with_one_record_among_other_json_is_not_a_journal(tmp_path):
    """Catches the headerless check accepting any file with one record-like line: `improv recover` on a JSON-lines log made a "recording" of it."""
    path = journal(tmp_path, ["player", 0.5, [144, 60, 90]], {"a": 1}, [1, 2], "text", 7, header=None,
                   raw=[])
    path.write_text("not json\n" + path.read_text())
    with pytest.raises(ValueError, match="not an improv journal"):
        load_journal_report(path)


def test_the_first_origin_is_bar_1(tmp_path):
    """Catches a later origin taking over: a second Start moved bar 1 and everything before it left the recording."""
    path = journal(tmp_path, ["origin", 1.0], ["player", 1.5, [144, 60, 90]], ["player", 2.0, [128, 60, 0]],
                   ["origin", 3.0], ["player", 3.5, [144, 62, 90]], ["player", 4.0, [128, 62, 0]])
    rec, early, damage = load_journal_report(path)
    assert [n[:3] for n in notes(rec)] == [(0.5, "note_on", 60), (1.0, "note_off", 60),
                                          (2.5, "note_on", 62), (3.0, "note_off", 62)]


def test_a_key_released_with_velocity_0_before_bar_1_is_not_carried_into_it(tmp_path):
    """Catches a note-on at velocity 0 not taken as a release: a pickup released that way sounded again, held, from bar 1."""
    path = journal(tmp_path, ["player", 0.5, [144, 60, 90]], ["player", 0.8, [144, 60, 0]], ["origin", 1.0],
                   ["player", 1.5, [144, 64, 90]], ["player", 2.0, [128, 64, 0]])
    rec, early, damage = load_journal_report(path)
    assert [n[2] for n in notes(rec) if n[1] == "note_on" and n[3] > 0] == [64]


def test_a_pedal_at_64_held_through_a_crash_is_lifted(tmp_path):
    """Catches a pedal value of exactly 64 read as up: a pedal held through a crash stayed down in the recovered file."""
    path = journal(tmp_path, ["player", 0.5, [176, 64, 64]], ["player", 0.6, [144, 60, 90]], ["alive", 2.0])
    rec, early, damage = load_journal_report(path)
    pedal = [(e.t, e.msg.value) for e in rec.events if e.msg.type == "control_change" and e.msg.control == 64]
    assert pedal == [(0.5, 64), (2.0, 0)]


def test_a_tempo_written_at_the_origin_is_the_files_tempo(tmp_path):
    """Catches a tempo at exactly the origin falling between "before" and "after": the file took the header's tempo instead of the DAW's."""
    path = journal(tmp_path, ["player", 0.5, [144, 60, 90]], ["tempo", 1.0, 140.0], ["origin", 1.0],
                   ["player", 1.5, [128, 60, 0]], ["tempo", 5.0, 150.0])
    rec, early, damage = load_journal_report(path)
    assert rec.tempos == ((0.0, 140.0), (4.0, 150.0))


def test_markers_before_the_origin_stay_out_of_the_recording_from_it(tmp_path):
    """Catches markers before bar 1 kept at negative times in the recording that starts there."""
    path = journal(tmp_path, ["marker", 0.5, "call 1: 1 note"], ["origin", 1.0], ["marker", 1.5, "answer 1: 2 notes"],
                   ["player", 2.0, [144, 60, 90]], ["player", 2.5, [128, 60, 0]])
    rec, early, damage = load_journal_report(path)
    assert [(m.t, m.text) for m in rec.markers] == [(0.5, "answer 1: 2 notes")]
    assert [m.text for m in early.markers] == ["call 1: 1 note"]


def test_lines_out_of_time_order_still_carry_a_held_note_into_bar_1(tmp_path):
    """Catches the records left in file order (threads write them a few ms out of order): a key held across bar 1, written after a later line, vanished from the recording."""
    path = journal(tmp_path, ["partner", 1.2, [145, 72, 90]], ["player", 0.5, [144, 60, 90]], ["origin", 1.0],
                   ["player", 1.6, [128, 60, 0]], ["partner", 1.7, [129, 72, 0]])
    rec, early, damage = load_journal_report(path)
    assert [e.t for e in rec.events] == sorted(e.t for e in rec.events)
    assert [n[:3] for n in notes(rec)] == [(0.0, "note_on", 60), (pytest.approx(0.6), "note_off", 60)]

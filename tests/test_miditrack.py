import pytest

from improv.core.formats.midifile import save_recording
from improv.core.formats.miditrack import (
    messages_to_notes,
    notes_to_messages,
    phrase_to_track,
    read_midi_notes,
    track_to_phrase,
)
from improv.core.theory.notes import Note, Phrase
from improv.errors import DataError
from midisession import off, on, session


@pytest.mark.parametrize("notes", [
    [(60, 0, 1), (62, 1, 0.5), (64, 1.5, 0.5)],
    [(60, 0, 1), (60, 1, 1), (67, 0.25, 2.75, 110)],  # repeated pitch, overlap
    [],
])
def test_phrase_track_round_trip(notes):
    phrase = Phrase.of(notes, start=8.0)
    back = track_to_phrase(phrase_to_track(phrase, "partner", channel=2))
    if not notes:
        assert len(back) == 0
        return
    assert back.absolute() == phrase.absolute()


def test_notes_messages_round_trip_and_unclosed_note():
    notes = [Note(0.0, 60, 1.0, 90), Note(1.0, 60, 0.5, 80)]
    assert messages_to_notes(notes_to_messages(notes)) == notes
    # a note with no note-off runs to the end given
    assert messages_to_notes([(0.0, on(60))], end=4.0) == [Note(0.0, 60, 4.0, 90)]


def test_read_midi_notes_by_track(tmp_path):
    path = save_recording(session(tempo=60.0), tmp_path / "s.mid")
    player = read_midi_notes(path, "player")
    assert [n.pitch for n in player] == [60, 64]
    assert player[0].start == pytest.approx(0.013, abs=1 / 480)
    assert [n.pitch for n in read_midi_notes(path)] == [60, 64, 67, 71]
    assert [n.pitch for n in read_midi_notes(path, 2)] == [67, 71]
    with pytest.raises(DataError, match="no track 'drums'.*1:player"):
        read_midi_notes(path, "drums")


def test_unreadable_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_midi_notes(tmp_path / "nope.mid")
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi at all")
    with pytest.raises(DataError, match="not a readable MIDI file"):
        read_midi_notes(bad)


def test_a_repeated_notes_release_written_after_its_restrike_ends_the_old_note():
    """Some programs write a legato repeated note's new note-on before the old one's
    note-off at the tick where they meet: read in file order the old note ended there and
    the release then ended the new one, a beat's note read as a tick. A key struck and
    released at one time with nothing sounding before is still a note of no length."""
    items = [(0.0, on(60)), (1.0, on(60, 80)), (1.0, off(60)), (2.0, off(60)),
             (3.0, on(62)), (3.0, off(62)), (4.0, on(64)), (5.0, off(64)), (5.0, on(64)), (6.0, off(64))]
    assert messages_to_notes(items) == [Note(0.0, 60, 1.0, 90), Note(1.0, 60, 1.0, 80), Note(3.0, 62, 1 / 480, 90),
                                        Note(4.0, 64, 1.0, 90), Note(5.0, 64, 1.0, 90)]
    # a note of no length struck again at once: the second strike is no re-strike of a sounding key
    assert messages_to_notes([(0.0, on(60)), (0.0, off(60)), (0.0, on(60)), (1.0, off(60))]) == \
        [Note(0.0, 60, 1 / 480, 90), Note(0.0, 60, 1.0, 90)]


def test_a_repeated_note_is_written_released_before_it_is_struck_again():
    """Two notes of one key that meet where rounding puts the end of the first a hair after
    the start of the second: the re-strike was written before the release at that tick, and
    a DAW reading the file in order cut the second note at once."""

    from improv.core.formats.miditrack import phrase_to_track
    from improv.core.theory.notes import Note, Phrase

    phrase = Phrase.of([Note(0.0, 60, 1.0000004, 90), Note(1.0, 60, 1.0, 90), Note(2.0, 62, 0.0001, 80)])
    tick, seq = 0, []
    for m in phrase_to_track(phrase, ppq=480):
        tick += m.time
        if m.type in ("note_on", "note_off"):
            seq.append((tick, m.note, "on" if m.type == "note_on" and m.velocity else "off"))
    assert seq == [(0, 60, "on"), (480, 60, "off"), (480, 60, "on"), (960, 60, "off"), (960, 62, "on"),
                   (961, 62, "off")]  # (and a note of no length still a tick long, not a hanging one)


@pytest.mark.parametrize("text, written", [
    ("Cafe\u0301 Noir", "Caf\u00e9 Noir"),  # accents written apart (a macOS file name): joined
    ("Dvo\u0159\u00e1k \u2192 \u0141\u00f3d\u017a", "Dvor\u00e1k -> L\u00f3dz"),  # letters beyond Latin-1: their base letter
    ("\u0152dipe, \ufb01ne, \uff21\uff11", "OEdipe, fine, A1"),  # a ligature as its letters, full-width as ASCII
    ("C\u266f7 \u2192 F\u266d \u00e9", "C#7 -> Fb \u00e9"),  # musical signs spelled, Latin-1 kept
    ("\u6771\u4eac \U0001F3B7", "?? ?"),  # another script, an emoji: replaced
    ("odd\udcff", "odd?"),  # (a file name's undecodable byte)
])
def test_text_beyond_latin_1_keeps_what_letters_it_can(text, written, tmp_path):
    """A MIDI text event holds Latin-1: a title or marker beyond it lost every such letter to
    "?", a tune whose title is its file name saved on macOS (accents apart: "Cafe\u0301") was
    recorded as "Cafe?", and "Dvo\u0159\u00e1k" as "Dvo?\u00e1k"."""
    from dataclasses import replace

    import mido

    from improv.core.formats.midifile import Marker, load_recording

    rec = replace(session(), title=text, markers=(Marker(0.0, text, "text"),))
    path = save_recording(rec, tmp_path / "take.mid")
    assert [m.name for m in mido.MidiFile(path).tracks[0] if m.type == "track_name"] == [written]
    assert load_recording(path).markers[0].text == written

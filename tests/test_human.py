"""Human playing: WJazzD phrases as recorded (seconds), their beat track, the bent tempo."""

from pathlib import Path

import pytest

from improv.bench.human import BeatTrack, HumanPhrase, PlayedNote, drifted, load_human, pick_phrases
from improv.core.formats.wjazzd import load_corpus
from improv.errors import DataError

FIXTURE = Path(__file__).resolve().parent / "data" / "wjazzd-mini"
_HERE = Path(__file__).resolve()
REAL = next((p / "shared" / "data" / "wjazzd-solos.tar.gz" for p in (_HERE.parents[2], _HERE.parents[3])
             if (p / "shared" / "data" / "wjazzd-solos.tar.gz").exists()),
            _HERE.parents[2] / "shared" / "data" / "wjazzd-solos.tar.gz")


def test_fixture_solo_as_played():
    solos = load_human(FIXTURE)
    assert [s.name for s in solos] == ["Test_Blues"]  # the waltz is not 4/4
    blues = solos[0]
    first = blues.phrases[0].notes[0]
    assert (first.onset, first.duration, first.pitch) == (2.5, 0.125, 65)
    assert first.beat == 3.0  # bar -1 (the pickup), beat 4: the reader's timeline
    # the beat track maps seconds to the same timeline, both ways
    assert blues.track.beat_at(3.0) == pytest.approx(4.0) and blues.track.time_of(4.0) == pytest.approx(3.0)
    assert blues.track.tempo_at(3.0) == pytest.approx(120.0)
    assert blues.phrases[0].tempo == pytest.approx(120.0)


def test_grid_phrases_map_back_to_the_played_notes():
    corpus = load_corpus(FIXTURE)
    solo = load_human(FIXTURE)[0]
    grid = corpus.solos[0].phrases[0]
    played = solo.played(grid)
    assert [n.pitch for n in played.notes] == [n.pitch for n in grid.notes]
    assert played.grid == grid
    for g, p in zip(grid.absolute(), played.notes):
        assert p.beat == pytest.approx(g.start)
    from improv.core.theory.notes import Phrase
    with pytest.raises(DataError, match="no played note"):
        solo.played(Phrase.of([(100, 0, 1)]))


def test_events_release_before_a_restrike_and_shift():
    track = BeatTrack([0, 1, 2], [0.0, 0.5, 1.0])
    notes = (PlayedNote(0.0, 0.6, 60, 80, 0.0), PlayedNote(0.5, 0.2, 60, 90, 1.0), PlayedNote(0.5, 0.3, 64, 70, 1.0))
    ev = HumanPhrase("x", notes, track).events(offset=10.0)
    assert [(e.time, e.kind, e.pitch) for e in ev] == [
        (10.0, "on", 60), (10.5, "off", 60), (10.5, "on", 60), (10.5, "on", 64), (10.7, "off", 60), (10.8, "off", 64)]


def test_beat_track_checks_and_extrapolates():
    track = BeatTrack([0, 1, 2], [1.0, 1.5, 2.0])
    assert track.beat_at(0.0) == pytest.approx(-2.0) and track.time_of(5.0) == pytest.approx(3.5)
    with pytest.raises(DataError):
        BeatTrack([0, 1], [1.0, 1.0])


def test_drift_bends_the_tempo_smoothly_and_keeps_the_notes_on_their_beats():
    solo = load_human(FIXTURE)[0]
    bent = drifted(solo, 3.0, 4.0, 1.1)
    assert bent.track.time_of(4.0) == pytest.approx(3.0)  # nothing moves before the bend
    assert bent.track.tempo_at(bent.track.time_of(11.0), span=1) == pytest.approx(132.0, rel=0.01)
    for a, b in zip(solo.phrases[0].notes, bent.phrases[0].notes):
        assert bent.track.beat_at(b.onset) == pytest.approx(solo.track.beat_at(a.onset))
    with pytest.raises(ValueError):
        drifted(solo, 3.0, 4.0, 0.0)


def test_missing_data_is_named(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_human(tmp_path / "nope.tar.gz")


@pytest.mark.skipif(not REAL.exists(), reason="the WJazzD tar.gz is not in ../shared/data")
def test_real_phrases_at_slow_medium_and_fast_tempi():
    solos = load_human(REAL, "valid")
    assert len(solos) >= 30 and all(s.split == "valid" for s in solos)
    for band in ((60.0, 100.0), (120.0, 190.0), (200.0, 300.0)):
        picked = pick_phrases(solos, band, 10, seed=1)
        assert len(picked) == 10
        assert picked == pick_phrases(solos, band, 10, seed=1)
        for p in picked:
            assert band[0] <= p.tempo <= band[1] and len(p.notes) >= 8
            # played, not quantised: onsets sit off the beat track's grid by milliseconds
            offsets = [abs(p.track.beat_at(n.onset) - n.beat) for n in p.notes]
            assert max(offsets) > 0.01
            assert all(n.duration > 0 for n in p.notes)

"""WJazzD reader: a tiny fixture folder (always) and the real tar.gz (when present)."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from improv.core.model import tokens as T
from improv.core.theory.chords import parse_chord
from improv.core.formats.wjazzd import call_answer_pairs, load_corpus, load_solos, solo_name, split_of
from improv.errors import DataError

MINI = Path(__file__).parent / "data" / "wjazzd-mini"
REAL = Path(os.environ.get("IMPROV_WJAZZD") or Path(__file__).resolve().parents[2] / "shared" / "data"
            / "wjazzd-solos.tar.gz")  # IMPROV_WJAZZD: the archive elsewhere (e.g. from a git worktree)


def test_fixture_solo_on_the_grid():
    corpus = load_corpus(MINI)
    assert [s.name for s in corpus.solos] == ["Test_Blues"]
    assert corpus.warnings["solos not in 4/4 skipped"] == 1
    assert corpus.warnings["note rows not in 4/4 or unreadable dropped"] == 1
    solo = corpus.solos[0]
    assert (solo.performer, solo.title, solo.tempo, solo.key, solo.style) == (
        "Test Player", "Test Blues", 120.0, "F-maj", "BEBOP")
    assert len(solo.phrases) == 3
    p1, p2, p3 = solo.phrases
    # bar -1 (a pickup) is the first bar: its beat 4 is timeline beat 3
    assert p1.start == 3.0
    assert [n.start for n in p1.notes] == pytest.approx([0.0, 0.5, 1.0, 2 + 1 / 3, 2 + 2 / 3, 3.75])
    assert [n.pitch for n in p1.notes] == [65, 67, 69, 72, 70, 69]
    assert p1.notes[0].duration == 0.25
    assert p2.start == 8.5 and [n.start for n in p2.notes] == pytest.approx([0.0, 0.5, 1.5 + 2 / 12])  # 1/5 beat -> 2 ticks
    assert p3.start == 12.0
    # chords from the beat track, per beat
    assert solo.chart.chord_at(0) is None
    assert solo.chart.chord_at(4) == parse_chord("F7")
    assert solo.chart.chord_at(9) == parse_chord("Bb79b", dialect="wjazzd")
    assert solo.chart.chord_at(16.5) == parse_chord("C-7")


def test_played_phrases_keep_the_performed_timing():
    solo = load_solos(MINI)[0]
    assert len(solo.played) == len(solo.phrases)
    for grid, played in zip(solo.phrases, solo.played):
        assert [n.pitch for n in grid.notes] == [n.pitch for n in played.notes]
    p2 = solo.played[1]
    # onsets between the beat track's beats: 6.1 s is 0.2 of the beat that starts at 6.0 s
    # (the grid, from tatum 2 of 5, has 2/12); durations unrounded: seconds / beat duration
    assert p2.start == pytest.approx(8.5)
    assert [n.start for n in p2.notes] == pytest.approx([0.0, 0.5, 1.7])
    assert [n.duration for n in p2.notes] == pytest.approx([0.5, 2.0, 0.2])
    assert solo.phrases[1].notes[2].start == pytest.approx(1.5 + 2 / 12)
    pairs = call_answer_pairs(solo)
    assert pairs[0].played[0] == solo.played[0] and pairs[0].played[1] == solo.played[1]
    assert pairs[1].played[2] == (solo.played[0],) and pairs[1].tempo == 120.0


def test_fixture_first_pickup_note_and_velocities():
    solo = load_solos(MINI)[0]
    notes = [n for p in solo.phrases for n in p.absolute()]
    assert notes[0].start == 3.0 and notes[0].pitch == 65  # bar -1, beat 4
    assert all(n.velocity in T.VELOCITIES for n in notes)
    p1, p2 = solo.phrases[:2]
    assert p2.notes[1].velocity == 120  # loud_median 75, above the solo's 95th percentile
    assert p1.notes[-1].velocity == 30  # loud_median 50, the quietest
    assert p1.notes[0].velocity < p1.notes[2].velocity  # 60 < 70: louder rows, higher velocities


def test_pairs_are_consecutive_phrases():
    solo = load_solos(MINI)[0]
    pairs = call_answer_pairs(solo)
    assert len(pairs) == 2
    assert pairs[0].call == solo.phrases[0] and pairs[0].answer == solo.phrases[1]
    assert pairs[1].harmony.chord_at(pairs[1].answer.start) == parse_chord("F7")


def test_tar_gz_reads_like_the_folder(tmp_path):
    tar_path = tmp_path / "mini.tar.gz"
    with tarfile.open(tar_path, "w:gz") as tar:
        tar.add(MINI, arcname="wjazzd-solos")
    assert load_solos(tar_path) == load_solos(MINI)


def test_bad_paths_raise_data_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_solos(tmp_path / "nope.tar.gz")
    with pytest.raises(DataError, match="no melody"):
        load_solos(tmp_path)
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar")
    with pytest.raises(DataError, match="junk.tar.gz"):
        load_solos(junk)


def _mini_archive(tmp_path: Path, mode: str = "w:gz") -> Path:
    path = tmp_path / ("mini.tar.gz" if mode.endswith("gz") else "mini.tar")
    with tarfile.open(path, mode) as tar:
        tar.add(MINI, arcname="wjazzd-solos")
    return path


def _one_line_error(path: Path) -> str:
    with pytest.raises(DataError) as e:
        load_corpus(path)
    text = str(e.value)
    assert str(path) in text and len(text.splitlines()) == 1, text
    return text


def test_damaged_archives_are_one_line_errors(tmp_path):
    good = _mini_archive(tmp_path).read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(good[:len(good) // 2])  # (gzip: EOFError midway, unhandled before)
    assert "damaged or cut short" in _one_line_error(cut)
    flipped = bytearray(good)
    mid = len(flipped) // 2
    flipped[mid:mid + 16] = bytes(b ^ 0xFF for b in flipped[mid:mid + 16])
    bad = tmp_path / "flipped.tar.gz"
    bad.write_bytes(bytes(flipped))  # garbled text or a zlib error; the checksum catches either
    assert "damaged or cut short" in _one_line_error(bad)
    empty = tmp_path / "empty.tar.gz"
    empty.write_bytes(b"")
    assert "is empty" in _one_line_error(empty)
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar")  # (tarfile's message spans four lines)
    assert "not a tar archive" in _one_line_error(junk)


def test_garbled_csv_in_a_plain_tar_is_one_line_error(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "melody").mkdir()
    (folder / "melody" / "X_FINAL.csv").write_bytes(b"bar,beat\n1\r2,3\n")  # a lone CR mid-field
    plain = tmp_path / "garbled.tar"
    with tarfile.open(plain, "w") as tar:
        tar.add(folder, arcname="wjazzd-solos")
    assert "cannot be read as CSV" in _one_line_error(plain)


def test_split_is_deterministic_and_by_name():
    names = [f"Player{i}_Tune{i}" for i in range(1000)]
    splits = [split_of(n) for n in names]
    assert splits == [split_of(n) for n in names]
    assert 50 < splits.count("valid") < 150
    assert split_of("ArtPepper_Anthropology_FINAL") == split_of("ArtPepper_Anthropology")
    assert solo_name("ArtPepper_Anthropology_FINAL") == "ArtPepper_Anthropology"


@pytest.mark.skipif(not REAL.exists(), reason="the WJazzD tar.gz is not in ../shared/data")
def test_real_data():
    corpus = load_corpus(REAL)
    assert len(corpus.solos) >= 380
    pairs = [p for s in corpus.solos for p in call_answer_pairs(s)]
    assert len(pairs) > 8000
    valid = corpus.split("valid")
    assert 0.05 < len(valid) / len(corpus.solos) < 0.15
    assert 0.05 < len(corpus.split("test")) / len(corpus.solos) < 0.15
    offsets = []
    for s in corpus.solos:
        assert len(s.played) == len(s.phrases)
        offsets += [b.start - a.start for g, p in zip(s.phrases, s.played) for a, b in zip(g.absolute(), p.absolute())]
    offsets.sort()
    assert 0.0 < offsets[len(offsets) // 2] < 0.08  # soloists play a little behind the beat track
    for s in corpus.solos:
        for p in s.phrases:
            assert p.start >= 0 and p.notes[0].start == 0
            assert T.on_grid(p)


def test_a_solo_listed_without_its_melody_file_is_counted_as_left_out(tmp_path):
    """A solo in solo_info.csv whose melody file is missing was left out without a word: the
    splits shrank, and train and eval's figures no longer compared with the model card's."""
    import shutil

    data = tmp_path / "mini"
    shutil.copytree(MINI, data)
    assert "solos in solo_info.csv without a melody file (left out)" not in load_corpus(data).warnings
    (data / "melody" / "Test_Waltz_FINAL.csv").unlink()
    assert load_corpus(data).warnings["solos in solo_info.csv without a melody file (left out)"] == 1

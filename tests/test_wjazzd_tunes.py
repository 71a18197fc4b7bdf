"""Rows below are excerpts of the Weimar Jazz Database's solo_info.csv (ODbL v1.0)."""

import csv
import sys

import pytest

from improv.core.theory.chart import load_tune, tune_from_dict
from improv.core.formats.wjazzd_tunes import convert_csv, parse_changes, row_to_tune, slug, tune_to_toml
from improv.errors import ChordError, DataError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ANTHROPOLOGY = {
    "solo": "ArtPepper_Anthropology_FINAL", "performer": "Art Pepper", "title": "Anthropology",
    "rhythmfeel": "SWING", "avgtempo": "218.8", "key": "Bb-maj", "signature": "4/4",
    "form": "(A1,8), (A2,8), (B1,8), (A3,8)",
    "chord_changes": "A1: ||Bb6 G7 |C-7 F7 |Bb G-7 |C-7 F7 |F-7 Bb7 |Eb7 Ab7 |D-7 G7 |C-7 F7 ||\n"
                     "A2: ||Bb6 G7 |C-7 F7 |Bb G-7 |C-7 F7 |F-7 Bb7 |Eb7 Ab7 |C-7 F7 |Bb6   ||\n"
                     "B1: ||D7   |D7   |G7   |G7   |C7   |C7   |F7   |F7   ||\n"
                     "A3: ||Bb6 G7 |C-7 F7 |Bb G-7 |C-7 F7 |F-7 Bb7 |Eb7 Ab7 |C-7 F7 |Bb6   ||",
}
BLANCHE = {
    "solo": "ArtPepper_BluesForBlanche_FINAL", "performer": "Art Pepper", "title": "Blues for Blanche",
    "rhythmfeel": "SWING", "avgtempo": "198.9", "key": "Eb-maj", "signature": "4/4", "form": "(A1,12)",
    "chord_changes": "A1: ||Eb7   |Ab7   |Eb7   |Eb7   |Ab7   |Ab7   |Eb7   |Eb7   |F-7   |Bb7   |Eb7   |Bb7   ||",
}
THIS_HERE = {
    "solo": "CannonballAdderley_ThisHere_FINAL", "performer": "Cannonball Adderley", "title": "This Here",
    "rhythmfeel": "SWING", "avgtempo": "140", "key": "F-maj", "signature": "3/4", "form": "(A1,16)",
    "chord_changes": "I1: ||NC  ||\nA1: ||F7  |F7  |F7  |F7  |F7  |F7  |F7NC |NC  |Bb7  |Bb7  |Bb7A7 |A7  |"
                     "Ab7  |G79b13  |C-7F7 |F7  ||",
}


def test_parse_changes_splits_run_together_chords_and_keeps_nc():
    secs = parse_changes(THIS_HERE["chord_changes"])
    assert [s.name for s in secs] == ["A1"]  # the intro is left out
    bars = secs[0].bars
    assert bars[6] == ("F7", "NC") and bars[7] == ("NC",) and bars[10] == ("Bb7", "A7")
    assert bars[13] == ("G7(b9,13)",)  # WJazzD spelling: accidental after the number
    assert bars[14] == ("Cm7", "F7")


def test_rows_become_tunes_with_form_and_sections():
    t = row_to_tune(ANTHROPOLOGY)
    assert t["form"] == ["A1", "A2", "B1", "A2"]  # A3 repeats A2 note for note
    assert t["tempo"] == 219 and t["key"] == "Bb" and t["style"] == "swing"
    chart = tune_from_dict(t)
    assert chart.bars == 32 and [s for _, s in chart.sections] == ["A1", "A2", "B1", "A2"]
    assert str(chart.chord_at(4 * 8 * 2)) == "D7" and str(chart.chord_at(4 * 7 + 2)) == "F7"
    waltz = tune_from_dict(row_to_tune(THIS_HERE))
    assert waltz.beats_per_bar == 3 and waltz.bars == 16 and waltz.chord_at(3 * 7) is None


@pytest.mark.parametrize("row", [ANTHROPOLOGY, BLANCHE, THIS_HERE], ids=["aaba", "blues", "waltz"])
def test_written_files_parse_and_round_trip(row, tmp_path):
    tune = row_to_tune(row)
    text = tune_to_toml(tune, row["solo"])
    assert "ODbL" in text.split("title")[0]  # the credit comes first
    data = tomllib.loads(text)
    assert data == tune  # TOML round trip
    path = tmp_path / "t.toml"
    path.write_text(text)
    chart = load_tune(path)
    assert chart == tune_from_dict(tune, str(path))
    # every section's chart text reads back to the same bars
    for name, bars in tune["sections"].items():
        assert tune_from_dict({"bars": bars}).to_text() == bars


def test_convert_csv_keeps_the_fullest_version_of_each_title(tmp_path):
    partial = dict(ANTHROPOLOGY, solo="X_Anthropology_FINAL", chord_changes="B1: ||D7 |D7 |G7 |G7 ||")
    broken = dict(BLANCHE, solo="Y_Bad_FINAL", title="Bad", chord_changes="A1: ||Qm7 |C7 ||")
    src = tmp_path / "solo_info.csv"
    rows = [partial, ANTHROPOLOGY, BLANCHE, broken, THIS_HERE]
    with open(src, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(ANTHROPOLOGY))
        w.writeheader()
        w.writerows(rows)
    written, skipped = convert_csv(src, tmp_path / "out")
    assert sorted(p.name for p in written) == ["anthropology.toml", "blues-for-blanche.toml", "this-here.toml"]
    assert load_tune(tmp_path / "out" / "anthropology.toml").bars == 32
    assert any(s.startswith("Y_Bad_FINAL") and "Qm7" in s for s in skipped)
    assert any(s.startswith("X_Anthropology_FINAL") for s in skipped)


def test_errors_are_one_line():
    with pytest.raises(ChordError, match="section A1 bar 1"):
        parse_changes("A1: ||Qm7 ||")
    with pytest.raises(DataError, match="no chord changes"):
        row_to_tune({"solo": "Z", "chord_changes": ""})
    with pytest.raises(DataError, match="not found"):
        convert_csv("/nonexistent/solo_info.csv", "/tmp/x")
    assert slug("It's Only a Paper Moon") == "it-s-only-a-paper-moon"


def test_improv_tunes_import_wjazzd_command(tmp_path, capsys):
    from improv.cli import main

    src = tmp_path / "solo_info.csv"
    with open(src, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(ANTHROPOLOGY))
        w.writeheader()
        w.writerows([ANTHROPOLOGY, BLANCHE])
    assert main(["tunes", "--import-wjazzd", str(src), "--out", str(tmp_path / "tunes")]) == 0
    assert "wrote 2 tune files" in capsys.readouterr().out
    assert main(["tunes", str(tmp_path / "tunes" / "blues-for-blanche.toml")]) == 0
    assert main(["tunes", "--import-wjazzd", str(src)]) == 2  # --out is required: one line, exit 2


def test_shipped_library_covers_the_common_forms():
    from improv.tunefiles import find_tune, shipped_tunes

    forms = {}
    for name in shipped_tunes():
        chart = load_tune(find_tune(name))
        forms[name] = (chart.bars, tuple(s for _, s in chart.sections))
    assert forms["aaba-standard-f"] == (32, ("A1", "A2", "B", "A2"))  # AABA with 1st/2nd endings
    assert forms["abac-standard-g"] == (32, ("A", "B", "A", "C"))
    assert forms["sixteen-bar-minor-c"][0] == 16
    assert {12, 16, 32} <= {bars for bars, _ in forms.values()}


def _write_csv(path, rows):
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.mark.parametrize("bad", [{"avgtempo": "-50"}, {"avgtempo": "1e9"}, {"signature": "0/4"}, {"signature": "99/4"}])
def test_rows_the_tune_loader_would_refuse_are_skipped_not_written(tmp_path, bad):
    src = _write_csv(tmp_path / "solo_info.csv", [BLANCHE, {**ANTHROPOLOGY, **bad}])
    written, skipped = convert_csv(src, tmp_path / "out")
    assert [p.name for p in written] == ["blues-for-blanche.toml"]
    assert len(skipped) == 1 and skipped[0].startswith("ArtPepper_Anthropology_FINAL: ") \
        and skipped[0].count("ArtPepper_Anthropology_FINAL") == 1, skipped
    for p in written:
        load_tune(p)


def test_an_infinite_tempo_is_left_out_and_bad_paths_are_one_line_errors(tmp_path, capsys):
    from improv.cli import main

    src = _write_csv(tmp_path / "solo_info.csv", [{**BLANCHE, "avgtempo": "inf"}])
    written, _ = convert_csv(src, tmp_path / "out")
    assert "tempo" not in tomllib.loads(written[0].read_text(encoding="utf-8"))
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"solo,chord_changes\n\xe0\xe0,x\n")
    (tmp_path / "file").write_text("x")
    (tmp_path / "nothing").mkdir()  # (a folder is read as the unpacked archive: this one has no solo_info.csv)
    for args in (["--import-wjazzd", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")],
                 ["--import-wjazzd", str(latin), "--out", str(tmp_path / "o")],
                 ["--import-wjazzd", str(src), "--out", str(tmp_path / "file")]):
        assert main(["tunes", *args]) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("improv tunes: "), (args, err)


def test_keys_a_tune_file_cannot_say_are_left_out():
    for key, expected in (("Bb-maj", "Bb"), ("C-min", "Cm"), ("Ab", "Ab"), ("D-dor", None), ("C-chrom", None), ("", None)):
        assert row_to_tune({**BLANCHE, "key": key}).get("key") == expected, key


def test_an_empty_csv_or_a_file_as_the_folder_is_one_line_and_makes_no_folder(tmp_path):
    from improv.core.formats.wjazzd_tunes import convert_csv
    from improv.errors import ConfigError, DataError

    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="has no rows under a header"):
        convert_csv(empty, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    good = tmp_path / "info.csv"
    good.write_text("solo,title,chord_changes\nx,Y,C7\n")
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="that is a file; give a folder path"):
        convert_csv(good, tmp_path / "file")


def test_tunes_already_in_the_folder_are_kept_and_odd_csvs_are_one_line(tmp_path):
    """A CLI audit: an import into a folder replaced the user's edited tune of the same name;
    a short row ended in AttributeError, a cell past the csv module's limit in _csv.Error;
    a spreadsheet's "CSV UTF-8" (a BOM before the header) had "no chord_changes column"."""
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "blues-for-blanche.toml"
    mine.write_text("# my edit\n")
    src = _write_csv(tmp_path / "solo_info.csv", [BLANCHE, ANTHROPOLOGY])
    written, skipped = convert_csv(src, out)
    assert [p.name for p in written] == ["anthropology.toml"] and mine.read_text() == "# my edit\n"
    assert any("is there already, kept" in s for s in skipped)
    assert not list(out.glob(".*.part"))
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + src.read_bytes())
    assert [p.name for p in convert_csv(bom, tmp_path / "out2")[0]] == ["anthropology.toml", "blues-for-blanche.toml"]
    short = tmp_path / "short.csv"
    lines = src.read_text().splitlines()
    short.write_text("\n".join([lines[0], lines[1].split(",")[0]]) + "\n")  # a row of one cell
    written, skipped = convert_csv(short, tmp_path / "out3")
    assert written == [] and len(skipped) == 1
    huge = tmp_path / "huge.csv"
    huge.write_text('solo,chord_changes\nX,"' + "C7 |" * 40_000 + '"\n')
    with pytest.raises(DataError, match="is not a readable CSV"):
        convert_csv(huge, tmp_path / "out4")


@pytest.mark.parametrize("packed", ["tar.gz", "folder"])
def test_the_archive_every_other_command_takes_is_taken_here_too(tmp_path, packed, capsys):
    """`improv tunes --import-wjazzd wjazzd-solos.tar.gz --out DIR` was refused ("give the
    WJazzD solo_info.csv"): the archive is the only copy a newcomer has, and every other
    command reads it."""
    import tarfile

    from improv.cli import main

    root = tmp_path / "wjazzd-solos"
    root.mkdir()
    _write_csv(root / "solo_info.csv", [ANTHROPOLOGY, BLANCHE])
    src = root
    if packed == "tar.gz":
        src = tmp_path / "wjazzd-solos.tar.gz"
        with tarfile.open(src, "w:gz") as tar:
            tar.add(root, arcname="wjazzd-solos")
    assert main(["tunes", "--import-wjazzd", str(src), "--out", str(tmp_path / "tunes")]) == 0
    assert "wrote 2 tune files" in capsys.readouterr().out
    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz"):
        pass
    with pytest.raises(DataError, match="holds no solo_info.csv"):
        convert_csv(empty, tmp_path / "t2")

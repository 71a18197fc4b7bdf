"""`improv tunes`: an aligned table, long names included."""

from improv.cli import main
from improv.tunefiles import shipped_tunes
from improv.commands.tunes import table


def columns(line, header):
    """Where each header word's column starts in a line (the first non-space at or after it)."""
    return [line.index(word) for word in header]


def test_every_row_lines_up_under_the_header(capsys):
    assert main(["tunes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(shipped_tunes()) + 1
    head = lines[0]
    starts = [head.index(w) for w in ("title", "form")]
    for line, name in zip(lines[1:], shipped_tunes()):
        assert line.startswith(name + " ")
        cells = [c for c in line.split("  ") if c.strip()]
        assert line.index(cells[1].strip()) == starts[0], (line, head)  # the title column
        assert line[starts[1] - 2:starts[1]] == "  " and line[starts[1]] == "A", (line, head)  # the form column
    assert max(len(n) for n in shipped_tunes()) > 16  # names longer than the old fixed 16 columns


def test_table_sizes_columns_to_the_longest_cell_and_cuts_nothing():
    rows = [("a-very-long-tune-name-indeed", "Short", "12", "A", "120 bpm"),
            ("x", "A title much longer than twenty-eight characters", "8", "A B", "66 bpm")]
    lines = table(("tune", "title", "bars", "form", "tempo"), rows, right=(2, 4))
    assert lines[1].index("Short") == lines[2].index("A title") == lines[0].index("title")
    assert lines[1].index("12") + 2 == lines[2].index("8") + 1 == lines[0].index("bars") + 4  # right-aligned
    assert lines[1].endswith("120 bpm") and lines[2].endswith(" 66 bpm")
    assert all("  " in line for line in lines) and "A title much longer than twenty-eight characters" in lines[2]


def test_one_tune_shows_its_chart(capsys):
    assert main(["tunes", "blues-f"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("blues-f ") and "[A] bar 1" in out[2]
    assert out[3].split("|")[1].strip() == "F7"


def test_a_tune_saved_by_a_windows_editor_is_read_or_named(tmp_path, capsys):
    """Notepad's "Unicode" (UTF-16 with a BOM) is a text file and is read; a file saved in
    Latin-1 / Windows' ANSI is said to be not UTF-8, where both were "not a text file"."""
    tune = 'title = "Caf\u00e9 Waltz"\r\nbeats_per_bar = 3\r\nbars = "Bbmaj7 | G7 | Cm7 | F7"\r\n'
    utf16 = tmp_path / "notepad.toml"
    utf16.write_bytes(tune.encode("utf-16"))
    assert main(["tunes", str(utf16)]) == 0
    assert "Caf\u00e9 Waltz" in capsys.readouterr().out
    ansi = tmp_path / "ansi.toml"
    ansi.write_bytes(tune.encode("cp1252"))
    assert main(["tunes", str(ansi)]) != 0
    err = capsys.readouterr().err
    assert f"tune file {ansi} is not UTF-8 text (line 1 has the byte 0xe9" in err and "save it again as UTF-8" in err


def test_a_tune_given_as_chords_or_chords_given_as_a_tune_says_which_flag(tmp_path, capsys):
    """--chords blues-f was "cannot read chord symbol 'blues-f'", and --tune "Dm7 G7 | Cmaj7"
    "no tune named" with the shipped list: each now says it is the other flag's."""
    waltz = tmp_path / "waltz.toml"
    waltz.write_text('title = "Waltz"\nbeats_per_bar = 3\nbars = "Bbmaj7 | G7 | Cm7 | F7"\n')
    for chords, tune in (("blues-f", "blues-f"), ("Blues F", "blues-f"), (str(waltz), str(waltz))):
        assert main(["jam", "--chords", chords]) != 0
        assert f"--chords {chords!r} is a tune, not a chart: play it with --tune {tune} " in capsys.readouterr().err
    assert main(["jam", "--tune", "Dm7 G7 | Cmaj7"]) != 0
    err = capsys.readouterr().err
    assert "'Dm7 G7 | Cmaj7' (--tune, or [harmony] tune in a --config file) is a chord chart, not a tune" in err
    assert 'give chords with --chords (or [harmony] chords), e.g. --chords "Dm7 G7 | Cmaj7"' in err
    assert main(["jam", "--chords", "Dm7 | Hm7"]) != 0  # a chart with a bad symbol is still said as one
    assert "bar 2: cannot read chord symbol 'Hm7'" in capsys.readouterr().err


def test_a_shipped_tune_named_as_its_file_says_to_drop_the_suffix(tmp_path, monkeypatch, capsys):
    """--tune blues-f.toml (the file `improv/data/tunes/` shows) was "not found" with the
    first three shipped names, blues-f not among them."""
    monkeypatch.chdir(tmp_path)
    assert main(["tunes", "blues-f.toml"]) != 0
    assert "tune file blues-f.toml not found: blues-f is a shipped tune; name it without .toml: blues-f" \
        in capsys.readouterr().err
    (tmp_path / "blues-f.toml").write_text('title = "My blues"\nbars = "F7 | Bb7 | F7 | %"\n')
    assert main(["tunes", "blues-f.toml"]) == 0  # a file of that name here is the one played
    assert "My blues" in capsys.readouterr().out


def test_a_tune_shows_its_metre(tmp_path, capsys):
    """A waltz whose file forgot beats_per_bar = 3 is read in 4/4 (two chords a bar then
    fall on 1 and 3): `improv tunes FILE` showed it just as the 3/4 one, bars and chords alike."""
    for bpb, shown in (("beats_per_bar = 3\n", "3/4"), ("", "4/4")):
        tune = tmp_path / "waltz.toml"
        tune.write_text(f'title = "Waltz"\n{bpb}bars = "Bbmaj7 | G7 | Cm7 F7 | Bb6"\n')
        assert main(["tunes", str(tune)]) == 0
        head, row = capsys.readouterr().out.splitlines()[:2]
        assert head.split() == ["tune", "title", "bars", "time", "form", "tempo"]
        assert row.split()[1:4] == ["Waltz", "4", shown]

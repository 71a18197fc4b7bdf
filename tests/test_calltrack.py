"""Which tracks of a MIDI file hold the call (`improv respond`, `improv demo`)."""

import pytest

from improv.core.formats.calltrack import choose_tracks
from improv.errors import DataError


@pytest.mark.parametrize(
    "names, track, indices, says",
    [
        (["improv session", "player", "partner"], None, (1,), "track 1 'player' of 3; 2 other tracks left out"),
        (["", "Player ", "partner", "bass"], None, (1,), "track 1 'Player ' of 4"),
        (["demo player"], None, (0,), "track 0 'demo player'"),
        ([""], None, (0,), "track 0 (unnamed)"),
        (["tempo", "melody", "drums"], None, (0, 1, 2), "all 3 tracks merged"),
        (["improv session", "player", "partner"], "partner", (2,), "track 2 'partner' of 3 (--track)"),
        (["improv session", "player", "partner"], "0", (0,), "track 0 'improv session' of 3 (--track)"),
        (["improv session", "player", "partner"], "Player", (1,), "track 1 'player' of 3 (--track)"),  # any case
    ],
)
def test_the_player_track_is_read_by_default(names, track, indices, says):
    choice = choose_tracks(names, track)
    assert choice.indices == indices
    assert choice.description.startswith(says), choice.description


@pytest.mark.parametrize("track", ["3", "drums", "-1", ""])
def test_a_missing_track_is_one_line_listing_the_tracks(track):
    with pytest.raises(DataError, match=r"x.mid has no track .*; its tracks are 0:conductor, 1:player, 2:\(unnamed\)"):
        choose_tracks(["conductor", "player", ""], track, "x.mid")


def test_a_file_of_no_tracks_says_so_and_offers_no_track_flag(tmp_path, capsys):
    """An empty MIDI file (a header, no track): respond said it had no notes "in all 0 tracks
    merged (--track to choose one)", a flag no track could answer."""
    import mido

    from improv.cli import main

    mido.MidiFile(type=1).save(str(tmp_path / "empty.mid"))
    assert main(["respond", str(tmp_path / "empty.mid"), "-o", str(tmp_path / "a.mid")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"improv respond: {tmp_path / 'empty.mid'} has no notes to answer in any track: the file " \
                          "has none; give a MIDI file with a melodic phrase"
    assert choose_tracks([], None).indices == ()

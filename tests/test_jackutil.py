"""The end-to-end tests' transport check (tests/jackutil.py) says what JACK lost, and only that."""

from types import SimpleNamespace

import mido

from jackutil import check_transport


def recording(path, player):
    """A session file with a "player" track of (tick, bytes)."""
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("track_name", name="player", time=0)])
    now = 0
    for tick, data in player:
        track.append(mido.Message.from_bytes(data).copy(time=tick - now))
        now = tick
    mid.tracks.append(track)
    mid.save(str(path))
    return path


def test_a_release_and_a_note_on_sharing_a_tick_are_not_a_loss(tmp_path, capsys):
    # Sent: on 72, on 66 a fraction of a millisecond before off 72; the file puts both on
    # one tick with the release first (as the recorder writes them). Nothing was lost.
    sent = [(0.0, [0x90, 72, 90]), (0.5000, [0x90, 66, 90]), (0.5001, [0x80, 72, 0]), (1.0, [0x80, 66, 0])]
    rec = recording(tmp_path / "s.mid", [(0, [0x90, 72, 90]), (480, [0x80, 72, 0]), (480, [0x90, 66, 90]),
                                         (960, [0x80, 66, 0])])
    arrivals = [SimpleNamespace(t=t, data=tuple(d)) for t, d in sent]
    assert check_transport(sent, rec, arrivals) == []
    assert "JACK dropped" not in capsys.readouterr().out


def test_a_lost_release_is_said(tmp_path):
    sent = [(0.0, [0x90, 72, 90]), (0.5, [0x80, 72, 0]), (0.6, [0x90, 66, 90]), (1.0, [0x80, 66, 0])]
    rec = recording(tmp_path / "s.mid", [(0, [0x90, 72, 90]), (576, [0x90, 66, 90]), (960, [0x80, 66, 0])])
    arrivals = [SimpleNamespace(t=t, data=tuple(d)) for t, d in sent]
    found = check_transport(sent, rec, arrivals)
    assert found and "key 72" in found[0] and "off sent, None recorded" in found[0]

import mido
import numpy as np
import pytest

from improv.core.formats.midifile import Recording, TimedMessage, save_recording
from improv.core.audio.render import parts_to_stereo, recording_to_parts, stereo_to_wav, wav_to_array

SR = 48000
SF2 = "/usr/share/sounds/sf2/default-GM.sf2"


def known_phrase():
    """Player: C E G as quarter notes at 120 bpm; partner: a Dm7 chord on beat 4, held 1 s."""
    events = []
    for k, pitch in enumerate((60, 64, 67)):
        events += [(k * 0.5, "player", "note_on", pitch, 90), (k * 0.5 + 0.45, "player", "note_off", pitch, 0)]
    for pitch in (50, 53, 57, 60):
        events += [(1.5, "partner", "note_on", pitch, 80), (2.5, "partner", "note_off", pitch, 0)]
    events.sort()
    return Recording(tuple(TimedMessage(t, p, mido.Message(k, note=n, velocity=v)) for t, p, k, n, v in events))


def test_render_a_known_phrase(tmp_path):
    rec = known_phrase()
    parts = recording_to_parts(rec, SR, tail_s=0.5)
    assert parts.shape == (2, int(2.5 * SR) + int(0.5 * SR))
    # the player sounds first, the partner only from 1.5 s
    assert np.abs(parts[0, :SR // 2]).max() > 0.02 and not parts[1, :int(1.5 * SR)].any()
    assert np.abs(parts[1, int(1.5 * SR):int(1.6 * SR)]).max() > 0.02
    # release tails end in silence before the end of the tail
    assert not parts[:, -SR // 10:].any()
    path = stereo_to_wav(parts_to_stereo(parts), tmp_path / "s.wav", SR)
    audio, rate = wav_to_array(path)
    assert rate == SR and audio.shape == (parts.shape[1], 2)
    peak = np.abs(audio).max()
    assert 0.05 < peak < 1.0
    rms = np.sqrt(np.mean(audio[: 2 * SR] ** 2))
    assert rms > 0.005  # not silent


def test_stems_add_up_to_the_parts(tmp_path):
    parts = recording_to_parts(known_phrase(), SR, tail_s=0.5)
    player = parts_to_stereo(parts, which=(0,))
    partner = parts_to_stereo(parts, which=(1,))
    assert np.abs(player[: SR // 2]).max() > 0.01 and not partner[: int(1.5 * SR)].any()
    # at these levels the soft clipper is nearly transparent: stems sum to the mix
    assert np.abs(player + partner - parts_to_stereo(parts)).max() < 0.01


def test_render_command_writes_mix_and_stems(tmp_path):
    from improv.cli import main

    mid = save_recording(known_phrase(), tmp_path / "s.mid")
    assert main(["render", str(mid), "-o", str(tmp_path / "s.wav"), "--stems"]) == 0
    for name in ("s.wav", "s-player.wav", "s-partner.wav"):
        audio, rate = wav_to_array(tmp_path / name)
        assert rate == SR and audio.shape[0] > 2.5 * SR and np.abs(audio).max() > 0.01
    assert main(["render", str(tmp_path / "missing.mid"), "-o", str(tmp_path / "x.wav")]) == 2


def test_soundfont_missing_file_or_extra_says_what_to_do(tmp_path, capsys):
    from improv.cli import main

    mid = save_recording(known_phrase(), tmp_path / "s.mid")
    code = main(["render", str(mid), "-o", str(tmp_path / "s.wav"), "--soundfont", str(tmp_path / "none.sf2")])
    err = capsys.readouterr().err
    assert code == 2 and ("not found" in err or "pip install" in err)


def test_soundfont_render(tmp_path):
    pytest.importorskip("tinysoundfont", reason="the soundfont extra is not installed")
    from pathlib import Path

    if not Path(SF2).exists():
        pytest.skip(f"no General MIDI SoundFont at {SF2} (apt install timgm6mb-soundfont)")
    from improv.core.audio.soundfont import load_soundfont

    parts = recording_to_parts(known_phrase(), SR, tail_s=0.5, soundfont=load_soundfont(SF2, SR))
    assert np.abs(parts[0, :SR // 2]).max() > 0.01 and np.abs(parts[1, int(1.5 * SR):2 * SR]).max() > 0.01

from pathlib import Path

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
    assert code == 2 and "not found" in err  # the file first: installing the extra would not find it either
    (tmp_path / "fonts").mkdir()
    (tmp_path / "fonts" / "GM.SF2").write_bytes(b"RIFF")  # (the extension in capitals, as some ship)
    code = main(["render", str(mid), "-o", str(tmp_path / "s.wav"), "--soundfont", str(tmp_path / "fonts")])
    err = capsys.readouterr().err
    assert code == 2 and "is a folder" in err and "GM.SF2" in err and "not found" not in err
    try:
        import tinysoundfont  # noqa: F401
    except ImportError:
        (tmp_path / "some.sf2").write_bytes(b"RIFF")
        code = main(["render", str(mid), "-o", str(tmp_path / "s.wav"), "--soundfont", str(tmp_path / "some.sf2")])
        assert code == 2 and "pip install" in capsys.readouterr().err


def test_soundfont_render(tmp_path):
    pytest.importorskip("tinysoundfont", reason="the soundfont extra is not installed")
    from pathlib import Path

    if not Path(SF2).exists():
        pytest.skip(f"no General MIDI SoundFont at {SF2} (apt install timgm6mb-soundfont)")
    from improv.core.audio.soundfont import load_soundfont

    parts = recording_to_parts(known_phrase(), SR, tail_s=0.5, soundfont=load_soundfont(SF2, SR))
    assert np.abs(parts[0, :SR // 2]).max() > 0.01 and np.abs(parts[1, int(1.5 * SR):2 * SR]).max() > 0.01


class FakeTinySoundFont:
    """A stand-in for the tinysoundfont module, as it behaves: each synth sounds a constant
    level per note from its note-on to its note-off (the oldest of a key first) and, like
    tinysoundfont, does nothing with the sustain pedal (CC 64)."""

    presets = range(128)  # the font's programs in bank 0

    class Synth:
        def __init__(self, samplerate: int) -> None:
            self.notes: list[tuple[int, int]] = []  # (channel, key), oldest first

        def sfload(self, path: str) -> int:
            return 0

        def sfpreset_name(self, sfid, bank, program):
            return f"program {program}" if bank == 0 and program in FakeTinySoundFont.presets else None

        def program_select(self, ch, sfid, bank, program, is_drums=False) -> None:
            if self.sfpreset_name(sfid, bank, program) is None:
                raise RuntimeError("Error in channel_set_preset_number")

        def noteon(self, ch, key, vel) -> None:
            self.notes.append((ch, key))

        def noteoff(self, ch, key) -> None:
            if (ch, key) in self.notes:
                self.notes.remove((ch, key))

        def notes_off(self, ch) -> None:
            self.notes = [n for n in self.notes if n[0] != ch]

        def sounds_off(self, ch=None) -> None:
            self.notes = [n for n in self.notes if ch is not None and n[0] != ch]

        def control_change(self, ch, control, value) -> None:
            pass  # (CC 64 too: tinysoundfont has no sustain pedal)

        def generate(self, frames, buffer):
            out = np.frombuffer(buffer, np.float32)
            out[:2 * frames] = 0.1 * len(self.notes)
            return buffer


def fake_soundfont(tmp_path, monkeypatch):
    import sys

    from improv.core.audio.soundfont import load_soundfont

    monkeypatch.setitem(sys.modules, "tinysoundfont", FakeTinySoundFont)
    (tmp_path / "fake.sf2").write_bytes(b"RIFF")
    return load_soundfont(tmp_path / "fake.sf2", SR)


def test_a_soundfont_holds_the_notes_the_sustain_pedal_holds(tmp_path, monkeypatch):
    """tinysoundfont ignores CC 64: with --soundfont a pedalled note ended at its key's
    release, live and in renders, as if there were no pedal."""
    pedalled = [(0.0, "control_change", 64, 127), (0.0, "note_on", 60, 90), (0.5, "note_off", 60, 0),
                (1.5, "control_change", 64, 0), (1.5, "control_change", 1, 0)]
    rec = Recording(tuple(TimedMessage(t, "player", mido.Message(k, control=a, value=b) if k == "control_change"
                                       else mido.Message(k, note=a, velocity=b)) for t, k, a, b in pedalled))
    parts = recording_to_parts(rec, SR, tail_s=0.5, soundfont=fake_soundfont(tmp_path, monkeypatch))
    assert parts[0, int(0.4 * SR)] > 0 and parts[0, int(1.4 * SR)] > 0  # held by the pedal past its release
    assert not parts[0, int(1.6 * SR):].any()  # and ended when the pedal came up


def test_a_soundfonts_all_notes_off_leaves_the_notes_the_pedal_holds(tmp_path, monkeypatch):
    """All Notes Off from the keyboard (some send one whenever the last key comes up) cut
    the pedalled notes with --soundfont: the keys are let go, the pedal holds them on."""
    script = [(0.0, "control_change", 64, 127), (0.0, "note_on", 60, 90), (0.0, "note_on", 64, 90),
              (0.5, "control_change", 123, 0), (1.5, "control_change", 64, 0), (1.5, "note_on", 67, 90),
              (1.7, "control_change", 123, 0), (2.0, "control_change", 1, 0)]
    rec = Recording(tuple(TimedMessage(t, "player", mido.Message(k, control=a, value=b) if k == "control_change"
                                       else mido.Message(k, note=a, velocity=b)) for t, k, a, b in script))
    parts = recording_to_parts(rec, SR, tail_s=0.5, soundfont=fake_soundfont(tmp_path, monkeypatch))
    assert parts[0, int(1.4 * SR)] == pytest.approx(0.2)  # both held by the pedal past the All Notes Off
    assert parts[0, int(1.6 * SR)] == pytest.approx(0.1)  # ended when it came up; the new note sounds
    assert not parts[0, int(1.8 * SR):].any()  # and ends at an All Notes Off with the pedal up


def test_a_soundfonts_pedal_comes_up_at_a_reset_and_the_channel_mode_messages_let_keys_go(tmp_path, monkeypatch):
    """Reset All Controllers (121) lifts the pedal and omni/mono/poly (124-127) let every
    key go: with --soundfont a keyboard's reset button left the pedalled notes ringing."""
    script = [(0.0, "control_change", 64, 127), (0.0, "note_on", 60, 90), (0.5, "note_off", 60, 0),
              (1.0, "control_change", 121, 0), (1.2, "note_on", 64, 90), (1.4, "control_change", 125, 0),
              (2.0, "control_change", 1, 0)]
    rec = Recording(tuple(TimedMessage(t, "player", mido.Message(k, control=a, value=b) if k == "control_change"
                                       else mido.Message(k, note=a, velocity=b)) for t, k, a, b in script))
    parts = recording_to_parts(rec, SR, tail_s=0.5, soundfont=fake_soundfont(tmp_path, monkeypatch))
    assert parts[0, int(0.9 * SR)] == pytest.approx(0.1)  # held by the pedal
    assert not parts[0, int(1.1 * SR):int(1.2 * SR)].any()  # let go at the reset
    assert not parts[0, int(1.5 * SR):].any()  # the new key let go at the mode message


def test_a_soundfont_without_the_general_midi_programs_plays_its_own_or_is_refused_in_one_line(
        tmp_path, monkeypatch, capsys):
    """A font with one instrument that is not program 1 (a lone Rhodes on program 5) ended
    `improv render --soundfont` in a RuntimeError traceback; one with none in bank 0 too."""
    from improv.cli import main

    monkeypatch.setattr(FakeTinySoundFont, "presets", (5,))
    parts = recording_to_parts(known_phrase(), SR, tail_s=0.5, soundfont=fake_soundfont(tmp_path, monkeypatch))
    assert parts[0, SR // 4] > 0 and parts[1, int(1.75 * SR)] > 0  # both parts play the font's program 5
    monkeypatch.setattr(FakeTinySoundFont, "presets", ())
    mid = save_recording(known_phrase(), tmp_path / "s.mid")
    assert main(["render", str(mid), "-o", str(tmp_path / "s.wav"), "--soundfont", str(tmp_path / "fake.sf2")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no instrument in bank 0" in err and not (tmp_path / "s.wav").exists()


def test_soundfont_stems_start_from_silence_not_from_the_end_of_the_mix(tmp_path, monkeypatch):
    """The stems were rendered on the synth the mix had just played: a player's stem began
    with the mix's last notes still ringing (here a note the pedal holds to the end)."""
    from improv.core.audio.render import midi_file_to_wav

    events = [(0.0, "partner", "note_on", 67), (0.5, "partner", "note_off", 67), (1.0, "player", "cc", 127),
              (1.0, "player", "note_on", 60), (1.5, "player", "note_off", 60)]
    rec = Recording(tuple(TimedMessage(t, part, mido.Message("control_change", control=64, value=v) if k == "cc"
                                       else mido.Message(k, channel=int(part == "partner"), note=v, velocity=90))
                          for t, part, k, v in events))
    mid = save_recording(rec, tmp_path / "p.mid")
    midi_file_to_wav(mid, tmp_path / "p.wav", SR, stems=True, soundfont=fake_soundfont(tmp_path, monkeypatch),
                     tail_s=0.5)
    player, rate = wav_to_array(tmp_path / "p-player.wav")
    assert not player[:rate].any() and player[int(1.2 * rate)].any()  # silent until its first note


# --- streaming, atomic files, refusals ------------------------------------------------------


def test_rendering_block_by_block_is_the_same_whatever_the_block_size():
    # (to float32 rounding: where a block boundary falls changes a few sums' order)
    from improv.core.audio.render import iter_parts

    rec = known_phrase()
    whole = recording_to_parts(rec, SR, tail_s=0.5)
    for chunk in (1000, 4096, 48000):
        pieces = np.concatenate([b.copy() for b in iter_parts(rec, SR, tail_s=0.5, chunk=chunk)], axis=1)
        assert pieces.shape == whole.shape and np.allclose(pieces, whole, rtol=0, atol=1e-7), chunk


def test_a_failed_render_leaves_no_file_behind(tmp_path):
    from improv.core.audio.render import write_wav

    def blocks():
        yield np.zeros((1000, 2), np.float32)
        raise OSError(28, "No space left on device")

    (tmp_path / "keep.wav").write_bytes(b"an earlier render")
    with pytest.raises(OSError):
        write_wav(blocks(), tmp_path / "keep.wav", SR)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.wav"]
    assert (tmp_path / "keep.wav").read_bytes() == b"an earlier render"  # the old file is untouched


def test_a_render_that_fails_midway_is_a_failure_not_bad_input(tmp_path):
    """A WAV that could not be written midway (a full disk; here a file size limit set on the
    process) exited 2, the status of a bad flag: it is a failure, 1, as the jam's recording
    failing is, with the one line that says so and no part file left."""
    import os
    import subprocess
    import sys

    resource = pytest.importorskip("resource", reason="a file size limit for a child process needs POSIX")
    root = Path(__file__).resolve().parent.parent
    mid = save_recording(known_phrase(), tmp_path / "s.mid")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))

    def small_files():  # (Python ignores SIGXFSZ: a write past the limit fails with EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    proc = subprocess.run([sys.executable, "-m", "improv", "render", str(mid), "-o", str(tmp_path / "s.wav")],
                          env=env, capture_output=True, text=True, timeout=120, preexec_fn=small_files)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("improv render: cannot write the WAV file (File too large); nothing was left "
                                  "behind") and proc.stderr.count("\n") == 1, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.mid"]


def test_renders_that_cannot_be_written_are_refused_before_any_audio(tmp_path, monkeypatch):
    import shutil

    from improv.core.audio.render import check_render
    from improv.errors import ConfigError

    rec = known_phrase()
    with pytest.raises(ConfigError, match="is a folder"):
        check_render(rec, tmp_path, SR, 1.0)
    with pytest.raises(ConfigError, match="does not exist"):
        check_render(rec, tmp_path / "no" / "x.wav", SR, 1.0)
    long = Recording((TimedMessage(0.0, "player", mido.Message("note_on", note=60)),
                      TimedMessage(8 * 3600.0, "player", mido.Message("note_off", note=60))))
    with pytest.raises(ConfigError, match=r"lasts 8.0 hours: a WAV file holds at most 6.2 hours"):
        check_render(long, tmp_path / "x.wav", SR, 1.0)
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=1000))
    with pytest.raises(ConfigError, match=r"needs 0.7 MB and .* has 0.0 MB free"):
        check_render(rec, tmp_path / "x.wav", SR, 1.0)


def test_render_command_refuses_bad_outputs_and_values_in_one_line(tmp_path, capsys):
    from fsutil import read_only_folder
    from improv.cli import main

    mid = save_recording(known_phrase(), tmp_path / "s.mid")
    cases = [["-o", str(tmp_path)], ["-o", str(tmp_path / "missing" / "x.wav")], ["--tail", "nan"],
             ["--tail", "-1"], ["--tail", "1e9"], ["-o", str(tmp_path / "take.mp3")]]
    with read_only_folder(tmp_path) as ro:
        if ro is not None:
            cases.append(["-o", str(ro / "x.wav")])
        for extra in cases:
            assert main(["render", str(mid), *extra]) == 2, extra
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and err.startswith("improv render: "), (extra, err)
    assert not list(tmp_path.glob("*.wav")) and not list(tmp_path.glob(".*.part"))


def test_a_file_with_no_notes_is_refused_not_rendered_as_silence(tmp_path, capsys):
    from improv.cli import main

    only_pedal = (TimedMessage(0.0, "player", mido.Message("control_change", control=64, value=127)),
                  TimedMessage(2.0, "player", mido.Message("control_change", control=64, value=0)))
    mid = save_recording(Recording(only_pedal), tmp_path / "quiet.mid")
    assert main(["render", str(mid)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no notes to render" in err and str(mid) in err
    assert not list(tmp_path.glob("*.wav"))


def test_band_stems_are_written_part_by_part(tmp_path):
    from improv.cli import main

    events = [(0.0, "player", 60), (0.5, "bass", 36), (1.0, "comp", 64), (1.5, "click", 76)]
    msgs = []
    for t, part, pitch in events:
        ch = {"player": 0, "bass": 3, "comp": 2, "click": 9}[part]
        msgs += [TimedMessage(t, part, mido.Message("note_on", channel=ch, note=pitch, velocity=90)),
                 TimedMessage(t + 0.3, part, mido.Message("note_off", channel=ch, note=pitch))]
    mid = save_recording(Recording(tuple(sorted(msgs, key=lambda e: e.t))), tmp_path / "b.mid")
    assert main(["render", str(mid), "-o", str(tmp_path / "b.wav"), "--stems", "--tail", "0.3"]) == 0
    for part, start in (("player", 0.0), ("bass", 0.5), ("comp", 1.0), ("click", 1.5)):
        audio, rate = wav_to_array(tmp_path / f"b-{part}.wav")
        at = int(start * rate)
        assert not audio[:at].any() and np.abs(audio[at:at + rate // 5]).max() > 0.01, part
    assert not (tmp_path / "b-partner.wav").exists()  # the partner did not play


@pytest.mark.slow
def test_render_memory_stays_bounded_on_a_long_session(tmp_path):
    """The peak memory of `improv render` does not grow with the session: 8 minutes take
    about what 1 minute takes (44 MB; holding the whole audio in memory took 919 MB for 8).
    The 1-hour figure is the bench's: python -m improv.bench.render_memory."""
    from improv.bench.render_memory import long_session, render_once

    peaks = {}
    for minutes in (1, 8):
        midi = save_recording(long_session(minutes), tmp_path / f"{minutes}.mid")
        peaks[minutes] = render_once(midi, tmp_path / f"{minutes}.wav")["peak_mb"]
        (tmp_path / f"{minutes}.wav").unlink()
    assert peaks[8] < 120.0, peaks
    assert peaks[8] - peaks[1] < 30.0, peaks  # what grows is the list of events, not the audio


def test_render_never_overwrites_its_input_nor_replaces_a_pipe_and_writes_through_a_link(tmp_path, capsys):
    import os

    from improv.cli import main

    mid = save_recording(known_phrase(), tmp_path / "s.mid")
    before = mid.read_bytes()
    disguised = tmp_path / "t.wav"  # a MIDI file named .wav: the default output would be itself
    disguised.write_bytes(before)
    picture = tmp_path / "u.png"  # and one named .png, for plot
    picture.write_bytes(before)
    fifo, bare = tmp_path / "pipe.wav", tmp_path / "tap"  # (a device with no suffix, as /dev/null: it was
    os.mkfifo(fifo)                                         # given one, and /dev/null.wav written)
    os.mkfifo(bare)
    for args in (["render", str(mid), "-o", str(mid)], ["render", str(mid), "-o", str(fifo)],
                 ["render", str(mid), "-o", str(bare)]):
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and ("input file" in err or "not a regular file" in err
                                          or "give a file ending in .wav" in err), (args, err)
    # the default output would be the input itself: it goes beside it instead
    assert main(["render", str(disguised)]) == 0 and main(["plot", str(picture)]) == 0
    assert (tmp_path / "t-2.wav").exists() and (tmp_path / "u-2.png").exists()
    assert mid.read_bytes() == before and disguised.read_bytes() == before == picture.read_bytes() and fifo.is_fifo()
    assert bare.is_fifo() and not (tmp_path / "tap.wav").exists()
    link = tmp_path / "link.wav"
    link.symlink_to(tmp_path / "target.wav")
    assert main(["render", str(mid), "-o", str(link)]) == 0
    assert link.is_symlink() and wav_to_array(tmp_path / "target.wav")[0].shape[0] > 0


def test_a_note_never_ended_in_its_file_sounds_to_the_tracks_end_and_is_released(tmp_path):
    """The WAV stopped at the last message (the note-on), the note cut off unreleased."""
    from improv.core.formats.midifile import load_recording

    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([mido.Message("note_on", note=64, velocity=90, time=480 * 6),
                                      mido.MetaMessage("end_of_track", time=960)]))
    mid.save(str(tmp_path / "hang.mid"))
    rec = load_recording(tmp_path / "hang.mid")
    offs = [e for e in rec.events if e.msg.type == "note_off"]
    assert [(e.t, e.msg.note) for e in offs] == [(4.0, 64)] and rec.duration == 4.0
    from improv.cli import main

    assert main(["render", str(tmp_path / "hang.mid"), "-o", str(tmp_path / "hang")]) == 0
    audio, rate = wav_to_array(tmp_path / "hang.wav")
    assert rate == SR and len(audio) == 5 * SR and np.abs(audio[int(3.9 * SR):int(4.0 * SR)]).max() > 0.01  # to the track's end, and the second of release after it


def test_a_render_does_not_let_the_players_pedal_hold_the_bass():
    """Offline as live: the bass's notes end at their note-offs while the player pedals."""
    events = [TimedMessage(0.0, "player", mido.Message("control_change", control=64, value=127)),
              TimedMessage(0.0, "player", mido.Message("note_on", note=72, velocity=80)),
              TimedMessage(3.0, "player", mido.Message("control_change", control=1, value=0))]  # (the same length)
    for k, pitch in enumerate((41, 43, 45, 46)):
        events += [TimedMessage(k * 0.5, "bass", mido.Message("note_on", channel=2, note=pitch, velocity=90)),
                   TimedMessage(k * 0.5 + 0.4, "bass", mido.Message("note_off", channel=2, note=pitch))]
    rec = Recording(tuple(sorted(events, key=lambda e: e.t)))
    alone = recording_to_parts(Recording(tuple(e for e in rec.events if e.part == "player")), SR, tail_s=1.0)
    both = recording_to_parts(rec, SR, tail_s=1.0)
    after = int(2.4 * SR)  # the last bass note has ended (and faded) by then
    assert np.allclose(both[0, after:after + SR // 2], alone[0, after:after + SR // 2], atol=1e-4)


def test_a_long_render_says_how_long_and_how_big_before_it_starts(tmp_path, monkeypatch):
    """A 74-byte file with one note 5,000 bars in rendered a 1.9 GB WAV without a word."""
    import improv.core.audio.render as R

    said = []
    monkeypatch.setattr(R, "LONG_RENDER_S", 1.0)  # (a real long file would take too long here)
    mid = save_recording(known_phrase(), tmp_path / "k.mid")
    R.midi_file_to_wav(mid, tmp_path / "k.wav", SR, say=said.append)
    assert len(said) == 1 and "min of audio" in said[0] and "MB" in said[0]
    said.clear()
    monkeypatch.setattr(R, "LONG_RENDER_S", 3600.0)
    R.midi_file_to_wav(mid, tmp_path / "k2.wav", SR, say=said.append)
    assert said == []


def test_a_held_note_is_not_cut_by_the_same_pitch_on_another_channel(tmp_path):
    """A DAW export: the pad holds G3 for two seconds on channel 2 while the bass plays a
    short G3 on channel 3. The render went silent at the bass's note-off (notes were keyed
    by pitch alone), and the plot drew the pad's note one beat long."""
    from improv.core.formats.midifile import load_recording, recording_notes

    def song(with_bass: bool) -> Path:
        mid = mido.MidiFile(type=1, ticks_per_beat=960)
        mid.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)]))
        mid.tracks.append(mido.MidiTrack([mido.Message("note_on", channel=0, note=72, velocity=90),
                                          mido.Message("note_off", channel=0, note=72, time=3840)]))
        mid.tracks.append(mido.MidiTrack([mido.Message("note_on", channel=1, note=55, velocity=80),
                                          mido.Message("note_off", channel=1, note=55, time=3840)]))
        if with_bass:
            mid.tracks.append(mido.MidiTrack([mido.Message("note_on", channel=2, note=55, velocity=80, time=960),
                                              mido.Message("note_off", channel=2, note=55, time=480)]))
        path = tmp_path / f"song-{with_bass}.mid"
        mid.save(str(path))
        return path

    alone, both = (load_recording(song(b)) for b in (False, True))
    assert sorted((n.start, n.duration) for n in recording_notes(both, "partner") if n.pitch == 55) == \
        [(0.0, 4.0), (1.0, 0.5)]
    a, b = (recording_to_parts(r, SR, tail_s=0.5) for r in (alone, both))
    window = slice(int(1.2 * SR), int(1.9 * SR))  # the bass's G3 has ended and faded by then
    assert np.abs(b[1, window]).max() > 0.5 * np.abs(a[1, window]).max() > 0.01


def test_a_note_never_ended_on_a_track_that_stops_early_sounds_to_the_songs_end(tmp_path):
    """The lead's last G4 is never released and the lead's track ends on its note-on, while
    the pad plays on to 4 s: the G4 was ended at its own track's end, at its start, and
    never sounded."""
    from improv.core.formats.midifile import load_recording

    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)]))
    mid.tracks.append(mido.MidiTrack([mido.Message("note_on", channel=0, note=67, velocity=90, time=960)]))
    mid.tracks.append(mido.MidiTrack([mido.Message("note_on", channel=1, note=48, velocity=80),
                                      mido.Message("note_off", channel=1, note=48, time=480 * 8)]))
    mid.save(str(tmp_path / "lead.mid"))
    rec = load_recording(tmp_path / "lead.mid")
    assert sorted((e.t, e.msg.note) for e in rec.events if e.msg.type == "note_off") == [(4.0, 48), (4.0, 67)]


def test_outputs_written_beside_the_file_never_replace_what_is_there(tmp_path, capsys):
    """`improv render song.mid` replaced the song.wav beside it (the user's own bounce),
    `plot` the song.png and `respond` the last answer, without a word. With no -o they now
    take the next free name; an -o the user gives is still written."""
    from improv.cli import main

    song = tmp_path / "song.mid"
    save_recording(known_phrase(), song)
    for name in ("song.wav", "song.png", "song-answer.mid", "song-2-player.wav"):
        (tmp_path / name).write_bytes(b"mine")
    assert main(["render", str(song), "--stems"]) == 0
    out = capsys.readouterr().out
    assert "song.wav is there already and is kept: writing" in out and f"wrote {tmp_path / 'song-3.wav'}" in out
    assert (tmp_path / "song-3-player.wav").exists()  # -2 was passed over: one of its stems was there
    assert main(["plot", str(song)]) == 0 and (tmp_path / "song-2.png").exists()
    assert main(["respond", str(song), "--chords", "Cmaj7", "--seed", "1"]) == 0
    assert (tmp_path / "song-answer-2.mid").exists()
    assert all((tmp_path / n).read_bytes() == b"mine" for n in ("song.wav", "song.png", "song-answer.mid"))
    assert main(["render", str(song), "-o", str(tmp_path / "song.wav")]) == 0  # told to: written
    assert (tmp_path / "song.wav").read_bytes() != b"mine"


def test_sigterm_mid_render_leaves_no_part_file_behind(tmp_path):
    """`timeout 60 improv render long.mid` (timeout sends SIGTERM) left a 3.7 GB hidden
    `.long.wav.PID.part`: SIGTERM ended the process without the cleanup Ctrl-C runs."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from improv.bench.render_memory import long_session

    midi = save_recording(long_session(30), tmp_path / "long.mid")
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen([sys.executable, "-m", "improv", "render", str(midi), "-o", str(tmp_path / "out.wav")],
                            env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".out.wav.*.part")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert list(tmp_path.glob(".out.wav.*.part")), "the render never began writing"
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=30)[1]
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM and "stopped (SIGTERM)" in err and "Traceback" not in err, \
        (proc.returncode, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mid"]


@pytest.mark.parametrize("voice", ["organ", "epiano"])
def test_a_file_that_ends_with_the_pedal_down_rings_out_in_the_tail_not_cut_at_the_files_end(tmp_path, voice):
    """A file whose sustain pedal never comes up (a DAW's export ending on a pedalled chord):
    the chord sounded to the last sample of the WAV, tail and all, and stopped there at full
    level, a click (an organ held for ever). At the file's end every note is let go, as a
    sequencer's stop does, and the tail holds its release."""
    from improv.cli import main

    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    track = [mido.Message("control_change", control=64, value=127)]
    track += [mido.Message("note_on", note=p, velocity=100) for p in (48, 55, 64)]
    track += [mido.Message("note_off", note=p, velocity=0, time=960 if k == 0 else 0) for k, p in enumerate((48, 55, 64))]
    mid.tracks.append(mido.MidiTrack(track))
    mid.save(str(tmp_path / "pedal.mid"))
    (tmp_path / "improv.toml").write_text(f'[synth]\nplayer_voice = "{voice}"\npartner_voice = "{voice}"\n')
    assert main(["render", str(tmp_path / "pedal.mid"), "-o", str(tmp_path / "pedal.wav"),
                 "--config", str(tmp_path / "improv.toml")]) == 0
    audio, rate = wav_to_array(tmp_path / "pedal.wav")
    assert rate == SR and len(audio) == 2 * SR  # 1 s of file, 1 s of tail
    assert np.abs(audio[int(0.9 * SR):SR]).max() > 0.01  # the pedal holds the chord to the file's end
    assert not audio[-SR // 2:].any()  # and it has rung out before the WAV ends


def test_a_soundfont_lets_go_at_the_files_end_what_the_pedal_still_holds(tmp_path, monkeypatch):
    """As the built-in synth: with --soundfont too, a pedal left down at the file's end held
    its notes through the whole tail, to the WAV's last sample."""
    pedalled = [(0.0, "control_change", 64, 127), (0.0, "note_on", 60, 90), (0.5, "note_off", 60, 0),
                (0.0, "note_on", 64, 90), (1.0, "note_off", 64, 0)]
    rec = Recording(tuple(sorted((TimedMessage(t, "player", mido.Message(k, control=a, value=b) if k == "control_change"
                                              else mido.Message(k, note=a, velocity=b)) for t, k, a, b in pedalled),
                                 key=lambda e: e.t)))
    parts = recording_to_parts(rec, SR, tail_s=0.5, soundfont=fake_soundfont(tmp_path, monkeypatch))
    assert parts[0, int(0.99 * SR)] > 0  # held by the pedal to the file's end
    assert not parts[0, SR + 1:].any()  # and let go there


@pytest.mark.parametrize("tail", ["0", "0.03"])
def test_a_wav_whose_tail_is_shorter_than_the_release_fades_out_not_cut(tmp_path, tail):
    """With a --tail shorter than the notes' release (or a SoundFont's release longer than
    the tail) the WAV ended on whatever sample the sound was at, full level with --tail 0: a
    click as the file ends. The last 10 ms fade to silence."""
    from improv.cli import main

    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([mido.Message("note_on", note=57, velocity=110),
                                      mido.Message("note_off", note=57, velocity=0, time=960)]))
    mid.save(str(tmp_path / "held.mid"))
    assert main(["render", str(tmp_path / "held.mid"), "-o", str(tmp_path / "held.wav"), "--tail", tail]) == 0
    audio, _ = wav_to_array(tmp_path / "held.wav")  # the player's organ: 70 ms of release
    assert len(audio) == round((1.0 + float(tail)) * SR)
    steady = np.abs(np.diff(audio[SR // 2:int(0.9 * SR)], axis=0)).max()
    assert np.abs(audio[-1]).max() <= 1 / 32767  # ends in silence
    assert np.abs(np.diff(audio[-SR // 50:], axis=0)).max() <= 1.5 * steady  # faded, not stepped down


def test_a_soundfont_plays_the_bass_on_the_program_the_band_sends(tmp_path, monkeypatch):
    """The live band sends `band.bass_program` on its bass channel to a MIDI output; with
    --soundfont the built-in synth played the bass on GM acoustic bass whatever it said."""
    import sys

    from improv.core.audio.soundfont import BASS_CHANNEL, BASS_PART, BASS_PROGRAM, load_soundfont

    chosen = []

    class Recording(FakeTinySoundFont.Synth):
        def program_select(self, ch, sfid, bank, program, is_drums=False) -> None:
            chosen.append((ch, program))

    class Module(FakeTinySoundFont):
        Synth = Recording

    monkeypatch.setitem(sys.modules, "tinysoundfont", Module)
    (tmp_path / "fake.sf2").write_bytes(b"RIFF")
    load_soundfont(tmp_path / "fake.sf2", SR).message(BASS_PART, 0x90, 40, 90)  # (a channel's set when first heard)
    assert (BASS_CHANNEL, BASS_PROGRAM) in chosen
    chosen.clear()
    load_soundfont(tmp_path / "fake.sf2", SR, bass_program=35).message(BASS_PART, 0x90, 40, 90)  # a fretless bass
    assert (BASS_CHANNEL, 35) in chosen and (BASS_CHANNEL, BASS_PROGRAM) not in chosen


def test_a_soundfont_render_plays_each_channel_on_the_programs_the_file_sets(tmp_path, monkeypatch):
    """`improv render --soundfont` ignored a file's program changes: a session's comp and bass
    tracks open on the programs the band sent (`band.comp_program`, `bass_program`), and
    they played the partner's electric piano and GM acoustic bass whatever they were. Each
    channel now plays its own program, changed where the file changes it (the stems too:
    each starts from the synth's reset), and the click on the drum kit."""
    from tests.test_soundfont import KIT, gm_font, level

    from improv.core.audio.render import iter_parts
    from improv.core.audio.soundfont import load_soundfont
    from improv.core.formats.midifile import load_recording

    script = [(0.0, "comp", "program_change", 2, 26, 0), (0.0, "bass", "program_change", 3, 35, 0),
              (0.0, "comp", "note_on", 2, 60, 70), (0.4, "comp", "note_off", 2, 60, 0),
              (0.5, "bass", "note_on", 3, 40, 90), (0.9, "bass", "note_off", 3, 40, 0),
              (1.0, "click", "note_on", 9, 76, 100), (1.1, "click", "note_off", 9, 76, 0),
              (1.5, "partner", "note_on", 1, 64, 90), (1.9, "partner", "note_off", 1, 64, 0),
              (2.0, "partner", "program_change", 1, 11, 0),  # the partner changes to vibraphone
              (2.5, "partner", "note_on", 1, 64, 90), (2.9, "partner", "note_off", 1, 64, 0),
              (3.0, "player", "note_on", 0, 60, 90), (3.4, "player", "note_off", 0, 60, 0)]
    events = tuple(TimedMessage(t, part, mido.Message(kind, channel=ch, program=a) if kind == "program_change"
                                else mido.Message(kind, channel=ch, note=a, velocity=v))
                   for t, part, kind, ch, a, v in script)
    rec = load_recording(save_recording(Recording(events), tmp_path / "session.mid"))  # (as a session is read back)
    sf = load_soundfont(gm_font(tmp_path, monkeypatch), SR)
    parts = recording_to_parts(rec, SR, tail_s=0.5, soundfont=sf)
    at = {t: tuple(parts[:, int(t * SR)]) for t in (0.2, 0.7, 1.05, 1.7, 2.7, 3.2)}
    assert at[0.2] == pytest.approx((0.0, level(26)))  # the comp on its program 27, jazz guitar
    assert at[0.7] == pytest.approx((level(35), 0.0))  # the bass on 36, fretless
    assert at[1.05] == pytest.approx((0.0, KIT))  # the click's wood block on the drum kit
    assert at[1.7] == pytest.approx((0.0, level(4)))  # the partner on its electric piano...
    assert at[2.7] == pytest.approx((0.0, level(11)))  # ...and on vibraphone after its program change
    assert at[3.2] == pytest.approx((level(0), 0.0))  # the player on acoustic piano
    stem = np.concatenate([b.copy() for b in iter_parts(rec, SR, tail_s=0.5, soundfont=sf, parts=("comp",))], axis=1)
    assert stem[1, int(0.2 * SR)] == pytest.approx(level(26)) and not stem[:, int(0.5 * SR):].any()

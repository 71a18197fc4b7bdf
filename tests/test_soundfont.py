"""The SoundFont synth as a General MIDI module: each channel on its own program, the live
band's comp on `band.comp_program`, its click on the drum kit, program changes followed."""

import sys
import time

import mido
import numpy as np
import pytest

from improv.config import Config, override

SR = 48000
KIT = 0.5  # what a note on the drum kit sounds at in the fake below


def level(program: int) -> float:
    """What a note of a melodic `program` (0-based) sounds at in the fake below."""
    return (program + 1) / 1000


class FakeGMFont:
    """A stand-in for the tinysoundfont module that tells what each note plays: a channel is
    on the program last selected (0 before any), a drum kit when selected with `is_drums`,
    and each note sounds, from its note-on to its note-off, at `level(program)` (`KIT` on a
    kit), the program it was struck with (a program change does not change a sounding
    note). Like tinysoundfont it does nothing with the sustain pedal."""

    presets = range(128)  # the font's programs in bank 0 (and kits in bank 128)

    class Synth:
        def __init__(self, samplerate: int) -> None:
            self.programs: dict[int, float] = {}  # channel -> the level its notes sound at
            self.notes: list[tuple[int, int, float]] = []  # (channel, key, level), oldest first

        def sfload(self, path: str) -> int:
            return 0

        def sfpreset_name(self, sfid, bank, program):
            return f"{bank}:{program}" if bank in (0, 128) and program in FakeGMFont.presets else None

        def program_select(self, ch, sfid, bank, program, is_drums=False) -> None:
            if self.sfpreset_name(sfid, 128 if is_drums else bank, program) is None:
                raise RuntimeError("Error in channel_set_preset_number")
            self.programs[ch] = KIT if is_drums else level(program)

        def noteon(self, ch, key, vel) -> None:
            self.notes.append((ch, key, self.programs.get(ch, level(0))))

        def noteoff(self, ch, key) -> None:
            for n in self.notes:
                if n[:2] == (ch, key):
                    self.notes.remove(n)
                    return

        def notes_off(self, ch) -> None:
            self.notes = [n for n in self.notes if n[0] != ch]

        def sounds_off(self, ch=None) -> None:
            self.notes = [n for n in self.notes if ch is not None and n[0] != ch]

        def control_change(self, ch, control, value) -> None:
            pass

        def generate(self, frames, buffer):
            out = np.frombuffer(buffer, np.float32)
            out[:2 * frames] = sum(n[2] for n in self.notes)
            return buffer


def gm_font(tmp_path, monkeypatch):
    """A .sf2 path that loads as `FakeGMFont` (the tinysoundfont module replaced)."""
    monkeypatch.setitem(sys.modules, "tinysoundfont", FakeGMFont)
    path = tmp_path / "gm.sf2"
    path.write_bytes(b"RIFF")
    return path


def heard(sink, msg) -> tuple[float, float]:
    """Send one note-on through `sink` and what each row of its SoundFont then sounds at,
    its note let go after."""
    sink.send(msg, at=0.0)
    sink.engine.process(np.zeros((64, 2), np.float32), 64, 1.0)
    rows = np.zeros((2, 64), np.float32)
    sink.engine.soundfont.render(64, rows)
    sink.send(mido.Message("note_off", channel=msg.channel, note=msg.note), at=0.0)
    sink.engine.process(np.zeros((64, 2), np.float32), 64, 1.0)
    return float(rows[0, 0]), float(rows[1, 0])


def soundfont_sink(cfg, tmp_path, monkeypatch):
    from tests.test_audio import FakeSounddevice

    from improv.live.audio import SynthSink

    monkeypatch.setitem(sys.modules, "sounddevice", FakeSounddevice())
    return SynthSink(cfg, soundfont=str(gm_font(tmp_path, monkeypatch)), say=lambda line: None)


def test_with_a_soundfont_the_comp_plays_its_program_and_the_click_the_drum_kit(tmp_path, monkeypatch):
    """The comp shared the partner's channel of the SoundFont synth: it played the partner's
    electric piano whatever `[band] comp_program` said, and the click's wood blocks (keys 76
    and 77 on channel 10) were two high electric piano notes. Each now plays on its own
    channel: the comp its program (27, jazz guitar, here), the click the drum kit."""
    cfg = override(Config(), "band", comp=True, bass=True, click=True, comp_program=27, bass_program=36)
    sink = soundfont_sink(cfg, tmp_path, monkeypatch)
    b, m = cfg.band, cfg.midi
    on = {name: mido.Message("note_on", channel=ch - 1, note=note, velocity=90) for name, ch, note in (
        ("player", m.player_channel, 60), ("partner", m.partner_channel, 64), ("comp", b.comp_channel, 60),
        ("bass", b.bass_channel, 40), ("click", b.click_channel, 76))}
    assert heard(sink, on["player"]) == pytest.approx((level(0), 0.0))  # acoustic piano
    assert heard(sink, on["partner"]) == pytest.approx((0.0, level(4)))  # electric piano 1
    assert heard(sink, on["comp"]) == pytest.approx((0.0, level(26)))  # comp_program 27: jazz guitar
    assert heard(sink, on["click"]) == pytest.approx((0.0, KIT))  # the drum kit's wood block
    assert heard(sink, on["bass"]) == pytest.approx((level(35), 0.0))  # bass_program 36: fretless
    sink.close(tail_s=0.0)


def test_a_soundfont_follows_the_program_changes_it_is_sent_on_their_channel(tmp_path, monkeypatch):
    """A program change (the band's, as it starts or after a panic, or the keyboard's own)
    sets its channel's sound, as on a General MIDI module; the built-in synth ignored them and
    the SoundFont did too. Another channel keeps its program; a drum channel's picks a kit."""
    sink = soundfont_sink(Config(), tmp_path, monkeypatch)
    sink.send(mido.Message("program_change", channel=1, program=11), at=0.0)  # the partner's: vibraphone
    sink.send(mido.Message("program_change", channel=9, program=25), at=0.0)  # on channel 10: a kit
    assert heard(sink, mido.Message("note_on", channel=1, note=64, velocity=90)) == pytest.approx((0.0, level(11)))
    assert heard(sink, mido.Message("note_on", channel=2, note=64, velocity=90)) == pytest.approx((0.0, level(4)))
    assert heard(sink, mido.Message("note_on", channel=9, note=38, velocity=90)) == pytest.approx((0.0, KIT))
    sink.close(tail_s=0.0)


def test_a_panic_lets_go_of_every_channel_of_a_soundfont(tmp_path, monkeypatch):
    """The panic let go of each part's one channel: a comp or click note, on a channel of its
    own, rang on after it (as would a note the pedal holds on the comp's channel)."""
    sink = soundfont_sink(override(Config(), "band", comp=True, click=True), tmp_path, monkeypatch)
    b = Config().band
    sink.send(mido.Message("control_change", channel=b.comp_channel - 1, control=64, value=127), at=0.0)
    for ch, note in ((b.comp_channel, 60), (b.click_channel, 76), (2, 67), (1, 48)):
        sink.send(mido.Message("note_on", channel=ch - 1, note=note, velocity=90), at=0.0)
    sink.send(mido.Message("note_off", channel=b.comp_channel - 1, note=60), at=0.0)  # (the pedal holds it)
    sink.engine.process(np.zeros((64, 2), np.float32), 64, 1.0)
    rows = np.zeros((2, 64), np.float32)
    sink.engine.soundfont.render(64, rows)
    assert rows[:, 0] == pytest.approx((level(0), level(4) * 2 + KIT))
    sink.panic()
    sink.engine.process(np.zeros((64, 2), np.float32), 64, time.perf_counter() + 1.0)
    sink.engine.soundfont.render(64, rows)
    assert not rows.any()
    sink.close(tail_s=0.0)


def test_a_channel_given_no_program_plays_its_parts_and_a_bad_one_is_refused(tmp_path, monkeypatch):
    from improv.core.audio.soundfont import DRUM_KIT, load_soundfont

    path = gm_font(tmp_path, monkeypatch)
    sf = load_soundfont(path, SR, channel_programs={9: 0})  # channel 10 named a piano: no kit there
    sf.message(1, 0x90, 76, 90, 9)
    sf.message(2, 0x90, 40, 90, 5)  # the bass, heard first on channel 6
    sf.message(0, 0x90, 60, 90, 6)  # the player on channel 7
    rows = np.zeros((2, 8), np.float32)
    sf.render(8, rows)
    assert rows[:, 0] == pytest.approx((level(32) + level(0), level(0)))
    with pytest.raises(ValueError, match="channel 0-15"):
        load_soundfont(path, SR, channel_programs={16: DRUM_KIT})


def test_a_font_without_a_drum_kit_plays_the_click_on_its_first_program(tmp_path, monkeypatch):
    """A font of a few instruments and no kit: the drum channel's program change (or its
    kit) could not be selected, and the render ended in a RuntimeError traceback."""
    from improv.core.audio.soundfont import load_soundfont

    class NoKit(FakeGMFont.Synth):
        def program_select(self, ch, sfid, bank, program, is_drums=False) -> None:
            if is_drums:
                raise RuntimeError("Error in channel_set_preset_number")
            super().program_select(ch, sfid, bank, program)

    monkeypatch.setattr(FakeGMFont, "Synth", NoKit)
    monkeypatch.setattr(FakeGMFont, "presets", (4, 32))
    sf = load_soundfont(gm_font(tmp_path, monkeypatch), SR)
    sf.message(1, 0xC0, 25, 0, 9)
    sf.message(1, 0x90, 76, 100, 9)
    rows = np.zeros((2, 8), np.float32)
    sf.render(8, rows)
    assert rows[:, 0] == pytest.approx((0.0, level(4)))

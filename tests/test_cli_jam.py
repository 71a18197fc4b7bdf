"""`improv jam`, `ports` and `panic` from the command line: one-line errors, exit codes,
and (over a real JACK server, skipped without one) a short jam and a panic."""

import time

import mido
import pytest

from improv.cli import main
from improv.commands.demo import count_calls, load_calls, DEMO_CALLS
from improv.live.midiout import panic_messages

from test_ports import jack_running


def error_lines(capsys):
    err = capsys.readouterr().err
    return [line for line in err.splitlines() if line.strip() and not line.startswith("ALSA lib")]


def test_bad_port_exits_2_with_one_line_listing_ports(capsys):
    api = "jack" if jack_running() else ""
    rc = main(["jam", "--in", "no such keyboard", "--no-record", "--duration", "1"]
              + (["--midi-api", api] if api else []))
    assert rc == 2
    lines = error_lines(capsys)
    assert len(lines) == 1
    assert lines[0].startswith("improv jam: ")
    # either the port is named with the list of inputs, or no MIDI backend opens at all (a
    # container with no ALSA sequencer and no JACK server: the README's test machine)
    assert ("'no such keyboard' not found; MIDI inputs:" in lines[0] or "cannot open MIDI input" in lines[0]
            or "no MIDI system to open an input on" in lines[0])


def test_unknown_config_key_exits_2_naming_file_and_key(tmp_path, capsys):
    cfg = tmp_path / "mine.toml"
    cfg.write_text("[midi]\nthrough = false\n")
    assert main(["jam", "--config", str(cfg), "--duration", "1"]) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and "mine.toml" in lines[0] and "through" in lines[0]


def test_bad_flag_value_exits_2(capsys):
    assert main(["jam", "--gap", "-1", "--duration", "1", "--no-record"]) == 2
    assert "gap_beats" in error_lines(capsys)[-1]
    assert main(["jam", "--tune", "no-such-tune", "--duration", "1"]) == 2
    assert "no tune named" in error_lines(capsys)[-1]


def test_bad_midi_api_env_exits_2(monkeypatch, capsys):
    monkeypatch.setenv("IMPROV_MIDI_API", "beos")
    assert main(["ports"]) == 2
    assert "IMPROV_MIDI_API" in error_lines(capsys)[-1]


def test_panic_messages_cover_every_channel_and_pitch():
    # Catches the silencing controls sent in another order (sets hid it): on each channel the
    # sustain pedal goes up first (under a held pedal All Notes Off leaves notes sounding),
    # then All Notes Off (123), All Sound Off (120), and only then the 128 note-offs.
    msgs = [mido.Message.from_bytes(data) for data in panic_messages()]
    offs = {(m.channel, m.note) for m in msgs if m.type == "note_off"}
    ccs = {(m.channel, m.control) for m in msgs if m.type == "control_change"}
    assert offs == {(ch, p) for ch in range(16) for p in range(128)}
    assert ccs == {(ch, cc) for ch in range(16) for cc in (64, 120, 121, 123)}
    assert all(m.value == 0 for m in msgs if m.type == "control_change")
    # then the controllers reset and the pitch bend centred: a player's bend left the synth detuned
    assert {(m.channel, m.pitch) for m in msgs if m.type == "pitchwheel"} == {(ch, 0) for ch in range(16)}
    got = [(m.channel, m.type, m.control if m.type == "control_change" else getattr(m, "note", None)) for m in msgs]
    assert got == [(ch, kind, x) for ch in range(16)
                   for kind, xs in (("control_change", (64, 123, 120, 121)), ("pitchwheel", (None,)),
                                    ("note_off", range(128))) for x in xs]


def test_demo_script_has_calls_separated_by_gaps():
    events = load_calls(DEMO_CALLS)
    assert count_calls(events, gap_beats=1.0) == 5
    # the last call opens on a long, loud E (the major 7th over the F7 it lands on)
    last_on = [(b, d) for b, d in events if d[0] & 0xF0 == 0x90 and d[2] > 0][-4]
    assert last_on[1][1] == 76 and last_on[1][2] >= 110
    assert events[-1][0] * 0.5 < 35  # at 120 bpm the script stays well under 40 s


@pytest.mark.jack
def test_ports_panic_and_a_short_jam_over_jack(capsys):
    if not jack_running():
        pytest.skip("no JACK server running (start one: jackd -S --no-realtime -d dummy -r 48000 -p 128)")
    import rtmidi

    probe = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, "panicprobe")
    got = []
    probe.set_callback(lambda ev, _d: got.append(ev[0]))
    probe.open_virtual_port("catch panic")
    try:
        assert main(["ports", "--midi-api", "jack"]) == 0
        assert "catch panic" in capsys.readouterr().out
        assert main(["panic", "--midi-api", "jack", "--out", "catch panic"]) == 0
        deadline = time.monotonic() + 5
        while len(got) < len(panic_messages()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(got) >= len(panic_messages())
    finally:
        probe.delete()
    assert main(["jam", "--midi-api", "jack", "--virtual-in", "cli test in", "--virtual-out", "cli test out",
                 "--duration", "0.5", "--no-record", "--seed", "1"]) == 0
    assert "session ended (duration)" in capsys.readouterr().err


def test_the_api_example_runs():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, str(root / "examples" / "answer_a_phrase.py")], capture_output=True,
                         text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "answer: starts at beat 4" in out.stdout and "beat  4.00" in out.stdout  # on the chart's beats


def test_a_clock_port_without_the_external_clock_is_said(tmp_path, capsys):
    """`--clock-in foo` on improv's own clock was silently ignored (first-hour test)."""
    from improv.cli import build_parser
    from improv.commands.jam import checked_settings

    parse = build_parser("jam").parse_args
    checked_settings(parse(["jam", "--clock-in", "foo", "--record", str(tmp_path)]))
    assert "--clock-in is not used on improv's own clock: add --clock external" in capsys.readouterr().err
    checked_settings(parse(["jam", "--clock", "external", "--clock-in", "foo", "--record", str(tmp_path)]))
    assert "not used" not in capsys.readouterr().err


def test_flags_trading_does_not_use_are_said_and_free_with_trade_bars_is_refused(tmp_path, capsys):
    """`--mode trade --bars 2` traded fours without a word, and `--mode free --trade-bars 2`
    traded twos."""
    from improv.cli import build_parser
    from improv.commands.jam import checked_settings
    from improv.errors import ConfigError

    parse = build_parser("jam").parse_args
    cfg, _ = checked_settings(parse(["jam", "--tune", "blues-f", "--mode", "trade", "--bars", "2", "--gap", "2",
                                     "--record", str(tmp_path)]))
    err = capsys.readouterr().err
    assert cfg.band.trade_bars == 4 and "--bars and --gap are not used while trading" in err, err
    checked_settings(parse(["jam", "--tune", "blues-f", "--bars", "2", "--record", str(tmp_path)]))
    assert "not used" not in capsys.readouterr().err  # a free jam uses them
    with pytest.raises(ConfigError, match="--mode free and --trade-bars 2"):
        checked_settings(parse(["jam", "--tune", "blues-f", "--mode", "free", "--trade-bars", "2"]))


def test_first_hour_messages_name_the_flag_and_say_how_to_fix_it(tmp_path, capsys):
    """From a newcomer following the README: an empty --virtual-in was reported as
    "--midi: virtual_in", a missing tune file said only "not found", and a refused flag came
    after a line about the chart (respond) or the demo's banner."""
    assert main(["jam", "--tune", str(tmp_path / "nosuch.toml"), "--duration", "1"]) == 2
    line = error_lines(capsys)[-1]
    assert "nosuch.toml not found" in line and "improv tunes" in line
    call = DEMO_CALLS
    assert main(["respond", str(call), "-o", str(tmp_path / "a.mid"), "--model", str(call)]) != 0
    got = capsys.readouterr()
    assert "no chart given" not in got.out + got.err


def test_a_switch_a_config_file_turns_on_is_turned_off_by_its_no_flag(tmp_path):
    """A preset with comping and bass (configs/ballad.toml), thru off or the stage view on
    could not be undone for one session: there was no --no-comp, --no-bass, --no-click,
    --no-send-clock, --no-view, --thru or --follow, though the README says flags override the
    file."""
    from improv.cli import build_parser
    from improv.commands.jam import jam_settings

    preset = tmp_path / "preset.toml"
    preset.write_text("[midi]\nthru = false\n[timing]\nfollow = false\n[display]\nview = true\n"
                      "[band]\ncomp = true\nbass = true\nclick = true\nsend_clock = true\n")
    parse = build_parser("jam").parse_args
    cfg = jam_settings(parse(["jam", "--config", str(preset)]))  # the file's, with no flag
    assert (cfg.band.comp, cfg.band.bass, cfg.band.click, cfg.band.send_clock) == (True, True, True, True)
    assert (cfg.midi.thru, cfg.timing.follow, cfg.display.view) == (False, False, True)
    cfg = jam_settings(parse(["jam", "--config", str(preset), "--no-comp", "--no-bass", "--no-click",
                              "--no-send-clock", "--no-view", "--thru", "--follow"]))
    assert (cfg.band.comp, cfg.band.bass, cfg.band.click, cfg.band.send_clock) == (False, False, False, False)
    assert (cfg.midi.thru, cfg.timing.follow, cfg.display.view) == (True, True, False)
    # the file's send_clock undone lets --clock external follow a DAW (it was refused as a clash)
    assert jam_settings(parse(["jam", "--config", str(preset), "--no-send-clock", "--clock", "external"])) \
        .band.clock == "external"
    cfg = jam_settings(parse(["jam", "--comp", "--no-thru", "--no-follow", "--view"]))  # the positive forms as before
    assert cfg.band.comp and not cfg.midi.thru and not cfg.timing.follow and cfg.display.view


@pytest.mark.parametrize("command", ["jam", "demo", "respond"])
def test_a_bad_chord_symbol_names_chords_the_symbol_and_a_good_chart(command, tmp_path, capsys):
    """`--chords "Dm7 Hm7 | Cmaj7"` said only "bar 1: cannot read chord symbol 'Hm7': ...",
    not which input it came from (a config file, a tune, the call file's chords?)."""
    argv = [command, "--chords", "Dm7 Hm7 | Cmaj7"]
    argv += [str(DEMO_CALLS), "-o", str(tmp_path / "a.mid")] if command == "respond" else \
        ["--no-record", "--duration", "1"]
    assert main(argv) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"improv {command}: --chords: ") and "'Hm7'" in lines[0], lines[0]
    assert 'e.g. --chords "Dm7 G7 | Cmaj7"' in lines[0], lines[0]


def test_no_chart_undoes_a_config_files_tune_for_one_session(capsys):
    """Both shipped presets name a tune (configs/ballad.toml: ballad-eb): with one, a jam over
    the harmony heard in the player's own playing could not be asked for (--tune "" and
    --chords "" are refused as empty)."""
    from pathlib import Path

    from improv.cli import build_parser
    from improv.commands.common import chart_from_config
    from improv.commands.jam import jam_settings

    ballad = str(Path(__file__).resolve().parent.parent / "configs" / "ballad.toml")
    parse = build_parser("jam").parse_args
    assert chart_from_config(jam_settings(parse(["jam", "--config", ballad]))).title
    cfg = jam_settings(parse(["jam", "--config", ballad, "--no-chart"]))
    assert chart_from_config(cfg) is None and cfg.timing.tempo == 66.0 and cfg.band.comp  # (the rest of the preset)
    with pytest.raises(SystemExit):
        parse(["jam", "--no-chart", "--tune", "blues-f"])
    assert "not allowed with" in capsys.readouterr().err


def test_trading_with_no_chart_says_where_it_was_asked_and_how_to_jam_free(tmp_path, capsys):
    """A config that trades (configs/uptempo.toml) with no chart said only "trading follows a
    tune's form: give --tune NAME or --chords", not that the file asked for trading, nor how
    to play without (--mode free); with --no-chart it asked for the chart the player had
    just turned off."""
    from pathlib import Path

    uptempo = str(Path(__file__).resolve().parent.parent / "configs" / "uptempo.toml")
    assert main(["jam", "--config", uptempo, "--no-chart", "--no-record", "--duration", "1"]) == 2
    line = error_lines(capsys)[-1]
    assert "[band] trade_bars = 4 in the config file" in line and "--mode free" in line, line
    assert main(["jam", "--mode", "trade", "--no-record", "--duration", "1"]) == 2
    assert "trading (--mode trade) follows a tune's form" in error_lines(capsys)[-1]


def test_a_config_files_port_and_soundfont_are_undone_for_one_session(tmp_path, capsys):
    """A config naming a MIDI output (a hardware synth left at home) or a SoundFont could
    not be played without for one session: `--out ""` and `--soundfont ""` are refused as
    forgotten values, and nothing else undid them. `--synth` and `--no-soundfont` do."""
    from improv.cli import build_parser
    from improv.commands.jam import jam_settings

    font = tmp_path / "gm.sf2"
    font.write_bytes(b"RIFF")
    preset = tmp_path / "stage.toml"
    preset.write_text(f'[midi]\noutput = "Nord"\nvirtual_out = "partner"\n[synth]\nsoundfont = "{font}"\n')
    parse = build_parser("jam").parse_args
    cfg = jam_settings(parse(["jam", "--config", str(preset)]))
    assert (cfg.midi.output, cfg.midi.virtual_out, cfg.synth.soundfont) == ("Nord", "partner", str(font))
    cfg = jam_settings(parse(["jam", "--config", str(preset), "--synth", "--no-soundfont"]))
    assert (cfg.midi.output, cfg.midi.virtual_out, cfg.synth.soundfont) == ("", "", "")
    assert cfg.synth == type(cfg.synth)(soundfont="")  # (the rest of the file kept: it set nothing else)
    for flag in ("--out", "--virtual-out"):  # two places for the partner's notes: one is refused
        assert main(["jam", "--synth", flag, "x", "--no-record", "--duration", "1"]) == 2
        line = error_lines(capsys)[-1]
        assert line.startswith(f"improv jam: --synth plays the partner on the built-in synth and {flag} x"), line
    with pytest.raises(SystemExit):
        parse(["jam", "--soundfont", str(font), "--no-soundfont"])
    assert "not allowed with" in capsys.readouterr().err
    # both are in --help, and a file's port that is not there says how to play without it
    with pytest.raises(SystemExit):
        main(["jam", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "--synth the partner on the built-in synth" in shown and "--no-soundfont the built-in voices" in shown
    preset.write_text('[midi]\noutput = "no such port here"\n')
    assert main(["jam", "--config", str(preset), "--no-record", "--duration", "1"]) == 2
    line = error_lines(capsys)[-1]
    # (with no MIDI system running, as on a machine with no JACK server, the port cannot be looked for)
    assert ("'no such port here' not found" in line or "no MIDI system" in line) \
        and "--synth plays the built-in synth instead" in line, line


def test_render_and_play_leave_a_config_files_soundfont_with_no_soundfont(tmp_path, capsys, monkeypatch):
    """`improv render` and `improv play` read [synth] soundfont from --config with no way
    to undo it (a render with the built-in voices needed another config file)."""
    from improv.core.formats.midifile import save_recording
    from test_render import known_phrase

    font = tmp_path / "broken.sf2"
    font.write_bytes(b"RIFF")  # (no SoundFont that loads: without tinysoundfont, or as the file it is)
    preset = tmp_path / "fonts.toml"
    preset.write_text(f'[synth]\nsoundfont = "{font}"\n')
    mid = save_recording(known_phrase(), tmp_path / "s.mid")
    assert main(["render", str(mid), "-o", str(tmp_path / "a.wav"), "--config", str(preset)]) == 2
    assert not (tmp_path / "a.wav").exists()
    assert main(["render", str(mid), "-o", str(tmp_path / "a.wav"), "--config", str(preset), "--no-soundfont"]) == 0
    assert (tmp_path / "a.wav").stat().st_size > 1000
    import improv.live.audio

    played = []

    class Synth:  # (the built-in synth, as `play` opens it, with no sound device needed)
        device_name = "test"

        def __init__(self, cfg, soundfont=None):
            played.append(soundfont if soundfont is not None else cfg.synth.soundfont)  # (what SynthSink loads)

        def send(self, msg):
            pass

        def close(self):
            pass

    monkeypatch.setattr(improv.live.audio, "SynthSink", Synth)
    for extra in ([], ["--no-soundfont"]):
        assert main(["play", str(mid), "--config", str(preset), "--from", "2.4", "--quiet", *extra]) == 0
    assert played == [str(font), ""]


@pytest.mark.parametrize("command", ["jam", "demo"])
def test_a_soundfont_without_its_package_is_refused_before_a_port_opens(tmp_path, monkeypatch, capsys, command):
    """`--soundfont X` with no tinysoundfont installed was refused only after the MIDI input
    (the jam) or the partner (the demo) had opened: now first, in one line with the fix."""
    import sys

    import improv.commands.demo as demo
    import improv.live.ports as ports
    from improv.errors import PortError

    font = tmp_path / "gm.sf2"
    font.write_bytes(b"RIFF")
    monkeypatch.setitem(sys.modules, "tinysoundfont", None)  # (import raises ImportError, installed or not)
    opened = []

    def opening(*a, **k):
        opened.append(a)
        raise PortError("a port was opened")

    monkeypatch.setattr(ports, "open_input", opening)
    monkeypatch.setattr(ports, "check_output", opening)
    monkeypatch.setattr(demo, "play_session", opening)
    assert main([command, "--soundfont", str(font), "--no-record", "--duration", "1"]) == 2
    assert not opened
    assert error_lines(capsys) == [f"improv {command}: --soundfont needs the tinysoundfont package: pip install "
                                   "--no-deps tinysoundfont (improv uses its synth only, not the pyaudio it asks for)"]
    preset = tmp_path / "sf.toml"
    preset.write_text(f'[synth]\nsoundfont = "{font}"\n')
    assert main([command, "--config", str(preset), "--no-record", "--duration", "1"]) == 2
    assert not opened
    (line,) = error_lines(capsys)
    assert line.startswith(f"improv {command}: [synth] soundfont = '{font}' in the config file needs the "
                           "tinysoundfont package: pip install --no-deps tinysoundfont") \
        and line.endswith("or --no-soundfont for the built-in voices"), line
    # a partner on a MIDI port plays no SoundFont: nothing to install for it
    monkeypatch.setattr(ports, "check_output", lambda api, name: None)
    if command == "jam":
        assert main([command, "--config", str(preset), "--out", "Nord", "--no-record", "--duration", "1"]) == 2
        assert opened and error_lines(capsys) == ["improv jam: a port was opened"]  # (got as far as the input)

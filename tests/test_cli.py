"""The `improv` command itself: lazy sub-parsers, a closed pipe, and the torch-only commands
on an install without torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from improv.cli import COMMANDS, EXIT_BROKEN_PIPE, build_parser, command_in, main
from improv.commands.common import TRAIN_INSTALL

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("argv, command", [
    (["--help"], None), ([], None), (["tunes"], "tunes"), (["jam", "--in", "1"], "jam"),
    (["--version"], None), (["-h", "respond"], "respond"),
])
def test_command_in(argv, command):
    assert command_in(argv) == command


def test_help_imports_no_command_module():
    """`improv --help` lists every command from its help line alone: it imports none of their
    modules (each would pull in config, charts, mido...), nor numpy."""
    code = ("import sys\nfrom improv.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = sorted(m for m in sys.modules if m.startswith(('improv.commands', 'improv.core', 'numpy', "
            "'mido', 'torch')))\nprint('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout, out.stdout[-500:]
    assert all(name in out.stdout for name in COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_configures_and_prints_its_help(name, capsys):
    with pytest.raises(SystemExit) as e:
        main([name, "--help"])
    assert e.value.code == 0
    assert f"usage: improv {name}" in capsys.readouterr().out


def test_a_command_parses_only_its_own_flags():
    args = build_parser("tunes").parse_args(["tunes", "blues-f"])
    assert args.name == "blues-f" and args._module == COMMANDS["tunes"][0]


def test_a_closed_pipe_ends_quietly():
    """`improv tunes | head -1` once ended in a BrokenPipeError traceback; the reader here
    has gone before improv writes anything, so every write meets the closed pipe."""
    r, w = os.pipe()
    os.close(r)
    try:
        proc = subprocess.run([sys.executable, "-m", "improv", "tunes"], stdout=w, stderr=subprocess.PIPE,
                              text=True, cwd=ROOT, timeout=60)
    finally:
        os.close(w)
    assert proc.stderr == "" and proc.returncode == EXIT_BROKEN_PIPE


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_behind_stdout_is_one_line():
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "improv", "tunes"], stdout=full, stderr=subprocess.PIPE,
                              text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == ("improv tunes: cannot write to standard output (No space left on device); free "
                                   "some space or write elsewhere")


def test_stdout_closed_at_start_is_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "improv", "tunes"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=60,
                          preexec_fn=lambda: os.close(1))
    assert proc.returncode == 0 and proc.stderr == ""


@pytest.mark.parametrize("argv", [
    ["train", "--data", "nowhere"],
    ["eval", "nowhere.tar.gz"],
    ["export", "nowhere.pt"],
])
def test_torch_commands_without_torch_say_how_to_install_it(argv, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)  # as on a lean install: `import torch` fails
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc != 0 and len(err.splitlines()) == 1
    assert "needs PyTorch" in err and TRAIN_INSTALL in err and "Traceback" not in err


def test_ctrl_c_while_a_command_is_being_set_up_is_one_line_not_a_traceback(monkeypatch, capsys):
    import improv.cli as cli

    def interrupted(command):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert main(["jam"]) == 130
    err = capsys.readouterr().err
    assert err == "improv: interrupted\n"


@pytest.mark.parametrize("argv, says", [
    (["respond", "call.mid", "--daring", "1.5"], "improv respond: argument --daring: expected a number from 0 to 1"),
    (["demo", "--preset", "uptempo"], "improv demo: unrecognized arguments: --preset uptempo (see improv demo --help)"),
    (["respond"], "improv respond: the following arguments are required: CALL.mid"),
    # a flag close to one of the command's is named (prefixes are never taken for flags)
    (["jam", "--trade", "4"], "improv jam: unrecognized arguments: --trade 4 (did you mean --trade-bars?) (see"),
    (["jam", "--tempp=120"], "improv jam: unrecognized arguments: --tempp=120 (did you mean --tempo?) (see"),
    # not a hidden old spelling (--mode is --outside's), and each of several unknown flags named
    (["respond", "x.mid", "--mod", "x"], "improv respond: unrecognized arguments: --mod x (did you mean --model?) (see"),
    (["jam", "--xyz", "--tempp", "3"], "improv jam: unrecognized arguments: --xyz --tempp 3 (--tempp: did you mean "
                                       "--tempo?) (see"),
    (["nosuch"], "improv: argument COMMAND: invalid choice: 'nosuch'"),
    # a value that is not a number says what to give, not Python's type name
    (["jam", "--tempo", "fast"], "improv jam: --tempo: expected a number, found 'fast' (see"),
    (["jam", "--bars", "two"], "improv jam: --bars: expected a whole number, found 'two' (see"),
])
def test_a_usage_error_is_one_line_naming_the_command_and_its_help(argv, says, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and err.startswith(says) and len(err.splitlines()) == 1, err
    assert err.endswith("--help)")


def test_ports_lists_no_jams_own_sysex_guard_and_keeps_the_indices(monkeypatch, capsys):
    import improv.live.ports as ports

    monkeypatch.setattr(ports, "list_ports", lambda api: {
        "api": "jack", "system": "JACK", "inputs": ["improv-01:improv sysex guard", "keys:out"],
        "outputs": ["synth:in"], "audio": [], "problems": []})
    assert main(["ports"]) == 0
    out = capsys.readouterr().out
    assert "sysex guard" not in out and "  1: keys:out" in out  # (--in 1 is keys:out, as listed)


def test_ctrl_c_a_command_did_not_handle_is_one_line_naming_it(monkeypatch, capsys):
    import improv.commands.tunes as tunes

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(tunes, "run", interrupted)
    assert main(["tunes"]) == 130
    assert capsys.readouterr().err == "improv tunes: interrupted\n"


def test_ctrl_c_while_the_jam_checks_its_output_port_is_one_line_not_the_port_error(monkeypatch, capsys):
    """A signal as the first MIDI client opens interrupts libjack's read from the server: the
    opening fails, and that failure is the interruption's, not a missing port's. (The check
    used to run before the jam's early signal handlers: JACK's own lines and no improv line.)
    The session ended by the user there exits as it does in the session: 0 (it was 130, and
    143 for SIGTERM)."""
    import os
    import signal

    import improv.live.ports as ports
    from improv.live.ports import PortError

    def interrupted_open(api, name):
        os.kill(os.getpid(), signal.SIGINT)  # (the early handler takes it: remembered, not raised)
        raise PortError("cannot open MIDI output: Cannot open improv client")

    monkeypatch.setattr(ports, "check_output", interrupted_open)
    assert main(["jam", "--out", "FakeSynth", "--no-record", "--duration", "1"]) == 0
    assert capsys.readouterr().err == "improv jam: session ended (interrupted) before it started: nothing played, " \
        "nothing recorded\n"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handlers put back

    def terminated_open(api, name):  # SIGTERM there: its own name, the same status
        os.kill(os.getpid(), signal.SIGTERM)
        raise PortError("cannot open MIDI output: Cannot open improv client")

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(ports, "check_output", terminated_open)
    assert main(["jam", "--out", "FakeSynth", "--no-record", "--duration", "1"]) == 0
    assert capsys.readouterr().err == "improv jam: session ended (SIGTERM) before it started: nothing played, " \
        "nothing recorded\n"
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize("encoding", ["utf-8:strict", "ascii"])
def test_a_file_name_that_is_not_utf8_is_printed_escaped_not_a_traceback(tmp_path, encoding):
    """On a strict UTF-8 (or ASCII) terminal `improv render "odd\\xff.mid"` wrote its .wav,
    then crashed printing the name; `improv plot` crashed drawing it as the title."""
    import os

    name = os.fsdecode(b"odd\xff name.mid")
    (tmp_path / name).write_bytes((ROOT / "examples" / "demo_calls.mid").read_bytes())
    env = {**os.environ, "PYTHONIOENCODING": encoding, "MPLBACKEND": "Agg"}
    for argv in (["render", name], ["plot", name, "-o", "p.png"]):
        proc = subprocess.run([sys.executable, "-m", "improv", *argv], capture_output=True, text=True,
                              errors="replace", cwd=tmp_path, env=env, timeout=120)
        if argv[0] == "plot" and "pip install" in proc.stderr:
            continue  # (the lean install has no matplotlib)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert "\\udcff" in proc.stdout or "p.png" in proc.stdout, proc.stdout
    assert (tmp_path / os.fsdecode(b"odd\xff name.wav")).exists()


def test_panic_with_a_blank_port_name_is_one_line(capsys):
    """`improv panic --out "  "` printed JACK's "port_name is empty" and an RtMidi error
    about a virtual port: a blank name opened one instead of naming the problem."""
    from improv.cli import main

    assert main(["panic", "--out", "  "]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "improv panic: --out is empty: give the stuck synth's MIDI output (a name or an index " \
                          "from improv ports)"


@pytest.mark.parametrize("argv, named", [
    (["jam", "--soundfont", "", "--duration", "0.1"], "--soundfont"), (["jam", "--out=", "--no-record"], "--out"),
    (["panic", "--out", ""], "--out"), (["jam", "--virtual-in", ""], "--virtual-in"), (["recover", ""], "an argument"), (["learn", "--file", "", "tap"], "--file"),
    (["respond", "{demo}", "--explain-json", ""], "--explain-json"), (["jam", "--no-record", ""], "an argument"),
    (["tunes", "--import-wjazzd", "", "--out", "{tmp}"], "--import-wjazzd"), (["render", "", "-o", "{tmp}/a.wav"],
                                                                            "an argument")])
def test_an_empty_value_is_refused_naming_it_not_taken_for_the_default(argv, named, tmp_path, capsys):
    """`--soundfont "$SF"` with $SF unset played the built-in voices without a word,
    `recover ""` looked in the sessions folder, `--explain-json ""` wrote nothing: an empty
    value was read as "not given" wherever a setting's default is empty."""
    demo = Path(__file__).resolve().parents[1] / "improv" / "data" / "demo_calls.mid"
    with pytest.raises(SystemExit) as e:
        main([a.format(demo=demo, tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith(f"improv {argv[0]}: {named} is empty (an unset shell variable?)"), err
    assert len(err.splitlines()) == 1 and not list(tmp_path.iterdir())


def test_tunes_out_without_an_import_is_one_line(capsys):
    from improv.cli import main

    assert main(["tunes", "--out", "tw"]) == 2
    assert "--out is where --import-wjazzd CSV writes tune files" in capsys.readouterr().err


def test_tunes_import_with_a_tune_named_is_refused_not_dropped(tmp_path, capsys):
    """`improv tunes blues-f --import-wjazzd solo_info.csv --out DIR` converted every row
    and said nothing of the name."""
    csv = tmp_path / "solo_info.csv"
    csv.write_text("melid,title\n1,Blues\n")
    assert main(["tunes", "blues-f", "--import-wjazzd", str(csv), "--out", str(tmp_path / "tw")]) == 2
    assert "leave 'blues-f' out" in capsys.readouterr().err and not (tmp_path / "tw").exists()


@pytest.mark.parametrize("command", [["respond", "{long}.mid"], ["render", "{demo}", "-o", "{tmp}/{long}.wav"],
                                     ["plot", "{tmp}/{long}.mid"], ["tunes", "{long}"]])
def test_a_file_name_too_long_is_one_line(tmp_path, capsys, command):
    """A name over 255 bytes: Path.exists() and is_dir() raise ENAMETOOLONG, and nearly
    every command ended in a traceback."""
    demo = Path(__file__).resolve().parents[1] / "improv" / "data" / "demo_calls.mid"
    argv = [a.format(long="b" * 300, tmp=tmp_path, demo=demo) for a in command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "file name too long" in err and len(err.splitlines()) == 1, err


def test_time_sets_the_metre_of_the_chords_and_refuses_what_it_cannot_count(capsys):
    """A waltz given with --chords had no way to be in 3/4 but a [timing] settings file."""
    import argparse

    from improv.commands import jam
    from improv.commands.common import chart_from_config, settings_from_args

    p = argparse.ArgumentParser()
    jam.configure(p)
    cfg = settings_from_args(p.parse_args(["--time", "3/4", "--chords", "Cmaj7 | A7 D7 G7 | Dm7"]))
    assert cfg.timing.beats_per_bar == 3 and chart_from_config(cfg).beats_per_bar == 3
    assert settings_from_args(p.parse_args(["--time", "5"])).timing.beats_per_bar == 5
    for argv, says in ((["jam", "--time", "6/8"], "quarter-note beats"), (["jam", "--time", "waltz"], "such as 3/4"),
                       (["jam", "--time", "3/4", "--tune", "blues-f"], "a tune gives its own metre"),
                       (["jam", "--time", "0/4"], "--time"),
                       (["jam", "--time", "3/4", "--chords", "C D E F | G"], "4 chords for 3 beats")):
        try:
            code = main(argv)
        except SystemExit as e:  # (argparse's own refusal)
            code = e.code
        err = capsys.readouterr().err
        assert code == 2, (argv, err)
        assert says in err and len(err.strip().splitlines()) == 1, (argv, err)


@pytest.mark.parametrize("command", ["jam", "demo", "respond"])
@pytest.mark.parametrize("given, bar", [("2/2", "4/4 (the default)"), ("cut", "4/4 (the default)"),
                                        ("3/2", "6/4")])
def test_cut_time_is_refused_naming_the_bar_in_quarters_and_the_tempo_to_give(command, given, bar, capsys):
    """`--time 2/2` (a bebop head in cut time) was told "give N/4 (a 6/8 tune plays as 3/4)",
    which says nothing of cut time's bar nor of its tempo, counted in half notes: the same bar
    in quarters is named, and how to give the tempo, since improv has no feel in two (its
    count-in, click and comping are in quarters) to play 2/2 as written."""
    argv = [command, "--time", given] + (["x.mid"] if command == "respond" else [])
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"give the same bar as --time {bar} with --tempo in quarter notes" in err, err
    assert "a half note at 150 is --tempo 300" in err and "no feel in two" in err, err


def test_time_with_a_configs_tune_is_refused_not_passed_over(tmp_path, capsys):
    """`--config configs/ballad.toml --time 3/4`: the preset's tune (in 4/4) was played and
    --time passed over without a word, as it is refused with --tune."""
    import argparse

    from improv.commands import jam
    from improv.commands.common import chart_from_config, settings_from_args
    from improv.errors import ConfigError

    cfg_file = tmp_path / "preset.toml"
    cfg_file.write_text('[harmony]\ntune = "blues-f"\n')
    p = argparse.ArgumentParser()
    jam.configure(p)
    with pytest.raises(ConfigError, match="a tune gives its own metre") as e:
        settings_from_args(p.parse_args(["--config", str(cfg_file), "--time", "3/4"]))
    assert "blues-f" in str(e.value) and "--time 3/4" in str(e.value)
    # --chords replaces the config's tune: its chords are read in 3/4
    cfg = settings_from_args(p.parse_args(["--config", str(cfg_file), "--time", "3/4", "--chords", "C | G7"]))
    assert chart_from_config(cfg).beats_per_bar == 3
    assert settings_from_args(p.parse_args(["--config", str(cfg_file)])).harmony.tune == "blues-f"
    assert main(["jam", "--config", str(cfg_file), "--time", "3/4"]) == 2
    err = capsys.readouterr().err
    assert "a tune gives its own metre" in err and len(err.strip().splitlines()) == 1, err


def test_embrace_bench_without_its_data_is_one_line(tmp_path, capsys):
    """The README: without the data, one line says so (it was "reading X ..." and then the error)."""
    missing = tmp_path / "wjazzd-solos.tar.gz"
    assert main(["embrace-bench", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err == f"improv embrace-bench: data {missing} not found: give the wjazzd-solos.tar.gz or its unpacked folder\n"


@pytest.mark.parametrize("command", ["jam", "demo"])
def test_the_tempo_help_gives_the_default_a_tune_brings(command, capsys):
    """`improv jam --help` said `--tempo BPM ... (default 120)`, and `improv jam --tune
    ballad-eb` played at the tune's 66 (`--tune rhythm-changes-bb` at 200)."""
    from improv.commands.common import chart_from_config
    from improv.commands.jam import jam_settings, tempo_for

    args = build_parser(command).parse_args([command, "--tune", "ballad-eb"])
    cfg = jam_settings(args)
    assert tempo_for(cfg, chart_from_config(cfg), args).timing.tempo == 66.0
    with pytest.raises(SystemExit):
        main([command, "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "(default 120)" not in shown and "else the tune's own, else 120" in shown, shown


def test_plot_without_matplotlib_is_one_line_saying_how_to_add_it(tmp_path, monkeypatch, capsys):
    """On the lean install it said "improv plot: improv plot needs matplotlib: ..."."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as on the lean install: `import matplotlib` fails
    assert main(["plot", str(ROOT / "examples" / "demo_calls.mid"), "-o", str(tmp_path / "p.png")]) == 2
    assert capsys.readouterr().err == ("improv plot: drawing needs matplotlib, which is not installed: pip install "
                                       "'improv[plot]' (or pip install matplotlib)\n")
    assert not list(tmp_path.iterdir())


def test_respond_and_plot_say_that_a_file_beside_the_call_is_kept(tmp_path, capsys):
    """The README: without -o, render, plot and respond take X-2 ... beside a file already there
    "and say so"; render said so, respond and plot wrote X-answer-2.mid and X-2.png without a word
    of the file the user may be about to open."""
    call = tmp_path / "call.mid"
    call.write_bytes((ROOT / "examples" / "demo_calls.mid").read_bytes())
    respond = ["respond", str(call), "--tune", "blues-f", "--responder", "markov", "--seed", "1"]
    assert main(respond) == 0 and "kept" not in capsys.readouterr().out
    assert main(respond) == 0
    assert f"{tmp_path / 'call-answer.mid'} is there already and is kept (-o names the file)\n" \
           f"wrote {tmp_path / 'call-answer-2.mid'}" in capsys.readouterr().out
    pytest.importorskip("matplotlib")
    assert main(["plot", str(call)]) == 0 and "kept" not in capsys.readouterr().out
    assert main(["plot", str(call)]) == 0
    assert f"{tmp_path / 'call.png'} is there already and is kept (-o names the file)\nwrote {tmp_path / 'call-2.png'}" \
           in capsys.readouterr().out


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_a_signal_while_the_jam_reads_its_settings_ends_it_before_a_port_opens_status_0(monkeypatch, capsys,
                                                                                        signame):
    """Ctrl-C while the jam read its settings raised there (130, "improv jam: interrupted")
    and SIGTERM ended it as a command that does not handle signals (143): now the session is
    ended as anywhere else (0), and no port is opened."""
    import os
    import signal

    import improv.commands.jam as jam
    import improv.live.ports as ports

    real = jam.checked_settings

    def signalled(args):
        out = real(args)
        os.kill(os.getpid(), getattr(signal, signame))
        return out

    opened = []
    monkeypatch.setattr(jam, "checked_settings", signalled)
    monkeypatch.setattr(ports, "open_input", lambda *a, **k: opened.append(a))
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    assert main(["jam", "--no-record", "--duration", "1"]) == 0 and not opened
    reason = "interrupted" if signame == "SIGINT" else "SIGTERM"
    assert capsys.readouterr().err == f"improv jam: session ended ({reason}) before it started: nothing played, " \
        "nothing recorded\n"
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before  # (put back)


def test_the_live_commands_help_ends_with_the_exit_status_rule(capsys):
    for command in ("jam", "demo"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        assert "Exit status: 0 when the session ends, by itself" in out and "SIGTERM or SIGHUP, at any moment" in out

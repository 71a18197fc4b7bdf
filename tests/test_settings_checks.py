"""Settings refused up front, in one line naming what was wrong: contradicting flags and
keys, channel clashes across sections, misspelt keys, bad charts, and the deprecated
`--mode` spelling of `--outside` (a tester's list; each test fails without its fix)."""

import argparse
import zipfile

import pytest

from improv.cli import build_parser, main
from improv.config import Config, load_config, override
from improv.errors import ChordError, ConfigError, PortError


def write(tmp_path, text, name="c.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(capsys, argv):
    """Runs `improv ARGV`, which must stop with status 2 and one line; returns the line."""
    assert main(argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines()
             if line.strip() and "is deprecated" not in line and not line.startswith("ALSA lib")]
    assert len(lines) == 1, lines
    return lines[0]


def parse(argv):
    return build_parser(argv[0]).parse_args(argv)


# 1. the demo takes the deprecated --mode; no flag is taken for another by its prefix

def test_the_demo_takes_the_deprecated_mode_as_outside(capsys):
    from improv.commands.jam import jam_settings

    args = parse(["demo", "--mode", "guide", "--tune", "blues-f"])
    assert args.model is None and args.outside_old == "guide"
    assert jam_settings(args).embrace.mode == "guide"
    assert "--mode guide is deprecated" in capsys.readouterr().err


def test_a_flag_prefix_is_not_taken_for_another_flag():
    args, extra = build_parser("demo").parse_known_args(["demo", "--cal", "x.mid"])
    assert args.calls is None and extra == ["--cal", "x.mid"]  # not taken for --calls
    with pytest.raises(SystemExit) as e:
        main(["demo", "--mod", "guide"])
    assert e.value.code == 2


# 2. --outside and a deprecated --mode that says otherwise

@pytest.mark.parametrize("command", ["respond", "jam"])
def test_outside_and_a_different_deprecated_mode_are_refused(command):
    from improv.commands.embrace_args import embrace_settings_from_args

    argv = [command] + (["examples/demo_calls.mid"] if command == "respond" else [])
    args = parse(argv + ["--outside", "embrace", "--mode", "guide"])
    with pytest.raises(ConfigError, match="--outside embrace and --mode guide"):
        embrace_settings_from_args(args, Config())
    same = parse(argv + ["--outside", "guide", "--mode", "guide"])
    assert embrace_settings_from_args(same, Config()).mode == "guide"


def test_respond_refuses_outside_against_mode_in_one_line(capsys):
    line = refused(capsys, ["respond", "examples/demo_calls.mid", "--tune", "blues-f", "--seed", "3",
                            "--outside", "embrace", "--mode", "guide"])
    assert line.startswith("improv respond: --outside embrace and --mode guide")


# 3. a tempo set in the config file wins over the tune's, even the default 120

@pytest.mark.parametrize("tempo", [120.0, 100.0])
def test_a_config_tempo_wins_over_the_tunes(tmp_path, tempo):
    from improv.commands.jam import checked_settings, tempo_guess

    path = write(tmp_path, f'[timing]\ntempo = {tempo}\n[harmony]\ntune = "ballad-eb"\n')
    args = parse(["jam", "--config", str(path), "--no-record"])
    cfg, chart = checked_settings(args)
    assert chart.tempo == 66 and cfg.timing.tempo == tempo and tempo_guess(cfg, chart, args) == tempo


def test_the_tunes_tempo_still_applies_when_none_was_set(tmp_path):
    from improv.commands.jam import checked_settings

    path = write(tmp_path, '[harmony]\ntune = "ballad-eb"\n')
    cfg, _ = checked_settings(parse(["jam", "--config", str(path), "--no-record"]))
    assert cfg.timing.tempo == 66.0
    cfg, _ = checked_settings(parse(["jam", "--tune", "ballad-eb", "--tempo", "120", "--no-record"]))
    assert cfg.timing.tempo == 120.0


def test_a_tunes_metre_is_the_one_calls_and_answers_are_counted_in(tmp_path, capsys):
    """A 3/4 tune file: the session counted its bars in 3 but the call's end, `answer_on =
    "bar"` and answer lengths in the settings' 4 (answers "on the bar" at 6:2, 11:3). A
    config's other beats_per_bar is said not to be used."""
    from improv.commands.jam import checked_settings
    from improv.core.listen.segment import Segmenter
    from improv.core.theory.notes import Note, Phrase
    from improv.live.free import segment_settings

    waltz = write(tmp_path, 'title = "Waltz"\nbeats_per_bar = 3\nform = ["A"]\n[sections]\nA = "C | G7 | C | C"\n',
                  "waltz.toml")
    cfg, chart = checked_settings(parse(["jam", "--tune", str(waltz), "--answer-on", "bar", "--no-record"]))
    assert chart.beats_per_bar == cfg.timing.beats_per_bar == 3
    seg = Segmenter(segment_settings(cfg))
    call = Phrase.of([Note(0.0, 60, 2.0), Note(2.0, 62, 2.0)], start=0.0, length=4.0)  # a bar and a beat of 3/4
    start, length = seg.answer_place(call, 4.5)
    assert start % 3 == 0 and length == 6.0  # on a bar of the tune, two of its bars long
    assert "warning" not in capsys.readouterr().err
    path = write(tmp_path, f'[timing]\nbeats_per_bar = 4\n[harmony]\ntune = "{waltz}"\n')
    cfg, _ = checked_settings(parse(["jam", "--config", str(path), "--no-record"]))
    assert cfg.timing.beats_per_bar == 3
    assert "warning: [timing] beats_per_bar = 4 is not used: the tune is in 3/4" in capsys.readouterr().err


# 4. MIDI channels in use clash across sections

@pytest.mark.parametrize("text, keys", [
    ("[band]\ncomp = true\ncomp_channel = 2\n", "midi.partner_channel and band.comp_channel are both 2"),
    ("[midi]\nplayer_channel = 3\n[band]\ncomp = true\n", "midi.player_channel and band.comp_channel are both 3"),
    ("[midi]\npartner_channel = 10\n[band]\nclick = true\n", "midi.partner_channel and band.click_channel"),
    ("[midi]\nplayer_channel = 4\n[band]\ncomp = true\nbass = true\n", "midi.player_channel and band.bass_channel"),
    # trading counts in with the click, on, or off (a held note on channel 10 was struck again by the count-in)
    ("[midi]\nplayer_channel = 10\n[band]\ntrade_bars = 4\n", r"player_channel and band.click_channel are both 10 \(trading"),
    ("[midi]\npartner_channel = 10\n[band]\ntrade_bars = 2\n", "midi.partner_channel and band.click_channel"),
])
def test_channels_clashing_across_sections_are_refused(tmp_path, text, keys):
    with pytest.raises(ConfigError, match=keys):
        load_config(write(tmp_path, text))


def test_a_daws_clock_counts_in_itself_so_trading_on_it_leaves_the_click_channel_free(tmp_path):
    cfg = load_config(write(tmp_path, '[midi]\nplayer_channel = 10\n[band]\ntrade_bars = 4\nclock = "external"\n'))
    assert cfg.midi.player_channel == cfg.band.click_channel == 10


def test_a_channel_clash_made_by_a_flag_names_it(tmp_path, capsys):
    path = write(tmp_path, "[midi]\nplayer_channel = 3\n")
    load_config(path)  # comping off: channel 3 is free
    line = refused(capsys, ["jam", "--config", str(path), "--comp", "--tune", "blues-f", "--no-record"])
    assert "--comp: midi.player_channel and band.comp_channel are both 3" in line


# 5. end_cc on a pedal or on a bound control; a key for a continuous control

def test_end_cc_on_the_sustain_pedal_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="end_cc = 64 is the sustain pedal"):
        load_config(write(tmp_path, "[phrase]\nend_cc = 64\n"))


def test_end_cc_bound_to_a_control_too_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="phrase.end_cc and controls.daring are both CC 20"):
        load_config(write(tmp_path, '[phrase]\nend_cc = 20\n[controls]\ndaring = "cc 20"\n'))
    load_config(write(tmp_path, '[phrase]\nend_cc = 20\n[controls]\ndaring = "cc 21"\n'))


@pytest.mark.parametrize("action", ["daring", "temperature", "answer_length"])
def test_a_key_for_a_continuous_control_is_refused_in_config_and_learn(tmp_path, action):
    from improv.live.controls import write_binding

    with pytest.raises(ConfigError, match=f"controls.{action}: 'note 60' is a key"):
        load_config(write(tmp_path, f'[controls]\n{action} = "note 60"\n'))
    path = tmp_path / "learned.toml"
    with pytest.raises(ConfigError, match="is a key"):
        write_binding(path, action, "note 60")
    assert not path.exists()  # nothing written
    for ok in ("mode", "comp", "tap", "panic"):  # keys still cycle, toggle and trigger
        override(Config(), "controls", **{ok: "note 60"})


# 6. a bar holds no more chords than beats

@pytest.mark.parametrize("chart", ["Dm7 G7 C7 F7 Bb7 | C", "Dm7 / / / / | G7"])
def test_more_chords_than_beats_in_a_bar_is_refused(chart):
    from improv.core.theory.chart import parse_chart

    with pytest.raises(ChordError, match=r"bar 1 has 5 chords for 4 beats: "):
        parse_chart(chart, 4)
    parse_chart("Dm7 G7 C7 F7 | C", 4)
    with pytest.raises(ChordError, match="bar 2 has 4 chords for 3 beats"):
        parse_chart("C | Dm7 G7 C A7", 3)


# 7. a named synth device that cannot be used

def test_a_named_synth_device_that_cannot_be_used_is_refused(monkeypatch):
    import improv.live.audio as audio
    from improv.commands.jam import open_sinks

    def no_device(cfg, *a, **k):
        raise PortError(f"no audio output matches synth.device={cfg.synth.device!r}; outputs are 0: system")

    monkeypatch.setattr(audio, "SynthSink", no_device)
    said = []
    with pytest.raises(PortError, match="synth.device 'nosuchdev' cannot be used: .*improv ports"):
        open_sinks(override(Config(), "synth", device="nosuchdev"), said.append)
    assert open_sinks(Config(), said.append) == [] and said[-1].startswith("no sound")  # unnamed: MIDI-only


def test_the_built_in_synths_lines_go_where_the_jams_do(monkeypatch):
    """The synth says its latency at the start and a stream that ran dry at the close: into
    the jam's display (the stage view's log), not straight onto a terminal the view covers."""
    import improv.live.audio as audio
    from improv.commands.jam import open_sinks

    class Synth:
        def __init__(self, cfg, soundfont=None, say=None):
            (say or audio._stderr_line)("synth: the audio device ran dry 9 times in 900 blocks")

    monkeypatch.setattr(audio, "SynthSink", Synth)
    said = []
    open_sinks(Config(), said.append)
    assert said[0].startswith("synth: the audio device ran dry"), said


# 8. synth latency with the other config values; a missing SoundFont named with its key

def test_a_bad_synth_latency_is_refused_when_the_config_is_read(tmp_path):
    with pytest.raises(ConfigError, match=r'c.toml: synth.latency: expected "low", "high" or seconds'):
        load_config(write(tmp_path, '[synth]\nlatency = "medium"\n'))
    with pytest.raises(ConfigError, match="synth.latency: expected seconds from 0 to 1"):
        load_config(write(tmp_path, "[synth]\nlatency = 3.0\n"))
    assert load_config(write(tmp_path, "[synth]\nlatency = 0.005\n")).synth.latency == 0.005
    with pytest.raises(ConfigError) as e:  # the wrong type, in words (it said "expected str | float")
        load_config(write(tmp_path, "[synth]\nlatency = true\n"))
    assert str(e.value).endswith("synth.latency: expected text in quotes or a number, found True"), str(e.value)


def test_a_missing_soundfont_names_the_file_and_the_key(tmp_path, capsys):
    missing = tmp_path / "none.sf2"
    with pytest.raises(ConfigError, match=r"c.toml: synth.soundfont .*none.sf2: no such SoundFont file"):
        load_config(write(tmp_path, f'[synth]\nsoundfont = "{missing}"\n'))
    line = refused(capsys, ["jam", "--soundfont", str(missing), "--no-record"])
    assert f"--soundfont {missing}: no such SoundFont file" in line
    line = refused(capsys, ["jam", "--soundfont", str(tmp_path), "--no-record"])
    assert f"--soundfont {tmp_path}: is a folder, not a SoundFont file" in line


# 9. markov with a model file in the config

def test_markov_with_a_model_in_the_config_is_refused(tmp_path):
    weights = tmp_path / "x.npz"
    with zipfile.ZipFile(weights, "w") as z:  # (the config reads no further than the header's name)
        z.writestr("__header__.npy", b"")
    with pytest.raises(ConfigError, match='model = .*x.npz.* name = "markov" does not read them'):
        load_config(write(tmp_path, f'[responder]\nname = "markov"\nmodel = "{weights}"\n'))
    cfg = load_config(write(tmp_path, f'[responder]\nmodel = "{weights}"\n'))
    assert override(cfg, "responder", {"name": "--responder"}, name="markov").responder.name == "markov"


# 10. contradicting flags

@pytest.mark.parametrize("flags, words", [
    (["--record", "somewhere", "--no-record"], "--record somewhere and --no-record"),
    (["--clock", "external", "--send-clock"], "--clock external"),
])
def test_contradicting_flags_are_refused(capsys, flags, words):
    line = refused(capsys, ["jam", "--duration", "1"] + flags)
    assert line.startswith("improv jam: ") and words in line


def test_external_clock_and_send_clock_in_a_config_are_refused(tmp_path):
    with pytest.raises(ConfigError, match='clock = "external".*send_clock'):
        load_config(write(tmp_path, '[band]\nclock = "external"\nsend_clock = true\n'))


@pytest.mark.parametrize("text, flags, says", [
    ('[band]\nclock = "external"\n', ["--send-clock"], '--send-clock: clock = "external"'),
    ("[band]\nsend_clock = true\n", ["--clock", "external"], '--clock: clock = "external"'),
    ("[band]\ncomp_channel = 4\n", ["--comp", "--bass"], "--bass: comp_channel and bass_channel are both 4"),
])
def test_a_flag_that_clashes_with_the_config_file_is_named(tmp_path, capsys, text, flags, says):
    """It said "--band: ...", a flag there is not."""
    line = refused(capsys, ["jam", "--no-record", "--config", str(write(tmp_path, text)), *flags])
    assert line.startswith(f"improv jam: {says}"), line


# 11. misspelt keys, sections and strategies

@pytest.mark.parametrize("text, hint", [
    ("[timing]\ntempoo = 120\n", "unknown key 'tempoo', did you mean 'tempo'?"),
    ("[timming]\ntempo = 120\n", "unknown key 'timming', did you mean 'timing'?"),
    ('[embrace]\nstrategies = ["reharmonize"]\n', "unknown strategy 'reharmonize', did you mean 'reharmonise'?"),
    # a key of another section: at the top of the file, or under the wrong heading
    ("tempo = 100\n", "unknown key 'tempo', it goes under [timing]"),
    ("[midi]\ntempo = 100\n", "midi: unknown key 'tempo', it goes under [timing]"),
    ('mode = "guide"\n', "unknown key 'mode', it goes under [embrace] ("),  # ([controls] binds a knob to it)
])
def test_a_misspelt_key_gets_a_suggestion(tmp_path, text, hint):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, text))
    assert hint in str(e.value) and "known:" in str(e.value) and "\n" not in str(e.value)


# 12. the demo's --calls: a user's file that is not MIDI

def test_a_users_calls_file_that_is_not_midi_says_so(capsys):
    from improv.commands.demo import load_calls
    from pathlib import Path

    with pytest.raises(ConfigError) as e:
        load_calls(Path("README.md"))
    assert "README.md is not a readable MIDI file" in str(e.value) and "make_demo_calls" not in str(e.value)
    with pytest.raises(ConfigError, match="no such file"):
        load_calls(Path("no-such-calls.mid"))


def test_the_demo_reads_calls_with_the_checks_every_command_makes(tmp_path):
    # a type 2 file, a tempo of 60 million bpm, only drums, a folder: refused as respond refuses them
    import mido
    from improv.commands.demo import load_calls

    def save(name, type=1, tempo=500000, channel=0):
        mid = mido.MidiFile(type=type, ticks_per_beat=480)
        for _ in range(2 if type == 2 else 1):
            mid.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo, time=0),
                                              mido.Message("note_on", channel=channel, note=60, velocity=90, time=0),
                                              mido.Message("note_off", channel=channel, note=60, velocity=0, time=480)]))
        mid.save(str(tmp_path / name))
        return tmp_path / name

    for path, said in ((save("t2.mid", type=2), "type 2"), (save("fast.mid", tempo=1), "bpm"),
                       (save("drums.mid", channel=9), "drums on channel 10 are left out"), (tmp_path, "is a folder")):
        with pytest.raises(ConfigError, match=said):
            load_calls(path)
    assert load_calls(save("ok.mid")) == [(0.0, [0x90, 60, 90]), (1.0, [0x80, 60, 0])]


def test_namespace_without_flags_still_works():
    from improv.commands.embrace_args import outside_mode

    assert outside_mode(argparse.Namespace()) is None

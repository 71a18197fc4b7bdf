"""Fuzzing what a user can hand improv: flag values, config files, tune files, MIDI files
(generated and mangled) and session journals. Every input must give a result or one clear
error (an `ImprovError`, or exit 2 with one line), never a traceback and never a hang:
each example runs under a time limit (`limit`) on top of hypothesis' deadline.

Kept well under a minute for CI (about 10-20 s on the 2-core development machine), and
derandomized so that CI runs the same examples every time.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import signal
from datetime import timedelta
from pathlib import Path

import mido
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from improv.cli import build_parser, main
from improv.config import Config, build, load_config
from improv.core.formats.midifile import load_recording
from improv.core.formats.miditrack import read_midi_notes
from improv.core.theory.chart import load_tune
from improv.errors import ImprovError

ROOT = Path(__file__).resolve().parent.parent
CALL = ROOT / "examples" / "demo_calls.mid"
FAST = settings(max_examples=150, deadline=timedelta(seconds=5), derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@contextlib.contextmanager
def limit(seconds: float):
    """Fail (instead of hanging) if the block runs longer than `seconds` (main thread)."""

    def expired(signum, frame):
        raise TimeoutError(f"took more than {seconds} s: a hang")

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_cli(argv: list[str], seconds: float = 20.0) -> tuple[int, str]:
    """`improv ARGV` in process: (exit code, stderr). A traceback fails the test."""
    err = io.StringIO()
    with limit(seconds), contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse's own refusals: usage and one error line, exit 2
            code = int(e.code or 0)
    return code, err.getvalue()


def one_clear_line(code: int, err: str) -> None:
    assert "Traceback" not in err, err
    if code == 0:
        return
    assert code == 2, (code, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "an error must say something"
    assert len([line for line in lines if not line.startswith("usage:") and not line.startswith(" ")]) == 1, err


# --- values ---------------------------------------------------------------------------------
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, -1.0, 1e9, 1e-9, 1e308, float("nan"), float("inf"), -float("inf")]),
    st.integers(min_value=-10**12, max_value=10**12).map(float),
)
number_text = st.one_of(numbers.map(repr), st.sampled_from(["nan", "inf", "-inf", "1e9", "0", "-3", "fast", "", " ", "1,5",
                                                            "0x10", "\u0661"]))
int_text = st.one_of(st.integers(-10**6, 10**6).map(str), st.sampled_from(["0", "-3", "1", "64", "65", "2147483648"]))
# each flag mostly gets values of its own type (so that examples get past argparse), sometimes anything
FLAG_VALUES = {"--tempo": number_text, "--swing": number_text, "--gap": number_text, "--temperature": number_text,
               "--duration": number_text, "--daring": number_text, "--bars": int_text, "--seed": int_text}
flag_pair = st.sampled_from(sorted(FLAG_VALUES)).flatmap(
    lambda f: st.tuples(st.just(f), st.one_of(FLAG_VALUES[f], FLAG_VALUES[f], number_text)))


@FAST
@given(flags=st.lists(flag_pair, min_size=1, max_size=3))
def test_jam_flags_give_settings_in_range_or_one_clear_error(flags, tmp_path_factory):
    """Everything the jam checks before it opens a port: a valid result is in range."""
    from improv.commands.jam import checked_settings

    argv = ["jam", "--record", str(tmp_path_factory.mktemp("rec"))]
    for flag, value in flags:
        argv += [flag, value]
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            args = build_parser(argv[0]).parse_args(argv)
    except SystemExit as e:
        assert e.code == 2
        return
    try:
        with limit(10):
            cfg, _ = checked_settings(args)
    except ImprovError as e:
        assert e.exit_code == 2 and "\n" not in str(e)
        return
    t = cfg.timing
    assert 20 <= t.tempo <= 600 and 0.5 <= t.swing <= 4 and math.isfinite(cfg.phrase.gap_beats)
    assert 0 < cfg.phrase.gap_beats and 0 <= cfg.phrase.answer_bars <= cfg.phrase.max_answer_bars
    assert 0 < cfg.responder.temperature <= 5
    assert args.duration is None or 0 <= args.duration <= 86400


@settings(max_examples=40, deadline=timedelta(seconds=20), derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(flags=st.lists(flag_pair, min_size=1, max_size=2))
def test_respond_flags_give_an_answer_or_one_clear_line(flags, tmp_path_factory):
    out = tmp_path_factory.mktemp("respond") / "a.mid"
    argv = ["respond", str(CALL), "-o", str(out), "--responder", "markov"]
    for flag, value in flags:
        argv += [flag, value]
    code, err = run_cli(argv)
    one_clear_line(code, err)
    if code == 0:
        assert load_recording(out).events


# --- config and tune files ---------------------------------------------------------------------
def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(v)


def toml_text(tables: dict) -> str:
    lines = []
    for name, table in tables.items():
        if isinstance(table, dict):
            lines.append(f"[{name}]")
            lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in table.items()]
        else:
            lines.insert(0, f"{json.dumps(name)} = {toml_value(table)}")
    return "\n".join(lines) + "\n"


scalars = st.one_of(st.booleans(), st.integers(min_value=-2**40, max_value=2**40), numbers,
                    st.text(max_size=12), st.sampled_from(["", "model", "markov", "cc 20", "note 36", "jack", "bar"]))
values = st.one_of(scalars, st.lists(scalars, max_size=3))
SECTIONS = {name: [f for f in type(getattr(Config(), name)).__dataclass_fields__] for name in Config.__dataclass_fields__}


@st.composite
def config_tables(draw):
    tables = {}
    for section in draw(st.lists(st.sampled_from(sorted(SECTIONS) + ["bogus"]), max_size=4, unique=True)):
        keys = SECTIONS.get(section, ["x"]) + ["nonsense"]
        chosen = draw(st.lists(st.sampled_from(keys), max_size=4, unique=True))
        tables[section] = {k: draw(values) for k in chosen}
    return tables


@FAST
@given(tables=config_tables())
def test_config_files_load_in_range_or_give_one_clear_error(tables, tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "c.toml"
    path.write_text(toml_text(tables), encoding="utf-8")
    try:
        with limit(5):
            cfg = load_config(path)
    except ImprovError as e:
        assert e.exit_code == 2 and "\n" not in str(e)
        return
    import dataclasses

    assert build(Config, dataclasses.asdict(cfg), "again:") == cfg  # what loaded passes the checks again


CHORDS = st.sampled_from(["C7", "Dm7", "G7", "Cmaj7", "F#m7b5", "Bb13", "NC", "%", "|", "X9", "H7", "", "C/E", "Eb-7"])


@st.composite
def tune_tables(draw):
    bars = " ".join(draw(st.lists(CHORDS, max_size=12)))
    table = {}
    for key in draw(st.lists(st.sampled_from(["title", "tempo", "beats_per_bar", "bars", "sections", "form", "key",
                                              "junk"]), max_size=5, unique=True)):
        if key == "bars":
            table[key] = draw(st.one_of(st.just(bars), values))
        elif key == "sections":
            table[key] = {"A": bars, "B": draw(st.one_of(st.just(bars), st.text(max_size=8)))}
        elif key == "form":
            table[key] = draw(st.lists(st.sampled_from(["A", "B", "C"]), max_size=4))
        else:
            table[key] = draw(values)
    return table


@FAST
@given(table=tune_tables())
def test_tune_files_give_a_chart_or_one_clear_error(table, tmp_path_factory):
    path = tmp_path_factory.mktemp("tune") / "t.toml"
    sections = table.pop("sections", None)
    text = toml_text({k: v for k, v in table.items()})
    if sections is not None:
        text += "[sections]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in sections.items())
    path.write_text(text, encoding="utf-8")
    try:
        with limit(5):
            chart = load_tune(path)
    except ImprovError as e:
        assert "\n" not in str(e)
        return
    assert chart.bars >= 1 and 1 <= chart.beats_per_bar <= 16
    assert chart.tempo is None or 20 <= chart.tempo <= 600


# --- MIDI files --------------------------------------------------------------------------------
@st.composite
def midi_files(draw):
    ppq = draw(st.sampled_from([480, 480, 96, 1, 0, -7688, 32767]))
    kind = draw(st.sampled_from([0, 1, 1, 2]))
    mid = mido.MidiFile(type=kind, ticks_per_beat=ppq)
    for n in range(1 if kind == 0 else draw(st.integers(1, 3))):
        track = mido.MidiTrack()
        if draw(st.booleans()):
            track.append(mido.MetaMessage("track_name", name=draw(st.sampled_from(["player", "partner", "comp", "bass",
                                                                                   "click", "x", ""]))))
        for _ in range(draw(st.integers(0, 12))):
            delta = draw(st.one_of(st.integers(0, 960), st.sampled_from([0, 1, 2**27, 2**28 - 1])))
            kind = draw(st.sampled_from(["on", "off", "cc", "tempo", "timesig", "sysex", "text", "pitch"]))
            ch = draw(st.integers(0, 15))
            if kind == "on":
                msg = mido.Message("note_on", channel=ch, note=draw(st.integers(0, 127)), velocity=draw(st.integers(0, 127)))
            elif kind == "off":
                msg = mido.Message("note_off", channel=ch, note=draw(st.integers(0, 127)))
            elif kind == "cc":
                msg = mido.Message("control_change", channel=ch, control=draw(st.integers(0, 127)),
                                   value=draw(st.integers(0, 127)))
            elif kind == "tempo":
                msg = mido.MetaMessage("set_tempo", tempo=draw(st.sampled_from([0, 1, 500000, 2_000_000, 16_777_215])))
            elif kind == "timesig":
                msg = mido.MetaMessage("time_signature", numerator=draw(st.sampled_from([0, 1, 3, 4, 7, 64, 255])),
                                       denominator=draw(st.sampled_from([1, 2, 4, 8, 64])))
            elif kind == "sysex":
                msg = mido.Message("sysex", data=draw(st.lists(st.integers(0, 127), max_size=8)))
            elif kind == "text":
                msg = mido.MetaMessage("marker", text=draw(st.text(st.characters(max_codepoint=255), max_size=10)))
            else:
                msg = mido.Message("pitchwheel", channel=ch, pitch=draw(st.integers(-8192, 8191)))
            track.append(msg.copy(time=delta))
        mid.tracks.append(track)
    return mid


def mangle(data: bytes, cuts: list[tuple[int, int]]) -> bytes:
    b = bytearray(data)
    for pos, val in cuts:
        if b:
            b[pos % len(b)] = val
    return bytes(b)


@settings(max_examples=200, deadline=timedelta(seconds=10), derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mid=midi_files(),
       cuts=st.one_of(st.just([]), st.just([]), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
                                                         max_size=3)),
       truncate=st.one_of(st.none(), st.none(), st.none(), st.integers(0, 200)))
def test_midi_files_read_render_and_answer_or_give_one_clear_error(mid, cuts, truncate, tmp_path_factory):
    folder = tmp_path_factory.mktemp("midi")
    path = folder / "f.mid"
    buf = io.BytesIO()
    try:
        mid.save(file=buf)
    except (ValueError, OverflowError, TypeError, KeyError):
        return  # mido itself will not write it: nothing a user could hand us
    data = mangle(buf.getvalue(), cuts)
    path.write_bytes(data[:truncate] if truncate is not None else data)
    readable = True
    for read in (load_recording, read_midi_notes):
        try:
            with limit(10):
                got = read(path)
        except ImprovError as e:
            assert "\n" not in str(e)
            readable = False
    if not readable:
        return
    rec = load_recording(path)
    if rec.duration < 120.0:  # longer renders are checked by size (test_render), not by the clock here
        code, err = run_cli(["render", str(path), "-o", str(folder / "f.wav"), "--tail", "0.1"])
        one_clear_line(code, err)
    code, err = run_cli(["respond", str(path), "-o", str(folder / "a.mid"), "--responder", "markov", "--seed", "1"])
    one_clear_line(code, err)
    del got


# --- journals ----------------------------------------------------------------------------------
records = st.one_of(
    st.tuples(st.sampled_from(["player", "partner", "comp", "bass", "click", "marker", "tempo", "origin", "??"]),
              numbers, st.one_of(st.lists(st.integers(-5, 300), max_size=4), st.text(max_size=6), numbers),
              st.sampled_from(["text", "chord", "section", "x"])).map(list),
    st.just([]), st.integers(), st.text(max_size=5), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@FAST
@given(header=st.fixed_dictionaries({"improv_journal": st.sampled_from([1, 2, 3, "1"]), "tempo": numbers},
                                    optional={"beats_per_bar": st.integers(-1, 40), "player_channel": st.integers(-1, 20),
                                              "chart": st.sampled_from(["C7 | F7", "H7", "", "|"])}),
       body=st.lists(records, max_size=15), torn=st.booleans())
def test_journals_recover_or_say_why(header, body, torn, tmp_path_factory):
    from improv.live.recovery import recover

    folder = tmp_path_factory.mktemp("journal")
    lines = [json.dumps(header)] + [json.dumps(r) for r in body]
    text = "\n".join(lines) + "\n"
    (folder / "s.journal").write_text(text[:-7] if torn and len(text) > 7 else text)
    warnings, said = [], []
    with limit(10):
        written = recover(folder, warn=warnings.append, say=said.append)
    for w in warnings + said:
        assert "\n" not in w
    for mid in written:
        load_recording(mid)  # what recover writes reads back
    assert not list(folder.glob("*.tmp"))

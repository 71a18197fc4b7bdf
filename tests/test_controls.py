import queue

import pytest

from improv.config import Config, load_config
from improv.live.controls import ControlMap, learn_next, parse_binding, write_binding
from improv.errors import ConfigError


def test_bindings_parse():
    assert parse_binding("cc 20") == ("cc", 20) and parse_binding(" Note 36 ") == ("note", 36)
    assert parse_binding("") is None
    for bad in ("cc", "cc 200", "knob 3"):
        with pytest.raises(ConfigError, match="expected"):
            parse_binding(bad)


def test_map_fires_actions():
    m = ControlMap({"daring": "cc 20", "comp": "note 36", "panic": "cc 65", "bass": ""})
    assert m.event([0xB0, 20, 127]).value == 1.0 and m.event([0xB3, 20, 0]).action == "daring"
    assert m.event([0x90, 36, 100]).action == "comp" and m.event([0x90, 36, 0]) is None
    assert m.event([0xB0, 65, 127]).action == "panic" and m.event([0xB0, 65, 0]) is None
    assert m.event([0x90, 60, 100]) is None and not m.bound([0x90, 60, 100]) and m.bound([0x80, 36, 0])
    with pytest.raises(ConfigError, match="both"):
        ControlMap({"comp": "cc 1", "bass": "cc 1"})
    assert ControlMap.from_settings(Config().controls).event([0xB0, 1, 1]) is None


def test_a_toggle_or_trigger_on_a_controller_fires_once_on_the_way_up():
    """A knob swept 0-127-0 through a toggle fired at every value >= 64 (128 'comp on/off'
    lines, the band left in a random state); a held button's repeats fired again too."""
    m = ControlMap({"comp": "cc 25", "panic": "cc 26", "daring": "cc 20"})
    sweep = list(range(128)) + list(range(127, -1, -1))
    fired = [v for v in sweep if m.event([0xB0, 25, v]) is not None]
    assert fired == [64]
    assert [m.event([0xB0, 26, v]) is not None for v in (127, 127, 0, 127)] == [True, False, False, True]
    assert sum(m.event([0xB0, 20, v]) is not None for v in sweep) == len(sweep)  # a knob's every value counts


def test_the_pedals_and_channel_mode_messages_cannot_be_bound():
    """`improv learn` wrote panic = "cc 64": every pedal press then silenced everything, and the
    pedal no longer held notes nor went through."""
    for cc, what in ((64, "sustain pedal"), (67, "soft pedal"), (123, "channel mode message")):
        with pytest.raises(ConfigError, match=what):
            parse_binding(f"cc {cc}", "controls.panic")
    said = []
    q = queue.Queue()
    for data in ([0xB0, 64, 127], [0xB0, 64, 0], [0xB0, 22, 40]):
        q.put((0.0, data))
    assert learn_next(q, 0.5, say=said.append) == "cc 22"
    assert len(said) == 1 and "sustain pedal (CC 64)" in said[0]


def test_learn_writes_the_next_control_to_toml(tmp_path):
    q = queue.Queue()
    q.put((0.0, [0xF8]))
    q.put((0.1, [0xB0, 21, 5]))
    assert learn_next(q, 0.5) == "cc 21"
    assert learn_next(q, 0.05) is None
    path = tmp_path / "mine.toml"
    path.write_text('[timing]\ntempo = 140.0\n\n[controls]\nbass = "cc 21"\n')
    assert write_binding(path, "comp", "cc 21") == ["bass"]  # (learn says so: it was silent)
    assert write_binding(path, "panic", "note 108") == []
    cfg = load_config(path)
    assert cfg.timing.tempo == 140.0 and cfg.controls.comp == "cc 21" and cfg.controls.bass == ""
    assert cfg.controls.panic == "note 108"


USER_FILE = '''# My stage settings: keep this comment
[timing]
tempo = 140.0   # the band's tempo

[synth.extra]   # a nested table improv does not know about
thing = [1, 2, 3]

[controls]
# knobs on the left
daring = "cc 20"   # the big knob
bass = "cc 21"     # moved by `improv learn comp` below

[band]
comp = true
'''


def test_learn_edits_the_file_in_place_keeping_comments_tables_and_other_keys(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(USER_FILE)
    write_binding(path, "comp", "cc 21")
    text = path.read_text()
    expected = USER_FILE.replace('bass = "cc 21"     # moved', 'bass = ""     # moved').replace(
        '# moved by `improv learn comp` below\n', '# moved by `improv learn comp` below\ncomp = "cc 21"\n')
    assert text == expected  # every other byte as it was
    import tomllib

    data = tomllib.loads(text)
    assert data["synth"]["extra"]["thing"] == [1, 2, 3] and data["band"]["comp"] is True
    assert data["controls"] == {"daring": "cc 20", "bass": "", "comp": "cc 21"}


def test_learn_adds_a_controls_table_or_creates_the_file(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("# tempo only\n[timing]\ntempo = 90.0\n")
    write_binding(path, "tap", "note 60")
    assert path.read_text() == '# tempo only\n[timing]\ntempo = 90.0\n\n[controls]\ntap = "note 60"\n'
    assert load_config(path).controls.tap == "note 60"
    fresh = tmp_path / "new.toml"
    write_binding(fresh, "panic", "cc 65")
    assert load_config(fresh).controls.panic == "cc 65"


def test_learn_refuses_a_broken_file_and_leaves_it_alone(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[controls\nmode = 'cc 1'\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        write_binding(path, "mode", "cc 2")
    assert path.read_text() == "[controls\nmode = 'cc 1'\n"
    path.write_text('controls = "cc 1"\n')
    with pytest.raises(ConfigError, match="controls is .*expected a table"):
        write_binding(path, "mode", "cc 2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.toml"]  # no temporary file left behind


def test_learn_edits_the_shipped_default_config_keeping_every_comment(tmp_path):
    from pathlib import Path

    default = Path(__file__).resolve().parent.parent / "configs" / "default.toml"
    path = tmp_path / "default.toml"
    path.write_text(default.read_text())
    write_binding(path, "daring", "cc 74")
    before, after = default.read_text().splitlines(), path.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert len(before) == len(after) and len(changed) == 1
    assert changed[0][1].startswith('daring = "cc 74"') and "# a controller: how far" in changed[0][1]
    assert load_config(path).controls.daring == "cc 74"


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - the test extra brings it
    given = None

if given is not None:
    from improv.live.controls import ACTIONS

    comment = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=20)
    bindings = st.sampled_from(["", "cc 1", "cc 20", "note 36", "note 60", "cc 119"])

    @settings(max_examples=60, deadline=None)
    @given(st.dictionaries(st.sampled_from(ACTIONS), st.tuples(bindings, comment), max_size=6),
           st.sampled_from(ACTIONS), bindings.filter(bool), comment)
    def test_learn_changes_only_what_it_must(tmp_path_factory, existing, action, binding, top):
        import tomllib

        from improv.live.controls import CONTINUOUS

        if action in CONTINUOUS and binding.startswith("note"):  # refused (a key would jump it to its maximum)
            return
        path = tmp_path_factory.mktemp("learn") / "c.toml"
        lines = [f"# {top}", "[timing]", "tempo = 100.0", "", "[controls]"]
        lines += [f'{k} = "{v}"  # {c}' for k, (v, c) in existing.items()]
        text = "\n".join(lines) + "\n"
        path.write_text(text, encoding="utf-8")
        write_binding(path, action, binding)
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        want = {k: ("" if v == binding and k != action else v) for k, (v, _) in existing.items()}
        want[action] = binding
        assert data["controls"] == want and data["timing"] == {"tempo": 100.0}
        new_lines = path.read_text(encoding="utf-8").splitlines()
        assert new_lines[:5] == lines[:5]  # the comment and the other table, byte for byte
        for k, (v, c) in existing.items():  # each binding's own comment stays on its line
            line = next(x for x in new_lines if x.startswith(f"{k} = "))
            assert line.endswith(f"# {c}")


@pytest.mark.parametrize("args", [["--timeout", "nan"], ["--timeout", "inf"], ["--timeout", "-1"],
                                  ["--file", "BADTOML"], ["--file", "FOLDER"], ["--file", "READONLY"]])
def test_learn_refuses_bad_values_before_waiting_for_a_knob(tmp_path, capsys, monkeypatch, args):
    import improv.live.ports as ports
    from improv.cli import main

    monkeypatch.setattr(ports, "open_input", lambda *a, **k: pytest.fail("a port was opened"))
    bad = tmp_path / "bad.toml"
    bad.write_text('[timing]\ntempo = "fast"\n')
    ro = tmp_path / "ro.toml"
    ro.write_text("[timing]\ntempo = 100\n")
    ro.chmod(0o444)
    args = [{"BADTOML": str(bad), "FOLDER": str(tmp_path), "READONLY": str(ro)}.get(a, a) for a in args]
    assert main(["learn", "comp", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("improv learn: "), err
    assert bad.read_text() == '[timing]\ntempo = "fast"\n'


def test_learn_edits_the_file_a_link_points_to_keeping_its_permissions(tmp_path, monkeypatch, capsys):
    import improv.live.controls as controls
    import improv.live.ports as ports
    from improv.cli import main

    real = tmp_path / "dots" / "real.toml"
    real.parent.mkdir()
    real.write_text("# mine\n[timing]\ntempo = 100\n")
    real.chmod(0o600)
    link = tmp_path / "link.toml"
    link.symlink_to(real)

    class In:
        name = "improv in"

        def close(self):
            pass

    monkeypatch.setattr(ports, "open_input", lambda *a, **k: In())
    monkeypatch.setattr(controls, "learn_next", lambda *a, **k: "note 41")
    assert main(["learn", "panic", "--file", str(link)]) == 0
    assert link.is_symlink() and 'panic = "note 41"' in real.read_text() and real.read_text().startswith("# mine")
    assert oct(real.stat().st_mode & 0o777) == "0o600"


def test_learn_passes_over_a_key_for_a_continuous_action():
    """`improv learn daring` took the first key pressed, waited, then refused to write it
    (a key would jump daring to its maximum): the key is passed over, said once, and the
    knob moved after it is learned."""
    said = []
    q = queue.Queue()
    for data in ([0x90, 60, 100], [0x80, 60, 0], [0x90, 62, 90], [0xB0, 22, 40]):
        q.put((0.0, data))
    assert learn_next(q, 0.5, say=said.append, action="daring") == "cc 22"
    assert len(said) == 1 and "knob or slider" in said[0]
    q.put((0.0, [0x90, 60, 100]))
    assert learn_next(q, 0.5, action="comp") == "note 60"  # a toggle takes a key


def test_a_bouncing_pad_or_a_fader_jittering_about_the_middle_is_one_press():
    """A footswitch bouncing 127, 60, 127 fired tap twice a press (the band went to 297 bpm for
    100 tapped), and a fader pushed once with a jitter of 1 about 64 toggled comp three times."""
    from improv.live.midisync import TapTempo

    m = ControlMap({"tap": "cc 28", "comp": "cc 24", "panic": "note 36"})
    fired = []
    for k in range(6):  # six presses 0.6 s apart, each bouncing once
        t = 0.6 * k
        for dt, v in ((0.0, 127), (0.003, 60), (0.006, 127), (0.2, 0)):
            ev = m.event([0xB0, 28, v], t + dt)
            if ev is not None:
                fired.append(t + dt)
    assert fired == pytest.approx([0.6 * k for k in range(6)])
    tap = TapTempo()
    assert [round(b) for b in map(tap.tap, fired) if b is not None][-1] == 100
    jitter = [63, 64, 63, 65, 64, 63, 64, 90, 127]  # one push up through the middle
    assert sum(m.event([0xB0, 24, v], 10 + 0.01 * i) is not None for i, v in enumerate(jitter)) == 1
    assert m.event([0xB0, 24, 20], 11.0) is None and m.event([0xB0, 24, 100], 11.1) is not None  # down, up again
    assert m.event([0x90, 36, 100], 12.0) is not None and m.event([0x80, 36, 0], 12.002) is None
    assert m.event([0x90, 36, 100], 12.004) is None  # the key's contact bounced
    assert m.event([0x90, 36, 100], 12.5) is not None
    assert TapTempo().tap(0.0) is None
    bounce = TapTempo()
    assert [bounce.tap(x) for x in (0.0, 0.004, 0.6)] == [None, None, pytest.approx(100.0)]


def test_learn_unbinds_the_same_control_however_the_file_spells_it(tmp_path):
    """A hand-written `bass = "CC 021"` stayed bound when `improv learn comp` took CC 21 too:
    the file it wrote was then refused by `improv jam` (cc 21 bound to both comp and bass)."""
    path = tmp_path / "mine.toml"
    path.write_text('[controls]\nbass = "CC 021"  # my knob\ntap = " note  60 "\npanic = "note 61"\n')
    assert write_binding(path, "comp", "cc 21") == ["bass"]
    assert write_binding(path, "end_of_call", "note 60") == ["tap"]
    cfg = load_config(path)
    assert (cfg.controls.comp, cfg.controls.bass, cfg.controls.end_of_call, cfg.controls.tap) == \
        ("cc 21", "", "note 60", "")
    assert cfg.controls.panic == "note 61" and "# my knob" in path.read_text()


def test_learn_says_what_it_passed_over_that_cannot_be_bound():
    """The pitch bend wheel, aftertouch or a pad sending a program change, moved for `improv
    learn`, were passed over without a word, and learn then said 'nothing moved in 30 s'."""
    said = []
    q = queue.Queue()
    for data in ([0xE0, 0, 80], [0xE0, 0, 64], [0xC1, 5], [0xD0, 90], [0xA0, 60, 70], [0xE2, 0, 90]):
        q.put((0.0, data))
    assert learn_next(q, 0.2, say=said.append, action="tap") is None
    assert len(said) == 3, said  # each said once
    assert "pitch bend" in said[0] and "cannot be bound" in said[0] and "knob or press a key" in said[0]
    assert "program change" in said[1] and "aftertouch" in said[2]
    said.clear()
    for data in ([0x90, 60, 100], [0xD0, 90], [0xA0, 60, 70], [0xE0, 0, 80], [0xB0, 22, 40]):
        q.put((0.0, data))
    assert learn_next(q, 0.5, say=said.append, action="daring") == "cc 22"
    assert len(said) == 2 and "a key" in said[0] and "pitch bend" in said[1] and "knob or slider" in said[1]


def test_learn_passes_over_the_files_end_of_call_controller(tmp_path, monkeypatch, capsys):
    """With `[phrase] end_cc = 20` in the file, `improv learn daring` took CC 20 and wrote it:
    `improv jam --config` then refused the file (phrase.end_cc and controls.daring both CC 20)."""
    import improv.live.ports as ports
    from improv.cli import main

    path = tmp_path / "mine.toml"
    path.write_text("[phrase]\nend_cc = 20\n")

    class In:
        name = "improv in"

        def close(self):
            pass

    def open_input(inq, *a, **k):  # (moved after learn asks: what was moving as it asked is not taken)
        for data in ([0xB0, 20, 50], [0xB0, 20, 51], [0xB0, 21, 40]):
            inq.queue.put((inq.clock.now() + 5.0, data))
        return In()

    monkeypatch.setattr(ports, "open_input", open_input)
    assert main(["learn", "daring", "--file", str(path)]) == 0
    cfg = load_config(path)
    assert cfg.controls.daring == "cc 21" and cfg.phrase.end_cc == 20
    err = capsys.readouterr().err
    assert err.count("CC 20") == 1 and "end_cc" in err, err


def test_a_control_bound_twice_in_a_file_is_refused_in_one_line_saying_the_fix(tmp_path):
    """The error named the file and the two actions but not what to do."""
    path = tmp_path / "mine.toml"
    path.write_text('[controls]\ncomp = "cc 21"\nbass = "CC 21"\n')
    with pytest.raises(ConfigError) as e:
        load_config(path)
    line = str(e.value)
    assert "\n" not in line and line.startswith(f"{path}: controls: cc 21 is bound to both comp and bass")
    assert 'give bass another control (or "" for none)' in line


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_learn_stopped_while_waiting_writes_nothing_and_says_how(tmp_path, monkeypatch, capsys, signame):
    """A SIGTERM (or the terminal closing) while learn waited said 'interrupted', as Ctrl-C
    does; each now says its own name. Stopped by the user, learn exits 0, as the jam's
    session does (it was 130, 143 and 129)."""
    import os
    import signal
    import time

    import improv.live.controls as controls
    import improv.live.ports as ports
    from improv.cli import main

    class In:
        name = "improv in"

        def close(self):
            pass

    def stopped(*a, **k):  # (the signal arrives while learn waits)
        os.kill(os.getpid(), getattr(signal, signame))
        time.sleep(5)
        return "cc 99"

    path = tmp_path / "mine.toml"
    path.write_text("# mine\n[controls]\ncomp = \"cc 21\"\n")
    monkeypatch.setattr(ports, "open_input", lambda *a, **k: In())
    monkeypatch.setattr(controls, "learn_next", stopped)
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    assert main(["learn", "bass", "--file", str(path)]) == 0
    err = capsys.readouterr().err.splitlines()
    how = "interrupted" if signame == "SIGINT" else f"stopped ({signame})"
    assert err == ["move a knob or press a key on 'improv in' for 'bass' (waiting 30 s)",
                   f"improv learn: {how}; nothing written"]
    assert path.read_text() == "# mine\n[controls]\ncomp = \"cc 21\"\n" and len(list(tmp_path.iterdir())) == 1
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_learn_passes_over_a_bank_select_sent_with_a_program_change():
    """A pad set to send a program change sends bank select (CC 0, CC 32) just before it:
    `improv learn` bound "cc 0", which then fired on every program change. A bank select
    with nothing after it is a controller like any other."""
    said = []
    q = queue.Queue()
    for t, data in ((1.0, [0xB0, 0, 0]), (1.001, [0xB0, 32, 1]), (1.002, [0xC0, 5]), (3.0, [0xB0, 22, 40])):
        q.put((t, data))
    assert learn_next(q, 0.5, say=said.append, action="comp") == "cc 22"
    assert len(said) == 1 and "bank select and a program change" in said[0] and "cannot be bound" in said[0]
    q.put((5.0, [0xB0, 0, 127]))
    q.put((6.0, [0x90, 60, 100]))  # (not a program change: the knob on CC 0 was moved)
    assert learn_next(q, 0.5, action="comp") == "cc 0"
    q.put((7.0, [0xB0, 0, 127]))
    assert learn_next(q, 0.5, action="comp") == "cc 0"  # (nothing after it at all)


def test_learn_passes_over_a_controller_already_streaming_when_it_asked():
    """A keyboard whose mod wheel jitters streams CC 1 all the time: `improv learn daring`
    bound CC 1 at once, before the player touched the knob they meant."""
    said = []
    q = queue.Queue()
    jitter = [(10.0 + 0.05 * k, [0xB0, 1, 60 + k % 3]) for k in range(60)]  # 3 s of CC 1 at 60-62
    for t, data in jitter[:20] + [(11.2, [0xB0, 21, 90])] + jitter[20:]:
        q.put((t, data))
    assert learn_next(q, 0.5, say=said.append, action="daring", since=10.0) == "cc 21"
    assert said == []
    for t, data in jitter + [(13.0, [0xB0, 1, 61]), (13.1, [0xB0, 1, 90])]:  # the wheel moved on purpose
        q.put((t, data))
    assert learn_next(q, 0.5, action="daring", since=10.0) == "cc 1"
    q.put((10.0, [0xB0, 1, 61]))
    assert learn_next(q, 0.5, action="daring") == "cc 1"  # (not asked when: the first controller, as before)


@pytest.mark.jack
@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"])
def test_learn_stopped_while_it_waits_writes_nothing_and_exits_as_a_session_ended_by_the_user(tmp_path, signame):
    """Ctrl-C while learn waited for a knob exited 130, SIGTERM 143 and SIGHUP 129, and Ctrl-\\
    dumped core: stopped by the user, it ends as the jam's session does, 0, nothing written."""
    import os
    import select
    import signal
    import subprocess
    import sys
    import time

    from jackutil import ROOT, require_jack

    require_jack()
    target = tmp_path / "mine.toml"
    env = dict(os.environ, IMPROV_MIDI_API="jack", JACK_NO_START_SERVER="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen([sys.executable, "-m", "improv", "learn", "comp", "--file", str(target), "--timeout", "60"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        said = ""
        deadline = time.monotonic() + 30
        while "move a knob" not in said and time.monotonic() < deadline and proc.poll() is None:
            if select.select([proc.stderr], [], [], 0.5)[0]:
                said += proc.stderr.readline()
        assert "move a knob" in said, said
        proc.send_signal(getattr(signal, signame))
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    how = "interrupted" if signame == "SIGINT" else f"stopped ({signame})"
    assert proc.returncode == 0, (proc.returncode, err)
    assert err.strip().splitlines() == [f"improv learn: {how}; nothing written"] and out == "", err
    assert not target.exists()


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_learn_stopped_as_its_input_opens_is_stopped_not_a_port_error(tmp_path, capsys, monkeypatch, signame):
    """A signal as the MIDI client opens interrupts libjack's handshake: the failure is the
    signal's (it said 143 for SIGTERM, and 130 or the port's error for Ctrl-C)."""
    import os
    import signal

    import improv.live.ports as ports
    from improv.cli import main
    from improv.errors import PortError

    def interrupted_open(*a, **k):
        os.kill(os.getpid(), getattr(signal, signame))
        raise PortError("cannot open MIDI input: Cannot open improv client")

    monkeypatch.setattr(ports, "open_input", interrupted_open)
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    assert main(["learn", "comp", "--file", str(tmp_path / "mine.toml")]) == 0
    how = "interrupted" if signame == "SIGINT" else f"stopped ({signame})"
    assert capsys.readouterr().err == f"improv learn: {how}; nothing written\n"
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    assert not (tmp_path / "mine.toml").exists()

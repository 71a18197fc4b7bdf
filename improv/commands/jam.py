"""`improv jam`: play into a MIDI input, the partner answers on the beat.

    improv jam                        # first hardware input (else a virtual one), built-in synth
    improv jam --in 1 --out "IAC"     # ports by index or name substring
    improv jam --midi-api jack --virtual-in keys --virtual-out partner --duration 60
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any, Callable

from improv.commands.common import FLAGS, add_config_args, add_harmony_args, add_responder_args, \
    chart_from_config, settings_from_args
from improv.commands.embrace_args import add_embrace_args, add_mode_arg, embrace_settings_from_args
from improv.config import Config, check_flag, override, was_set
from improv.core import limits
from improv.core.theory.notes import counted
from improv.errors import ConfigError, ImprovError, PortError


# the one rule a musician and a script can rely on (the README says it too); `improv jam --help` ends with it
EXIT_STATUS = ("Exit status: 0 when the session ends, by itself (--duration; the demo's script answered) or by you: "
               "Ctrl-C, Ctrl-\\, SIGTERM or SIGHUP, at any moment, while improv starts too; every note is released "
               "and what was played is recorded. 1: something failed (the MIDI server gone, an output or the recording "
               "failing); 2: bad flags or settings; 130: a third Ctrl-C abandoned the closing (the recording's "
               "journal is kept for `improv recover`).")


def add_output_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("MIDI out and recording")
    g.add_argument("--out", metavar="PORT", help="MIDI output for the partner (index or name); default: built-in synth")
    g.add_argument("--virtual-out", metavar="NAME", help="create a virtual MIDI output port for the partner")
    g.add_argument("--synth", action="store_true",
                   help="the partner on the built-in synth, whatever a --config file's [midi] output or virtual_out "
                        "names (for this session)")
    sf = g.add_mutually_exclusive_group()
    sf.add_argument("--soundfont", metavar="FILE.sf2",
                    help="play the built-in synth with a General MIDI SoundFont ([synth] soundfont; needs pip install "
                         "--no-deps tinysoundfont)")
    sf.add_argument("--no-soundfont", action="store_true",
                    help="the built-in voices, whatever a --config file's [synth] soundfont names")
    g.add_argument("--midi-api", choices=("alsa", "jack", "coremidi", "winmm"),
                   help="MIDI backend (default: $IMPROV_MIDI_API, else the platform's)")
    g.add_argument("--record", metavar="DIR", help="write the session's MIDI file into DIR (default sessions/)")
    g.add_argument("--no-record", action="store_true", help="do not record the session")
    g.add_argument("--duration", type=float, metavar="SECONDS", help="stop by itself after SECONDS")


def add_view_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--view", action=argparse.BooleanOptionalAction,
                   help="a full-screen stage view readable from a metre away, instead of the status line "
                        "([display] view; needs pip install 'improv[view]'); --no-view: the status line, whatever "
                        "a --config file says")


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = EXIT_STATUS
    add_config_args(p)
    add_view_arg(p)
    g = p.add_argument_group("MIDI in")
    g.add_argument("--in", dest="input", metavar="PORT", action="append",
                   help="MIDI input (index or name substring); give it again to play from several at once "
                        "(a keyboard and a pad controller)")
    g.add_argument("--virtual-in", metavar="NAME",
                   help='create a virtual MIDI input to play into (default when no hardware: "improv in")')
    g.add_argument("--thru", action=argparse.BooleanOptionalAction,
                   help="pass your notes through to the output (the default; [midi] thru); --no-thru: do not")
    g.add_argument("--drum-pads", action=argparse.BooleanOptionalAction,
                   help="notes on channel 10 (a keyboard's drum pads) play and are recorded as drums, not heard in "
                        "your call (the default; [midi] drum_pads); --no-drum-pads hears them as notes")
    add_output_args(p)
    ph = p.add_argument_group("phrasing")
    ph.add_argument("--answer-on", choices=("beat", "bar"), help="the answer starts on the next beat or bar")
    ph.add_argument("--gap", type=float, metavar="BEATS", help="silence that ends your call (default 1 beat)")
    ph.add_argument("--follow", action=argparse.BooleanOptionalAction,
                    help="the free jam follows the tempo and beat you play, --tempo being its first guess (the "
                         "default; [timing] follow); --no-follow keeps improv's own tempo")
    add_harmony_args(p)
    add_responder_args(p)
    add_embrace_args(p, trade=True, explain=False)
    b = p.add_argument_group("band and form")
    add_mode_arg(b)
    b.add_argument("--trade-bars", type=int, choices=(1, 2, 4, 8), metavar="N",
                   help="trade N bars along the tune's form (1, 2, 4 or 8); --mode trade takes 4")
    b.add_argument("--comp", action=argparse.BooleanOptionalAction,
                   help="comping chords under the solos (needs a chart); --no-comp: none, whatever a --config file "
                        "says (so --no-bass, --no-click, --no-send-clock)")
    b.add_argument("--bass", action=argparse.BooleanOptionalAction, help="a walking bass (needs a chart)")
    b.add_argument("--click", action=argparse.BooleanOptionalAction, help="a click on every beat, on its own channel")
    b.add_argument("--clock", choices=("internal", "external"),
                   help="internal: improv keeps time; external: follow MIDI clock from a DAW")
    b.add_argument("--clock-in", metavar="PORT", help='MIDI input of the external clock (default: virtual "improv clock")')
    b.add_argument("--send-clock", action=argparse.BooleanOptionalAction,
                   help="send MIDI clock and Start/Stop so a DAW follows improv")


def jam_settings(args: argparse.Namespace) -> Config:
    """The config file, then the shared flags, then jam's own flags."""
    cfg = settings_from_args(args)
    get = lambda name: getattr(args, name, None)  # noqa: E731
    if get("synth"):  # (a file's port undone for one session: an empty --out is refused as a forgotten value)
        for flag, value in (("--out", get("out")), ("--virtual-out", get("virtual_out"))):
            if value is not None:
                raise ConfigError(f"--synth plays the partner on the built-in synth and {flag} {value} sends it to a "
                                  "MIDI port: give one of them")
        cfg = override(cfg, "midi", output="", virtual_out="")
    ins = get("input")  # (--in, each time it was given)
    cfg = override(cfg, "midi", FLAGS, input=(ins[0] if len(ins) == 1 else tuple(ins)) if ins else None,
                   output=get("out"), virtual_in=get("virtual_in"),
                   virtual_out=get("virtual_out"), api=get("midi_api"))
    cfg = override(cfg, "synth", {"soundfont": "--soundfont"}, soundfont="" if get("no_soundfont") else get("soundfont"))
    # a switch is on (--comp), off (--no-comp: a --config file's true undone for one session) or the file's (None)
    if get("follow") is not None:
        cfg = override(cfg, "timing", {"follow": "--follow"}, follow=get("follow"))
    if get("thru") is not None:
        cfg = override(cfg, "midi", {"thru": "--thru"}, thru=get("thru"))
    if get("drum_pads") is not None:
        cfg = override(cfg, "midi", {"drum_pads": "--drum-pads"}, drum_pads=get("drum_pads"))
    cfg = override(cfg, "phrase", FLAGS, answer_on=get("answer_on"), gap_beats=get("gap"))
    if get("record") is not None and get("no_record"):
        raise ConfigError(f"--record {get('record')} and --no-record ask for two things: give one of them")
    if get("clock") == "external" and get("send_clock"):
        raise ConfigError("--clock external follows a DAW's MIDI clock and --send-clock sends improv's own: "
                          "give one of them")
    if get("record") is not None:
        cfg = override(cfg, "record", FLAGS, folder=get("record"), enabled=True)
    if get("no_record"):
        cfg = override(cfg, "record", enabled=False)
    cfg = override(cfg, "embrace", **vars(embrace_settings_from_args(args, cfg)))
    mode = get("mode")  # "free", "trade" or None (the config's [band] trade_bars)
    if mode == "free" and get("trade_bars"):
        raise ConfigError(f"--mode free and --trade-bars {get('trade_bars')} ask for two things: --trade-bars sets "
                          "the turns of --mode trade; give one of them")
    trade_bars = get("trade_bars") or (4 if mode == "trade" and not cfg.band.trade_bars else None)
    if mode == "free" and not get("trade_bars"):
        trade_bars = 0
    parts = ("comp", "bass", "click", "send_clock")
    for part in parts:  # off first: a file's send_clock = true undone before --clock external is laid over it
        if get(part) is False:
            cfg = override(cfg, "band", {part: "--no-" + part.replace("_", "-")}, **{part: False})
    cfg = override(cfg, "band", FLAGS, trade_bars=trade_bars, clock=get("clock"), clock_in=get("clock_in"))
    for part in parts:
        if get(part):
            cfg = override(cfg, "band", {part: "--" + part.replace("_", "-")}, **{part: True})
    if get("view") is not None:
        cfg = override(cfg, "display", view=get("view"))
    return cfg


def tempo_asked(cfg: Config, args: argparse.Namespace) -> bool:
    """True if a tempo was asked for: `--tempo`, or `[timing] tempo` in the config file
    (even 120, the default)."""
    return getattr(args, "tempo", None) is not None or was_set(cfg, "timing", "tempo")


def tempo_for(cfg: Config, chart: Any, args: argparse.Namespace) -> Config:
    """A tune's own tempo, unless a tempo was asked for (flag or config file), and the
    chart's metre (`metre_for`)."""
    cfg = metre_for(cfg, chart)
    if chart is not None and chart.tempo and not tempo_asked(cfg, args):
        return override(cfg, "timing", tempo=float(chart.tempo))
    return cfg


def metre_for(cfg: Config, chart: Any) -> Config:
    """The chart's beats a bar as the settings' `[timing] beats_per_bar`: the session counts
    bars in the chart's metre, and the call's end, `answer_on = "bar"` and answer lengths
    are counted in the settings' (a 3/4 tune file under the default 4 answered "on the bar"
    at 6:2 and 11:3). A config file that set another metre is told it is not used."""
    if chart is None or chart.beats_per_bar == cfg.timing.beats_per_bar:
        return cfg
    if was_set(cfg, "timing", "beats_per_bar"):
        print(f"improv: warning: [timing] beats_per_bar = {cfg.timing.beats_per_bar} is not used: the tune is in "
              f"{chart.beats_per_bar}/4 (its own beats_per_bar)", file=sys.stderr)
    return override(cfg, "timing", beats_per_bar=chart.beats_per_bar)


def tempo_guess(cfg: Config, chart: Any, args: argparse.Namespace) -> float | None:
    """The tempo the player said they play at (`--tempo`, a config file's, a tune's): the
    follower's first guess. None when nothing was said (the follower listens unbiased)."""
    said = tempo_asked(cfg, args) or (chart is not None and bool(chart.tempo))
    return cfg.timing.tempo if said else None


def open_sinks(cfg: Config, say: Callable[[str], None]) -> list[Any]:
    """The partner's (and thru's) outputs: --out and/or --virtual-out, else the built-in synth.

    Raises:
        PortError: an output that was asked for cannot be opened.
    """
    from improv.live.ports import open_output

    sinks: list[Any] = []
    try:
        if cfg.midi.output:
            sinks.append(open_output(cfg.midi.api, port=cfg.midi.output))
        if cfg.midi.virtual_out:
            sinks.append(open_output(cfg.midi.api, virtual=cfg.midi.virtual_out))
    except BaseException:
        for s in sinks:
            s.close()
        raise
    if sinks:
        for s in sinks:
            say(f"partner plays on MIDI output {s.name!r}, channel {cfg.midi.partner_channel}")
        return sinks
    try:
        from improv.live.audio import SynthSink

        sinks.append(SynthSink(cfg, say=say))  # (its lines, the device's latency and a stream that ran dry, go
        # where the jam's do: written to the terminal, they were lost under the stage view)
        say("partner plays on the built-in synth")
    except (ImportError, PortError) as e:
        if cfg.synth.device:  # a device asked for by name is refused, as a missing --out is
            raise PortError(f"synth.device {cfg.synth.device!r} cannot be used: {e}; `improv ports` lists the audio "
                            "outputs (or leave synth.device out for the default)") from None
        say(f"no sound ({e}); carrying on MIDI-only: --out or --virtual-out sends the partner to a MIDI synth, "
            "and `improv render` plays a recorded session into a .wav")
    return sinks


def recorder_factory(cfg: Config) -> Callable[[float, Any], Any] | None:
    """Makes the session's recorder at its start (None: not recording). Recording problems
    go to the "improv" log, which the jam's display shows at once."""
    if not cfg.record.enabled:
        return None

    def make(t0: float, chart: Any) -> Any:
        import logging

        from improv.live.recorder import Recorder

        say = logging.getLogger("improv.recorder").warning
        return Recorder.from_config(cfg, t0, chart, warn=say)

    return make


def play_session(cfg: Config, chart: Any, *, inq: Any, clock: Any, watched: list[Any], closers: list[Any],
                 duration: float | None = None, until: Callable[[Any], bool] | None = None,
                 on_start: Callable[[Any], None] | None = None, external: Any = None, start_beat: float = 0.0,
                 tempo_guess: float | None = None, early: Any = None) -> int:
    """Build the partner (in its own process), the outputs and the session; run it; report;
    then close `closers` (the inputs) and the outputs, within `LET_GO_S` (improv/live/ownprocess.py, `let_go`). `early`:
    the command's `EarlyStop` (a signal in the setup stops it at once; its handlers are put
    back when the session's are: see `EXIT_STATUS`)."""
    import logging

    from improv.live.conductor import install_signal_handlers
    from improv.live.session import Session
    from improv.live.status import DisplayHandler
    from improv.live.view import make_display
    from improv.partner.build import session_seed
    from improv.partner.process import ProcessPartner

    from improv import gctime
    from improv.live.ownprocess import ask_realtime, let_go

    ask_realtime(cfg)  # (the timing threads ask as they start: the worker and the view never do)
    display = make_display(cfg, sys.stderr)
    partner = ProcessPartner(cfg.responder.name, cfg.responder.markov_order)
    sinks = open_sinks(cfg, display.log)
    watched = watched + [s for s in sinks if hasattr(s, "alive")]
    try:
        session = Session(cfg, clock, inq, sinks, partner, chart=chart, recorder_factory=recorder_factory(cfg),
                          watched=watched, display=display, seed=session_seed(cfg.responder), external=external,
                          start_beat=start_beat, tempo_guess=tempo_guess)
    except BaseException:
        for s in sinks:
            s.close()
        raise
    partner.stop_asked = lambda: bool(session.stop_reason)  # Ctrl-C cuts the partner's warm-up short
    handler = DisplayHandler(display)
    logger = logging.getLogger("improv")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    # (restored to the command's own `EarlyStop` handlers, not to those before them: a signal after the
    # session, as its report is written, is remembered like one in the setup, never a kill or a traceback)
    restore = install_signal_handlers(session, display.log)
    if early is not None and early.reason:  # (caught in the setup: the session stops at once)
        session.stop(early.reason)
    status = 1  # (the exit status if the ports cannot be let go in time: see `let_go`)
    try:  # (until the command ends: a late Ctrl-C only says the session is closing)
        try:
            if not session.stop_reason:
                gctime.settle()  # (set up: the session's collections walk only what it makes; improv/gctime.py)
                session.start()
                if on_start is not None and not session.stop_reason:  # (stopped as the partner started)
                    on_start(session)
            reason = session.run(duration=duration, until=(lambda: until(session)) if until else None)
        finally:
            try:
                session.close()
            except BaseException:
                journal_hint(session)
                raise
            finally:
                logger.removeHandler(handler)
        display.log(f"session ended ({reason}): {session.summary()}")
        if session.record_path:
            path = session.record_path
            # (no sound device and no MIDI output: nothing was heard; the file can be)
            heard = "" if sinks else f" (nothing sounded here: hear it with `improv render {shlex.quote(str(path))}`, " \
                "a .wav beside it)"
            display.log(f"recorded to {path}{heard}")
        early = getattr(session.recorder, "before_start", None)
        if early is not None and not session.record_path:  # (ended in the count-in: no bar 1, no file of it)
            display.log("nothing was played from bar 1: no recording of it written")
        if early is not None:
            if (getattr(session, "counts_in", False) if session.external is None
                    else getattr(session.timeline, "offset", 0.0) < 0):  # (trading on a DAW: its count-in bars)
                before = "bar 1 (in the count-in)"
            elif session.external is None:
                before = "bar 1 (while improv started)"  # a band sets bar 1 after the partner warmed up
            else:
                before = "the clock's Start"
            display.log(f"what you played before {before}: {early}")
        problem = getattr(session.recorder, "problem", "")  # (the recorder said it when it closed)
        status = 1 if problem or reason == "port gone" or reason.startswith(("output failed", "error")) else 0
        return status
    except KeyboardInterrupt:
        status = 130  # (a third Ctrl-C abandoned the closing: `EXIT_STATUS`)
        raise
    finally:
        restore()
        gctime.release()
        let_go(closers + sinks, status)


def checked_settings(args: argparse.Namespace) -> tuple[Config, Any]:
    """Everything the jam checks before it opens a port: the settings (file and flags), the
    chart, the phrase settings, the record folder. Returns (settings, chart or None).

    Raises:
        ImprovError: one line naming the bad value, file or folder.
    """
    cfg = jam_settings(args)
    check_flag("--duration", getattr(args, "duration", None), limits.SESSION_S, "seconds")
    chart = chart_from_config(cfg, flag=getattr(args, "chords", None) is not None)
    cfg = tempo_for(cfg, chart, args)
    from improv.live.free import segment_settings

    segment_settings(cfg)  # a bad --gap, tempo or channel is reported before any port opens
    check_synth(cfg, args)
    if cfg.band.trade_bars > 0 and chart is None:  # (said where the trading was asked: a preset's, with --no-chart)
        asked = "--trade-bars" if getattr(args, "trade_bars", None) else "--mode trade" \
            if getattr(args, "mode", None) == "trade" else f"[band] trade_bars = {cfg.band.trade_bars} in the config file"
        raise ConfigError(f"trading ({asked}) follows a tune's form: give --tune NAME or --chords \"...\", "
                          "or --mode free to jam with no chart")
    unused = [flag for dest, flag in (("answer_bars", "--bars"), ("answer_on", "--answer-on"), ("gap", "--gap"))
              if getattr(args, dest, None) is not None]
    if cfg.band.trade_bars > 0 and unused:
        print(f"improv: warning: {' and '.join(unused)} {'is' if len(unused) == 1 else 'are'} not used while trading: "
              f"the form sets the turns ({counted(cfg.band.trade_bars, 'bar')} each; --trade-bars N for others)",
              file=sys.stderr)
    if getattr(args, "clock_in", None) and cfg.band.clock != "external":
        print("improv: warning: --clock-in is not used on improv's own clock: add --clock external to follow "
              "the clock on that port", file=sys.stderr)
    if cfg.record.enabled:
        from improv.live.recorder import check_record_folder

        check_record_folder(Path(cfg.record.folder))  # a session that cannot be recorded is refused up front
        say_unfinished(Path(cfg.record.folder))
    return cfg, chart


def check_synth(cfg: Config, args: argparse.Namespace) -> None:
    """A SoundFont asked for on the built-in synth needs the optional tinysoundfont package:
    checked before a port opens (ConfigError: one line naming the flag or key, and the fix)."""
    if not cfg.synth.soundfont or cfg.midi.output or cfg.midi.virtual_out:  # (the synth is not played)
        return
    from improv.core.audio.soundfont import check_soundfont_package

    if getattr(args, "soundfont", None):
        check_soundfont_package("--soundfont")
    else:  # (a config file's: it can be left for one session)
        check_soundfont_package(f"[synth] soundfont = {cfg.synth.soundfont!r} in the config file",
                                "or --no-soundfont for the built-in voices")


def say_unfinished(folder: Path) -> None:
    """Before a jam or a demo records into `folder`: one line when sessions there did not end
    (killed, a crash), whose takes wait in their journals for `improv recover`."""
    from improv.live.recovery import unfinished_hint

    hint = unfinished_hint(folder)
    if hint:
        print(f"improv: {hint}", file=sys.stderr)


def journal_hint(session: Any) -> None:
    """When the recording could not be written on the way out: where its journal is and
    how to make the file from it (stderr)."""
    rec = getattr(session, "recorder", None)
    journal = getattr(rec, "journal_path", None)
    if rec is not None and not getattr(session, "record_path", None) and journal is not None:
        print(f"the session's recording was not finished: its journal is {journal}; "
              f"run `improv recover {journal.parent}` to make the MIDI file", file=sys.stderr)


def early_stop(args: argparse.Namespace) -> tuple[Any, bool]:
    """(the command's `EarlyStop`, whether it made it and puts the handlers back itself): the
    one `improv` set up as it started (`args._early`), else a new one."""
    from improv.live.conductor import EarlyStop

    given = getattr(args, "_early", None)
    return (given, False) if given is not None else (EarlyStop(), True)


def with_early_stop(body: Callable[[argparse.Namespace, Any], int], args: argparse.Namespace) -> int:
    """`body(args, early)` with the session's stop signals caught (`early_stop`), restored after."""
    early, own = early_stop(args)
    try:
        return body(args, early)
    finally:
        if own:
            early.restore()


def run(args: argparse.Namespace) -> int:
    return with_early_stop(_run, args)


def _run(args: argparse.Namespace, early: Any) -> int:
    from improv.live.clock import RealClock
    from improv.live.ports import check_output
    from improv.live.inputqueue import InputQueue
    from improv.live.playerinputs import listening_line, open_player_inputs, watch_for_devices

    cfg, chart = checked_settings(args)
    if early.reason:  # (a signal while improv started: nothing is opened)
        return stopped_early(early)
    from improv.live.ownprocess import ask_realtime

    ask_realtime(cfg)  # (before the inputs open: their readers ask as they start)
    if early.reason:  # (a signal while it asked the JACK server: nothing is opened)
        return stopped_early(early)
    clock = RealClock(cfg.timing.spin_ms)
    inq = InputQueue(clock)
    explicit_virtual = getattr(args, "virtual_in", None) or ""
    try:
        if cfg.midi.output:
            try:
                check_output(cfg.midi.api, cfg.midi.output)
            except PortError as e:
                if getattr(args, "out", None) is None:  # (the file's port, away today: say how to play without it)
                    raise PortError(f"{e}; that is the config file's [midi] output: --synth plays the built-in "
                                    "synth instead") from None
                raise
        inputs = open_player_inputs(inq, cfg.midi.api, cfg.midi.inputs, virtual=explicit_virtual,
                                    default_virtual=cfg.midi.virtual_in)
    except BaseException as e:
        if isinstance(e, ImprovError) and early.reason:  # (the signal cut a client's opening short)
            return stopped_early(early)
        raise
    external = None
    watched = list(inputs)
    try:
        # (watched and closed as an input is: it opens the devices plugged in later)
        watch = watch_for_devices(inputs, inq, cfg.midi.api, cfg.midi.inputs, explicit_virtual)
        watched += [watch] if watch is not None else []
        for midi_in in inputs:
            if midi_in.notice:
                print(f"improv: warning: {midi_in.notice}", file=sys.stderr)
        print(f"{listening_line(inputs)}; Ctrl-C ends the session", file=sys.stderr)
        closers: list[Any] = list(watched)
        if cfg.band.clock == "external":
            from improv.live.midisync import open_clock_input

            external = open_clock_input(clock, cfg.midi.api, cfg.band.clock_in, guess=cfg.timing.tempo)
            closers.append(external)
            print(f"following MIDI clock on {external.name!r}: press play in your DAW", file=sys.stderr)
        return play_session(cfg, chart, inq=inq, clock=clock, watched=watched, closers=closers,
                            duration=args.duration, external=external, tempo_guess=tempo_guess(cfg, chart, args),
                            early=early)
    except BaseException as e:
        for midi_in in watched:
            midi_in.close()
        if external is not None:
            external.close()
        if isinstance(e, ImprovError) and early.reason:  # (the synth's or an output's opening, cut short)
            return stopped_early(early)
        raise


def stopped_early(early: Any, command: str = "jam") -> int:
    """A stop signal came while improv started (before the session, or cutting a port's or
    the synth's opening short: the signal interrupts libjack's handshake with the server, and
    that failure is the signal's, not the port's): say the session ended, and return 0, as a
    session ended by the user returns (`EXIT_STATUS`). `early`: the `EarlyStop` that caught it."""
    print(f"improv {command}: session ended ({early.reason}) before it started: nothing played, nothing recorded",
          file=sys.stderr)
    return 0

"""`improv play SESSION.mid [--out PORT]`: play a recording back, at the tempo it was made
with, through a MIDI output or the built-in synth; chord, section and text markers are
printed as they go by. Each part plays as it sounded: the player and the partner on their
channels, the rhythm section (comp, bass, click) on the channels it was recorded on, and a
file's General MIDI drums (channel 10) on channel 10, which the built-in synth plays on its
drum kit as a General MIDI module does.

Ctrl-C, Ctrl-\\, SIGTERM and SIGHUP stop it with every note released: the signal only raises a
flag that the playing loop reads between messages (it wakes at least every
`POLL_S`), so no signal can land between a note-on being sent and being noted as
sounding. Stopped so, at any moment (improv starting and the file loading too), playback
ends as the jam's session does, with status 0 (`EXIT_STATUS`). Killed outright (SIGKILL, a
crash, "Force Quit"), it leaves a MIDI output's notes to a sentinel process that runs
`improv panic` on it (improv/sentinel.py), as a killed jam's partner worker does.
"""

from __future__ import annotations

import argparse
from typing import Any

from improv.commands.common import add_config_args
from improv.core.formats.midifile import GM_DRUM_CHANNEL, is_drum

POLL_S = 0.05  # the longest the playing loop sleeps without looking for a stop
WATCH_S = 0.5  # how often the loop looks whether the output is still there (a port listing)
WATCH_ROOM_S = 0.02  # and only with this long left before the next message: a listing never makes one late
CHASED = ("program_change", "control_change", "pitchwheel", "aftertouch")  # what sets a channel up before --from
# the jam's rule (`improv.commands.jam.EXIT_STATUS`) as it applies to a playback; `improv play --help` ends with it
EXIT_STATUS = ("Exit status: 0 when the playback ends, by itself or by you: Ctrl-C, Ctrl-\\, SIGTERM or SIGHUP, at "
               "any moment, while improv starts too; every note is released. 1: the output went away while playing; "
               "2: bad flags, settings or file, or an output that cannot be opened.")


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = EXIT_STATUS
    p.add_argument("midi", metavar="SESSION.mid", help="a recorded session (or any MIDI file)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--out", metavar="PORT", help="a MIDI output (index or name substring); default: a --config "
                     "file's [midi] output, else the built-in synth")
    out.add_argument("--synth", action="store_true",
                     help="the built-in synth, whatever a --config file's [midi] output names")
    sf = p.add_mutually_exclusive_group()
    sf.add_argument("--soundfont", metavar="FILE.sf2", help="play the built-in synth with a General MIDI SoundFont")
    sf.add_argument("--no-soundfont", action="store_true",
                    help="the built-in voices, whatever a --config file's [synth] soundfont names")
    p.add_argument("--from", dest="start", type=float, default=0.0, metavar="SECONDS", help="start this far in")
    p.add_argument("--quiet", action="store_true", help="do not print the markers")
    add_config_args(p)


def output_port(cfg: Any, args: argparse.Namespace) -> str:
    """The MIDI output to play through ("" for the built-in synth): --out, else a --config
    file's `[midi] output`, as the jam sends the partner there (--synth: the synth whatever
    the file says). A file's `virtual_out` is not played into: playback starts at once, before
    anything could be connected to a port made for it."""
    if getattr(args, "synth", False):
        return ""
    return args.out or cfg.midi.output


def part_channels(rec, player_channel: int, partner_channel: int) -> dict[str, int]:
    """The parts to move onto the output channels (0-based): the player and the partner,
    when every part of the recording is on one channel, as in a session file. A file from
    elsewhere whose parts span several channels (a type-0 song, a song's accompaniment
    tracks, which `midi_to_recording` reads as the partner) plays on its own channels, and
    General MIDI drums (channel 10) stay drums: moved, they would play as pitches (a
    session's drum pads, on the player's track beside the keys, are no second channel)."""
    used: dict[str, set[int]] = {}
    drums: set[str] = set()  # parts that play drums
    for e in rec.events:
        ch = getattr(e.msg, "channel", None)
        if is_drum(e):
            drums.add(e.part)
        elif ch is not None:
            used.setdefault(e.part, set()).add(ch)
    if any(len(chs) > 1 for chs in used.values()):
        return {}
    wanted = {"player": player_channel - 1, "partner": partner_channel - 1}
    return {part: ch for part, ch in wanted.items()
            if used.get(part) != {GM_DRUM_CHANNEL} and (part in used or part not in drums)}


def playback_plan(rec, player_channel: int, partner_channel: int, start: float = 0.0) -> list[tuple[float, object]]:
    """(seconds from `start`, message or marker text) in playing order; the player and the
    partner moved onto their output channels (1-16) as `part_channels` says, the band's
    parts and a file's General MIDI drums left on theirs. Started later than 0, each channel is first set as the messages before `start` left it
    (its program, controllers such as the sustain pedal, pitch bend), as a sequencer
    chases them: a song's bass started at its chorus still sounds as a bass."""
    moved = part_channels(rec, player_channel, partner_channel)
    plan: list[tuple[float, int, object]] = []
    chased: dict[tuple[object, ...], tuple[int, Any]] = {}  # the last of each kind before `start`
    for i, e in enumerate(rec.events):
        if e.t >= start:
            ch = e.msg.channel if is_drum(e) else moved.get(e.part, e.msg.channel)
            # (a message checked when read, on a channel of its own or the config's: checking it again
            # held a three-hour session's playback up for seconds before its first note)
            plan.append((e.t - start, i, e.msg.copy(skip_checks=True, channel=ch)))
        elif e.msg.type in CHASED:
            chased[(e.part, e.msg.type, e.msg.channel, getattr(e.msg, "control", None))] = (i, e)
    for i, e in chased.values():
        plan.append((0.0, i - len(rec.events), e.msg.copy(channel=moved.get(e.part, e.msg.channel))))
    for m in rec.markers:
        if m.t >= start:
            label = {"chord": "", "section": "section "}.get(m.kind, "")
            plan.append((m.t - start, -1, f"{label}{m.text}"))
    plan.sort(key=lambda x: (x[0], x[1]))
    return [(t, item) for t, _, item in plan]


def tempo_text(tempos: tuple[tuple[float, float], ...]) -> str:
    """A recording's tempo map in words, to a tenth of a bpm: "120 bpm", or "90 bpm, 3 tempo
    changes, 90-112.5"."""
    bpms = [round(bpm, 1) for _, bpm in tempos] or [120.0]
    if len(bpms) == 1:
        return f"{bpms[0]:g} bpm"
    return f"{bpms[0]:g} bpm, {len(bpms) - 1} tempo change{'s' if len(bpms) > 2 else ''}, {min(bpms):g}-{max(bpms):g}"


class StopFlag:
    """Set by SIGINT, SIGTERM, SIGHUP, SIGQUIT or SIGBREAK (main thread); read by the playing loop."""

    def __init__(self) -> None:
        self.signal = 0
        self.ctrl_z = False  # Ctrl-Z pressed: said by the playing loop (stopped, notes would hang, and
        # at `fg` every note since would come at once)

    def __call__(self, signum: int, _frame: Any) -> None:
        self.signal = signum

    def _on_ctrl_z(self, _signum: int, _frame: Any) -> None:
        self.ctrl_z = True

    def install(self) -> dict[int, Any]:
        """Route the stopping signals here; returns the handlers to put back."""
        import signal

        old = {}
        for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGBREAK"):  # (SIGBREAK: Windows' Ctrl-Break)
            sig = getattr(signal, name, None)
            if sig is not None:
                old[sig] = signal.signal(sig, self)
        if hasattr(signal, "SIGTSTP"):
            old[signal.SIGTSTP] = signal.signal(signal.SIGTSTP, self._on_ctrl_z)
        return old


def run(args: argparse.Namespace) -> int:
    import signal

    stop = StopFlag()
    old = stop.install()  # first: a signal from here on, a long file loading too, ends in a clean close
    early = getattr(args, "_early", None)  # (improv's own, `cli.SESSIONS`: a signal caught as it started)
    if early is not None and early.signum:
        stop.signal = early.signum
    try:
        return _play(args, stop)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def stopped_early(stop: StopFlag) -> int:
    """A stop signal came before the first note (improv starting, the file loading, the
    output opening: the signal interrupts libjack's handshake, and that failure is the
    signal's, not the port's): ended by the user, so 0, as `EXIT_STATUS` says."""
    import signal

    print(f"stopped ({signal.Signals(stop.signal).name}) before playing: nothing played", flush=True)
    return 0


def _play(args: argparse.Namespace, stop: StopFlag) -> int:
    import signal
    import time

    from improv import gctime
    from improv.commands.common import settings_from_args
    from improv.config import check_flag, override
    from improv.core import limits
    from improv.core.formats.midifile import load_recording
    from improv.errors import ImprovError, PortError

    cfg = settings_from_args(args)
    start = check_flag("--from", args.start, limits.SESSION_S, "seconds") or 0.0
    rec = load_recording(args.midi)
    if not any(e.msg.type == "note_on" and e.msg.velocity > 0 for e in rec.events):
        from improv.errors import DataError

        raise DataError(f"{args.midi} has no notes to play; give a session or MIDI file in which something was played")
    port = output_port(cfg, args)
    if start and start >= rec.duration:
        from improv.errors import ConfigError

        raise ConfigError(f"--from {start:g}: {args.midi} lasts {rec.duration:.1f} s; start within it")
    if stop.signal:
        return stopped_early(stop)
    sink: Any = None
    sentinel: Any = None  # (a MIDI output's: the built-in synth stops with us)
    try:
        try:
            if port:
                from improv.live.ports import open_output

                try:
                    sink = open_output(cfg.midi.api, port)
                except PortError as e:
                    if args.out or stop.signal:
                        raise
                    raise PortError(f"{e}; that is the config file's [midi] output: --synth plays the built-in "
                                    "synth instead") from None
                where = f"MIDI output {sink.name!r}"
                from improv.sentinel import Sentinel

                api = getattr(sink, "api", "") or cfg.midi.api  # (the backend it opened on, a fallback too)
                sentinel = Sentinel.start("the playback", ((api, sink.name),))  # should we die unclosed
            else:
                from improv.live.audio import SynthSink

                # the synth picks each part's voice by channel: give it the recording's band channels
                band = {f"{p}_channel": rec.channel(p) for p in ("comp", "bass", "click")}
                sink = SynthSink(override(cfg, "band", **band), soundfont="" if args.no_soundfont else args.soundfont)
                where = f"the built-in synth on {sink.device_name!r}"
        except ImprovError:
            if stop.signal:  # (the signal cut the opening short)
                return stopped_early(stop)
            raise
        if stop.signal:
            return stopped_early(stop)
        plan = playback_plan(rec, cfg.midi.player_channel, cfg.midi.partner_channel, start)
        print(f"playing {args.midi} ({rec.duration:.0f} s, {tempo_text(rec.tempos)}) through {where}; Ctrl-C stops",
              flush=True)
        gctime.settle()  # (a full collection mid-file held the GIL 8-13 ms: a note that late)
        t0 = time.perf_counter() + 0.1
        alive = getattr(sink, "alive", lambda: True)
        watched = time.perf_counter()
        for t, item in plan:
            deadline = t0 + t
            while not stop.signal:  # sleep short, then spin: absolute deadlines, no drift
                now = time.perf_counter()
                left = deadline - now
                if now - watched >= WATCH_S and left > WATCH_ROOM_S:  # (between notes, never near a deadline)
                    watched = now
                    if not alive():  # (a failure, not bad input: 1, as the jam's port gone)
                        raise ImprovError(f"{where} is gone (unplugged, or its program quit) {t + start:.1f} s "
                                          f"into {args.midi}: nothing more was played; play it again with --from "
                                          f"{max(0.0, t + start - 2):.0f} once it is back")
                    continue  # (the listing took time: the clock is read again)
                if left <= 0:
                    break
                time.sleep(min(POLL_S, left - 0.001) if left > 0.002 else 0)
            if stop.signal:
                break
            if stop.ctrl_z:
                stop.ctrl_z = False
                print("Ctrl-Z does not pause playback (notes would hang): Ctrl-C stops it; play on later with "
                      f"--from {t + start:.0f}", flush=True)
            if isinstance(item, str):
                if not args.quiet:
                    print(f"{t + start:7.2f}s  {item}", flush=True)
            else:
                sink.send(item)
        if not stop.signal:
            end = time.perf_counter() + 0.3  # let the last release tails ring
            while not stop.signal and time.perf_counter() < end:
                time.sleep(POLL_S)
        if stop.signal:
            print(f"stopped ({signal.Signals(stop.signal).name})", flush=True)
    finally:
        gctime.release()
        if sink is not None:
            sink.close()  # a note-off for every note it started, then all-notes-off on every channel
        if sentinel is not None:
            sentinel.close()  # (closed as it should be: no panic)
    return 0  # a stop asked for by a signal is a clean end, as the jam's

"""`improv demo`: the whole live path with no hardware.

A scripted player (examples/demo_calls.mid) plays its calls into the engine in real time
through the same input queue a MIDI port's callback feeds, stamped on arrival by the same
clock; the partner answers; the terminal shows what happens; the session is recorded. It
ends once the scripted calls are answered (under 40 seconds).

The file is played on its own timeline, as `improv respond` reads it: its beat 0 is bar 1
of the chart, so a call lands on the same chord in both. The file's empty first bar is the
count-in.
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
import time
from pathlib import Path
from typing import Any

from improv.commands.common import add_config_args, add_harmony_args, add_responder_args, chart_from_config
from improv.commands.embrace_args import add_embrace_args
from improv.commands.jam import EXIT_STATUS, add_output_args, add_view_arg, check_synth, with_early_stop, jam_settings, \
    play_session, say_unfinished, stopped_early, tempo_for
from improv import STARTED
from improv.config import check_flag, override, was_set
from improv.core import limits
from improv.errors import ConfigError

# written by examples/make_demo_calls.py into examples/ and the package (for installed copies)
DEMO_CALLS = Path(__file__).resolve().parent.parent / "data" / "demo_calls.mid"
EXAMPLE_CALLS = Path(__file__).resolve().parent.parent.parent / "examples" / "demo_calls.mid"
DEMO_TUNE = "blues-f"
LEAD_IN_BEATS = 1.0  # the session starts this long before the script's first note
BUSY_POLL_S = 0.02  # how often the scripted player looks whether the partner has finished


def configure(p: argparse.ArgumentParser) -> None:
    p.epilog = EXIT_STATUS
    add_config_args(p)
    add_view_arg(p)
    p.add_argument("--calls", metavar="FILE.mid",
                   help=f"the scripted player's MIDI file (default {DEMO_CALLS.name}); its beat 0 is bar 1 of the "
                        "chart, as `improv respond` reads it, and a session file plays its `player` track")
    add_output_args(p)
    add_harmony_args(p)
    add_responder_args(p)
    add_embrace_args(p, trade=False, explain=False)  # (its --mode: the deprecated spelling of --outside)


def load_calls(path: Path, track: str | None = None) -> list[tuple[float, list[int]]]:
    """A MIDI file -> (beat, raw message bytes) of its note and controller messages, in
    file beats (beat 0 = bar 1 of the chart), so that the demo plays it at the session's
    tempo on the file's own timeline. The tracks are chosen as `improv respond` chooses
    them (`choose_tracks`): a session file's `player` track, else every track.

    Raises:
        ConfigError: the file is missing or unreadable, or holds no notes.
    """
    from improv.core.formats.calltrack import choose_tracks
    from improv.core.formats.midicheck import open_midi_file
    from improv.core.formats.miditrack import track_names
    from improv.errors import DataError

    try:
        if not path.exists():
            raise DataError(f"--calls {path}: no such file; give a MIDI file of calls (.mid)")
        mid = open_midi_file(path)  # the checks every command makes (a folder, type 2, the division, tempos, length)
    except DataError as e:
        if path.resolve() in (DEMO_CALLS, EXAMPLE_CALLS):  # the shipped file, missing or broken: it can be made again
            raise ConfigError(f"cannot read the demo's MIDI file {path}: {e} (run examples/make_demo_calls.py)") \
                from None
        raise ConfigError(str(e)) from None
    names = track_names(mid)
    try:
        choice = choose_tracks(names, track, str(path))
    except DataError as e:
        raise ConfigError(str(e)) from None
    out: list[tuple[float, list[int]]] = []
    for i in choice.indices:
        ticks = 0
        for msg in mid.tracks[i]:
            ticks += msg.time
            if not msg.is_meta and msg.type in ("note_on", "note_off", "control_change") and msg.channel != 9:
                out.append((ticks / mid.ticks_per_beat, msg.bytes()))  # (channel 10's drums are no call)
    out.sort(key=lambda e: e[0])  # stable: each track keeps its own order at equal times
    if not any(data[0] & 0xF0 == 0x90 and data[2] > 0 for _, data in out):
        raise ConfigError(f"the demo's MIDI file {path} holds no notes to play as calls in {choice.description} "
                          "(drums on channel 10 are left out); give a MIDI file with melodic phrases")
    return out


def file_tempos(path: Path) -> list[float]:
    """The tempos (bpm) a MIDI file's tempo map names, in order, each once."""
    import mido

    from improv.core.formats.midicheck import open_midi_file

    out: list[float] = []
    for track in open_midi_file(path).tracks:
        for msg in track:
            if msg.type == "set_tempo" and round(mido.tempo2bpm(msg.tempo), 1) not in out:
                out.append(round(mido.tempo2bpm(msg.tempo), 1))
    return out


def file_metre(path: Path) -> tuple[int, str] | None:
    """A MIDI file's first time signature: (its bar in quarter notes, as written, e.g. "6/8"),
    or None where it has none or one of no whole number of quarters (5/8)."""
    from improv.core.formats.midicheck import open_midi_file
    from improv.core.formats.midifile import bar_quarters

    found = []
    for track in open_midi_file(path).tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "time_signature":
                found.append((tick, msg.numerator, msg.denominator))
                break
    if not found:
        return None
    _, num, den = min(found)
    quarters = bar_quarters(num, den)
    return (quarters, f"{num}/{den}") if quarters * den == num * 4 else None


def tempo_note(tempos: list[float], tempo: float) -> str:
    """What the demo says of a calls file whose tempo map is not the session's ("" if none):
    its beats are played at the session's tempo, not at the file's."""
    if not tempos or (len(tempos) == 1 and abs(tempos[0] - tempo) <= 0.05):
        return ""
    named = f"{tempos[0]:g}-{tempos[-1]:g} bpm" if len(tempos) > 1 else f"{tempos[0]:g} bpm"
    return f"; the file's tempo ({named}) is not followed: its beats are played at {tempo:g} bpm (--tempo sets it)"


class ScriptedPlayer:
    """Plays (beat, bytes) events into the session's input queue at their times, on its own
    thread, exactly as a port callback would (the queue stamps them on arrival). Beat b is
    played at the session's beat b: the file's timeline is the chart's.

    Like a player who listens, it does not start a call over an answer: if the partner is
    still busy when a call is due (settings that answer later or longer than the file was
    written for, e.g. `answer_on = "bar"`), the rest of the file waits for it and moves on by
    whole bars, so each call keeps its place in the bar.
    """

    def __init__(self, events: list[tuple[float, list[int]]]) -> None:
        self.events = events
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, session: Any) -> None:
        self._thread = threading.Thread(target=self._play, args=(session,), name="improv-demo-player", daemon=True)
        self._thread.start()

    def _play(self, session: Any) -> None:
        first = True
        held: set[int] = set()
        shift = 0.0  # whole bars the file has moved on, waiting for answers
        try:
            for beat, data in self.events:
                if self._stop.is_set():
                    return
                on = data[0] & 0xF0 == 0x90 and data[2] > 0
                if on and not held:  # a call (or a phrase within one) starts
                    shift = self._after_answer(session, beat, shift)
                session.clock.sleep_until(session.time_of(beat + shift))
                if self._stop.is_set() or session.stop_reason:  # (the session is ending: play no more)
                    return
                if on:
                    held.add(data[1])
                elif data[0] & 0xF0 in (0x80, 0x90):
                    held.discard(data[1])
                session.inq.push(list(data))
                if first and on:
                    first = False
                    session.say(f"first note at {time.perf_counter() - STARTED:.2f} s (since improv started)")
        finally:
            self.done.set()

    def _after_answer(self, session: Any, beat: float, shift: float) -> float:
        """The shift that starts the note due at file beat `beat` after the partner's answer."""
        session.clock.sleep_until(session.time_of(beat + shift))
        if not session.partner_busy():
            return shift
        while session.partner_busy() and not self._stop.wait(BUSY_POLL_S):  # a plain wait: no spinning
            pass
        late = session.beat_at(session.clock.now()) - (beat + shift)
        return shift + max(0.0, math.ceil(late / session.bpb) * session.bpb)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)


def run(args: argparse.Namespace) -> int:
    return with_early_stop(_run, args)


def _run(args: argparse.Namespace, early: Any) -> int:
    from improv.live.clock import RealClock
    from improv.live.inputqueue import InputQueue

    metre = None  # the calls file's (bar in quarters, as written), read as `improv respond` reads it
    if args.calls and Path(args.calls).is_file():
        from improv.errors import DataError

        try:
            metre = file_metre(Path(args.calls))
        except DataError:  # (said by load_calls, after the settings, as before)
            pass
    if metre is not None and getattr(args, "chords", None) and getattr(args, "beats_per_bar", None) is None \
            and limits.BEATS_PER_BAR[0] <= metre[0] <= limits.BEATS_PER_BAR[1]:
        args.beats_per_bar = metre[0]  # --chords in the calls' metre, as `improv respond` reads them (they were 4/4)
    if not getattr(args, "chords", None) and not getattr(args, "tune", None) and not getattr(args, "no_chart", False):
        asked = getattr(args, "beats_per_bar", None)
        if asked is not None:  # (refused as "--time 3/4 with --tune blues-f", a flag the user never gave)
            from improv.core.theory.chart import load_tune
            from improv.tunefiles import find_tune

            own = load_tune(find_tune(DEMO_TUNE)).beats_per_bar
            if asked != own:
                raise ConfigError(f"--time {asked}/4: the demo plays its calls over its {DEMO_TUNE} tune, in {own}/4; "
                                  f"give chords in {asked}/4 to play them over with --chords (e.g. --chords \"C | G7 | "
                                  "C | C\"), or leave --time out")
            args.beats_per_bar = None  # (the tune's own metre: nothing to set)
        args.tune = DEMO_TUNE
    cfg = jam_settings(args)
    limit = check_flag("--duration", getattr(args, "duration", None), limits.SESSION_S, "seconds")
    cfg = override(cfg, "timing", follow=False)  # the scripted player plays on the session's beat: nothing to follow
    if cfg.band.trade_bars:  # (a config's: uptempo.toml trades fours) the script is call and response, a call
        # answered as it ends; traded, its calls fell across the turns and the last turn was an empty one answered
        print(f"demo: the script plays call and response, so the config's trading ([band] trade_bars = "
              f"{cfg.band.trade_bars}) is left to `improv jam`", file=sys.stderr)
        cfg = override(cfg, "band", trade_bars=0)
    if cfg.responder.seed < 0 and getattr(args, "seed", None) is None and not was_set(cfg, "responder", "seed"):
        cfg = override(cfg, "responder", seed=7)  # the demo sounds the same every time (unless a config asks a fresh one)
    chart = chart_from_config(cfg, flag=getattr(args, "chords", None) is not None)
    cfg = tempo_for(cfg, chart, args)
    if metre is not None and chart is not None and metre[0] != chart.beats_per_bar:  # (played over it without a word)
        print(f"demo: {Path(args.calls).name} is in {metre[1]} but {chart.title or 'the chart'} in "
              f"{chart.beats_per_bar}/4: its calls fall across the chart's bars (give chords in its metre with "
              "--chords)", file=sys.stderr)
    events = load_calls(Path(args.calls) if args.calls else DEMO_CALLS)
    check_synth(cfg, args)  # (before the synth and the partner start, as the jam checks it)
    if cfg.record.enabled:  # refused before the synth and the partner start and say their lines, as the jam does
        from improv.live.recorder import check_record_folder  # (after the calls: a refused file makes no folder)

        check_record_folder(Path(cfg.record.folder))
        say_unfinished(Path(cfg.record.folder))
    clock = RealClock(cfg.timing.spin_ms)
    inq = InputQueue(clock)
    player = ScriptedPlayer(events)
    n_calls = count_calls(events, cfg.phrase.gap_beats)
    over = (chart.title or "your chords") if chart is not None else "live harmony"
    banner = (f"demo: a scripted player plays {n_calls} calls over {over}; "
              "the partner answers each one")
    if args.calls:
        banner += tempo_note(file_tempos(Path(args.calls)), cfg.timing.tempo)

    def begin(session: Any) -> None:  # (said once the ports are open: a refused --out is then the one line)
        session.say(banner)  # (through the display, with every other line: never run into one on stderr)
        player.start(session)

    length_s = events[-1][0] * 60.0 / cfg.timing.tempo

    def finished(session: Any) -> bool:
        return player.done.is_set() and session.calls >= n_calls and session.idle

    first = next(beat for beat, data in events if data[0] & 0xF0 == 0x90 and data[2] > 0)
    start = max(0.0, first - LEAD_IN_BEATS)  # no silent bar before the first note: start just before it
    # the script and its last answer, and room for it to wait for every answer (see ScriptedPlayer)
    bar_s = cfg.timing.beats_per_bar * 60.0 / cfg.timing.tempo
    duration = length_s + 30.0 - start * 60.0 / cfg.timing.tempo + n_calls * cfg.phrase.max_answer_bars * bar_s
    if early.reason:  # (a signal while the demo started: the synth and the partner are not started)
        return stopped_early(early, "demo")
    return play_session(cfg, chart, inq=inq, clock=clock, watched=[], closers=[player], start_beat=start,
                        duration=duration if limit is None else min(limit, duration), until=finished,
                        on_start=begin, early=early)


def count_calls(events: list[tuple[float, list[int]]], gap_beats: float) -> int:
    """How many calls the segmenter will hear in the script (silences of `gap_beats` split them)."""
    held: set[int] = set()
    calls, silent_since = 0, None
    for beat, data in events:
        kind, note = data[0] & 0xF0, data[1]
        if kind == 0x90 and data[2] > 0:
            if not held and (silent_since is None or beat - silent_since >= gap_beats):
                calls += 1
            held.add(note)
        elif kind in (0x80, 0x90):
            held.discard(note)
            if not held:
                silent_since = beat
    return calls

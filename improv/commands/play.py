"""`improv play SESSION.mid [--out PORT]`: play a recording back, at the tempo it was made
with, through a MIDI output or the built-in synth; chord, section and text markers are
printed as they go by. Ctrl-C stops it with every note released."""

from __future__ import annotations

import argparse

from improv.commands.common import add_config_args


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("midi", metavar="SESSION.mid", help="a recorded session (or any MIDI file)")
    p.add_argument("--out", metavar="PORT", help="a MIDI output (index or name substring); default: the built-in synth")
    p.add_argument("--soundfont", metavar="FILE.sf2", help="play the built-in synth with a General MIDI SoundFont")
    p.add_argument("--from", dest="start", type=float, default=0.0, metavar="SECONDS", help="start this far in")
    p.add_argument("--quiet", action="store_true", help="do not print the markers")
    add_config_args(p)


def playback_plan(rec, player_channel: int, partner_channel: int, start: float = 0.0) -> list[tuple[float, object]]:
    """(seconds from `start`, message or marker text) in playing order; each part moved onto
    its output channel (1-16)."""
    plan: list[tuple[float, int, object]] = []
    for i, e in enumerate(rec.events):
        if e.t >= start:
            ch = (player_channel if e.part == "player" else partner_channel) - 1
            plan.append((e.t - start, i, e.msg.copy(channel=ch)))
    for m in rec.markers:
        if m.t >= start:
            label = {"chord": "", "section": "section "}.get(m.kind, "")
            plan.append((m.t - start, -1, f"{label}{m.text}"))
    plan.sort(key=lambda x: (x[0], x[1]))
    return [(t, item) for t, _, item in plan]


def run(args: argparse.Namespace) -> int:
    import time

    from improv.commands.common import settings_from_args
    from improv.core.formats.midifile import load_recording

    cfg = settings_from_args(args)
    rec = load_recording(args.midi)
    if args.out:
        from improv.live.ports import open_output

        sink = open_output(cfg.midi.api, args.out)
        where = f"MIDI output {sink.name!r}"
    else:
        from improv.live.audio import SynthSink

        sink = SynthSink(cfg, soundfont=args.soundfont)
        where = f"the built-in synth on {sink.device_name!r}"
    plan = playback_plan(rec, cfg.midi.player_channel, cfg.midi.partner_channel, max(0.0, args.start))
    tempo = rec.tempos[0][1]
    print(f"playing {args.midi} ({rec.duration:.0f} s, {tempo:g} bpm) through {where}; Ctrl-C stops")
    t0 = time.perf_counter() + 0.1
    try:
        for t, item in plan:
            deadline = t0 + t
            while True:  # sleep short, then spin: absolute deadlines, no drift
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                time.sleep(left - 0.001 if left > 0.002 else 0)
            if isinstance(item, str):
                if not args.quiet:
                    print(f"{t + args.start:7.2f}s  {item}", flush=True)
            else:
                sink.send(item)
        time.sleep(0.3)  # let the last release tails ring
    except KeyboardInterrupt:
        print("stopped")
    finally:
        sink.close()
    return 0

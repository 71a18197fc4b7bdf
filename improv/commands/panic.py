"""`improv panic --out PORT`: silence a synth that is stuck with hanging notes.

Sends, on all 16 channels: sustain pedal up, all-notes-off (CC 123), all-sound-off (CC 120),
reset all controllers (CC 121), pitch bend centred, and a note-off for every one of the 128
pitches (for synths that ignore CC 123): `improv.live.midiout.panic_messages`. A jam that dies
without closing (killed, or crashed in native code) has its partner's worker run it on its
`--out` port, and on JACK on the ports wired to its `--virtual-out` (improv/partner/worker.py);
an `improv play` so killed has its sentinel run it on its `--out` port (improv/sentinel.py).

It sends no program change, and needs none: none of these messages changes a channel's
program (Reset All Controllers leaves program, bank, volume and pan as they were: MIDI's
RP-015), so a module's bass is still a bass after it. Nor could it know which to send: the
band's channels and sounds are a jam's flags and settings, and the config's defaults
(electric piano on channel 3, bass on 4) sent to a musician's own set-up would change
sounds that panic is there to keep. A module that was reset by hand gets the band's sounds
again from the running jam: its panic control sends them, and a synth wired to its output
anew on JACK is sent them (improv/live/output.py).
"""

from __future__ import annotations

import argparse


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, metavar="PORT", help="MIDI output (index or name substring)")
    p.add_argument("--midi-api", choices=("alsa", "jack", "coremidi", "winmm"),
                   help="MIDI backend (default: $IMPROV_MIDI_API, else the platform's)")


def run(args: argparse.Namespace) -> int:
    from improv.errors import ConfigError
    from improv.live.ports import panic

    if not args.out.strip():  # ("" opened a virtual port of no name: a raw JACK error)
        raise ConfigError("--out is empty: give the stuck synth's MIDI output (a name or an index from improv ports)")
    name = panic(args.midi_api or "", args.out)
    print(f"all notes off on {name!r} (16 channels)")
    return 0

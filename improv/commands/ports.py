"""`improv ports`: the MIDI backend in use, the MIDI inputs and outputs, and the audio
output devices; one line for each system that is missing."""

from __future__ import annotations

import argparse


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--midi-api", choices=("alsa", "jack", "coremidi", "winmm"),
                   help="MIDI backend (default: $IMPROV_MIDI_API, else the platform's)")


def run(args: argparse.Namespace) -> int:
    from improv.live.inputguard import GUARD_PORT
    from improv.live.ports import api_name, is_hardware, list_ports

    found = list_ports(api_name(args.midi_api or ""))
    print(f"MIDI API: {found['system']}")
    for title, key in (("MIDI inputs (--in; once for each device to play several)", "inputs"),
                       ("MIDI outputs (--out)", "outputs")):
        print(f"{title}:")
        shown = [(i, name) for i, name in enumerate(found[key]) if GUARD_PORT not in name]  # (a jam's own)
        for i, name in shown:
            hw = "  (hardware)" if key == "inputs" and is_hardware(name, found["api"]) else ""
            print(f"  {i}: {name}{hw}")
        if not shown:
            print("  none")
    print("audio outputs (built-in synth):")
    for name in found["audio"]:
        print(f"  {name}")
    if not found["audio"]:
        print("  none")
    for problem in found["problems"]:
        print(f"note: {problem}")
    return 0

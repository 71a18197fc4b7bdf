"""`improv render SESSION.mid -o SESSION.wav [--stems] [--soundfont F]`: a session to audio,
streamed to disk in bounded memory and written atomically (no partial file on failure)."""

from __future__ import annotations

import argparse

from improv.commands.common import add_config_args


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("midi", metavar="SESSION.mid", help="a recorded session (or any MIDI file)")
    p.add_argument("-o", "--out", metavar="FILE.wav", help="the WAV file to write (default: beside the .mid)")
    p.add_argument("--stems", action="store_true", help="also write each part that played to FILE-PART.wav "
                   "(player, partner, and comp, bass, click in band sessions)")
    sf = p.add_mutually_exclusive_group()
    sf.add_argument("--soundfont", metavar="FILE.sf2", help="render with a General MIDI SoundFont "
                    "(needs pip install --no-deps tinysoundfont)")
    sf.add_argument("--no-soundfont", action="store_true",
                    help="the built-in voices, whatever a --config file's [synth] soundfont names")
    p.add_argument("--tail", type=float, default=1.0, metavar="SECONDS", help="silence left for release tails (default 1)")
    add_config_args(p)


def run(args: argparse.Namespace) -> int:
    import time

    from improv.commands.common import settings_from_args
    from improv.config import check_flag
    from improv.core import limits
    from improv.core.audio.render import midi_file_to_wav
    from improv.core.formats.paths import output_with_suffix
    from improv.errors import ImprovError

    cfg = settings_from_args(args)
    out = output_with_suffix(args.out, "-o", (".wav",), "improv render writes WAV audio") if args.out else None
    tail = check_flag("--tail", args.tail, limits.TAIL_S, "seconds")
    s = cfg.synth
    sf_path = "" if args.no_soundfont else args.soundfont if args.soundfont is not None else s.soundfont
    soundfont = None
    if sf_path:
        from improv.core.audio.soundfont import load_soundfont

        soundfont = load_soundfont(sf_path, s.sample_rate)
    started = time.perf_counter()
    try:
        written, seconds = midi_file_to_wav(args.midi, out, s.sample_rate, (s.player_voice, s.partner_voice),
                                            s.polyphony, s.volume, args.stems, soundfont, tail, say=print)
    except OSError as e:  # (a failure midway, a full disk: 1, as the jam's recording failing; a folder that cannot
        # be written is refused before any audio is made, as bad input: 2)
        raise ImprovError(f"cannot write the WAV file ({e.strerror or e}); nothing was left behind: free some space "
                          "or give -o another folder") from None
    took = time.perf_counter() - started
    for path in written:
        print(f"wrote {path}")
    print(f"{seconds:.1f} s of audio in {took:.1f} s ({seconds / max(took, 1e-9):.0f}x real time)")
    return 0

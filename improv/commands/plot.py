"""`improv plot SESSION.mid -o SESSION.png`: a piano roll of a session.

The player and the partner in two colours (the comping and the bass in two more, each in
the legend when the file has it), bar lines, chord symbols and sections above, the
player's and the partner's outside notes (pitch class not in the chord's scale) ringed in
red. Needs matplotlib
(`pip install 'improv[plot]'`).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from improv.errors import ConfigError, DataError

COLOURS = {"player": "#2b6cb0", "partner": "#dd6b20", "comp": "#38a169", "bass": "#805ad5", "click": "#a0aec0"}
OUTSIDE = "#e53e3e"
PICTURES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")  # formats the plot writes (matplotlib's Agg, SVG, PDF)
MAX_BARS = 256  # the most bars one picture draws (60 inches wide at most: beyond, nothing is legible)


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("midi", metavar="SESSION.mid", help="a recorded session (or any MIDI file)")
    p.add_argument("-o", "--out", metavar="FILE.png", help="the picture to write (default: beside the .mid)")
    p.add_argument("--bars", metavar="A-B", help=f"only bars A to B (1-based), e.g. 1-16; at most {MAX_BARS} bars")


def bar_window(text: str | None, bars: int, beats_per_bar: int, name: str = "the file",
               bar_start=None) -> tuple[float, float]:  # noqa: ANN001 - Callable[[int], float]
    """`--bars A-B` (or the whole file) -> (first, last) beat to draw; `bar_start` gives the
    beat a bar (0-based) starts on where the metre changes (default: `beats_per_bar` each).

    Raises:
        ConfigError: a malformed range, or more than MAX_BARS bars (naming the file's length
            and the flag to give).
    """
    if text:
        try:
            a, b = (int(x) for x in text.split("-"))
        except ValueError:
            raise ConfigError(f"--bars: expected A-B such as 1-16, found {text!r}") from None
        if not 1 <= a <= b:
            raise ConfigError(f"--bars: expected 1 <= A <= B, found {text!r}")
        if a > bars:
            raise ConfigError(f"--bars {text}: {name} has {bars} bar{'s' if bars != 1 else ''}; give a range within "
                              f"1-{bars}")
        b = min(b, bars)  # a range past the end draws to the end
    else:
        a, b = 1, bars
    if b - a + 1 > MAX_BARS:
        what = f"--bars {text} covers {b - a + 1:,} bars of {name}" if text else f"{name} spans {bars:,} bars"
        raise ConfigError(f"{what}; a plot draws at most {MAX_BARS} bars: give --bars A-B, e.g. "
                          f"--bars {a}-{a + MAX_BARS - 1}")
    if bar_start is not None:
        return bar_start(a - 1), bar_start(b)
    return (a - 1) * beats_per_bar, b * beats_per_bar


def run(args: argparse.Namespace) -> int:
    from improv.core.formats.paths import beside, output_with_suffix, writable_output
    from improv.core.formats.midifile import load_recording
    from improv.core.formats.pianoroll import recording_to_roll

    rec = load_recording(args.midi)
    # (a bare name gets .png, what matplotlib would write, and the line below says so)
    out = output_with_suffix(args.out, "-o", PICTURES, "a plot is a picture") if args.out else \
        beside(Path(args.midi).with_suffix(".png"))  # (never over a picture already there)
    out = writable_output(out, "-o", (args.midi,))
    roll = recording_to_roll(rec)
    if not roll.notes:
        drums = rec.drum_notes()
        why = f"only {drums} drum notes on channel 10, which a piano roll leaves out" if drums else \
            "an empty picture would say nothing"
        raise DataError(f"{args.midi} has no notes to draw ({why}); give a session or MIDI file in which something "
                        "pitched was played")
    first, last = bar_window(args.bars, roll.bars, roll.beats_per_bar, Path(args.midi).name, roll.bar_start)
    if not args.bars:
        last = min(last, max(roll.length, roll.beats_per_bar))
    # (a name that is not UTF-8 is drawn with a replacement character: matplotlib refuses its surrogates)
    title = Path(args.midi).name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    draw_roll(roll, out, first, last, title=title)
    odd = odd_metres(args.midi)
    if odd:  # (no whole number of quarter notes a bar: drawn as if the eighths were quarters)
        print(f"{Path(args.midi).name} is in {' and '.join(odd)}: each bar is drawn as many quarter notes long as its "
              "top number, and bars are counted so")
    shown = [n for n in roll.notes if first <= n.note.start < last]
    outside = sum(1 for n in shown if n.outside)
    plain = Path(args.midi).with_suffix(".png")
    if not args.out and out != plain:  # (as render says it: the README's "and say so")
        print(f"{plain} is there already and is kept (-o names the file)")
    print(f"wrote {out} ({len(shown)} note{'s' if len(shown) != 1 else ''}, {outside} outside the chord)")
    return 0


def odd_metres(path: str | Path) -> list[str]:
    """The time signatures of a MIDI file whose bars hold no whole number of quarter notes
    (5/8, 7/8): the roll counts their bars in quarter notes, one per eighth."""
    from improv.core.formats.midicheck import open_midi_file

    seen: list[str] = []
    for track in open_midi_file(path).tracks:
        for msg in track:
            if msg.type == "time_signature" and (msg.numerator * 4) % msg.denominator:
                metre = f"{msg.numerator}/{msg.denominator}"
                if metre not in seen:
                    seen.append(metre)
    return seen


CHORD_CHAR_IN = 0.09  # inches a character of a chord label takes (9 pt bold), with room to spare


def chord_rows(chords: list[tuple[float, str]], beats_per_inch: float) -> list[tuple[tuple[float, str], int]]:
    """Each chord label with its row (0, or 1 where it would run into the label before it on
    row 0: "Cm7", "Gb7" and "F7" a beat apart printed as "Cm7Gb7F7")."""
    ends = [-math.inf, -math.inf]
    out = []
    for beat, sym in sorted(chords):
        row = 0 if beat >= ends[0] else 1 if beat >= ends[1] else 0
        ends[row] = beat + (len(sym) + 1) * CHORD_CHAR_IN * beats_per_inch
        out.append(((beat, sym), row))
    return out


def draw_roll(roll, out: Path, first: float, last: float, title: str = "") -> Path:
    """Draw `roll` between beats `first` and `last` into a picture (see `roll_figure`), in
    the format `out`'s suffix names, written beside it first and renamed into place, so a
    failure leaves no partial file and an earlier picture as it was.

    Raises:
        ConfigError: the picture cannot be written (a full disk, a folder refused): one line.
    """
    from improv.core.formats.paths import whole_or_nothing

    fig, legend = roll_figure(roll, first, last, title)
    import matplotlib.pyplot as plt

    try:
        with whole_or_nothing(out) as tmp:
            fig.savefig(tmp, format=out.suffix.lstrip(".").lower() or "png", dpi=100, bbox_extra_artists=[legend],
                        bbox_inches="tight")
    except OSError as e:
        raise ConfigError(f"cannot write {out} ({e.strerror or e}); nothing was left behind: free some space or "
                          "give -o another folder") from None
    finally:
        plt.close(fig)
    return out


def roll_figure(roll, first: float, last: float, title: str = ""):  # noqa: ANN201 - (Figure, Legend)
    """A matplotlib figure of `roll` between beats `first` and `last`: every C named on the
    pitch axis with its octave (C4 = middle C), the legend below the chart, clear of the
    chord symbols. Returns (figure, legend)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch, Rectangle
    except ImportError:
        raise ConfigError("drawing needs matplotlib, which is not installed: pip install 'improv[plot]' (or pip "
                          "install matplotlib)") from None  # (after "improv plot: ", which names the command)
    from improv.core.formats.pianoroll import pitch_ticks
    from improv.core.theory.notes import pitch_name

    notes = [n for n in roll.notes if n.note.end > first and n.note.start < last]
    pitches = [n.note.pitch for n in notes] or [60]
    lo, hi = min(pitches) - 2, max(pitches) + 3
    lo -= lo % 12 if not any(p % 12 == 0 for p in range(lo, hi + 1)) else 0  # down to a C, so one is named
    bars = max(1.0, (last - first) / roll.beats_per_bar)
    fig, ax = plt.subplots(figsize=(min(60.0, 4.0 + bars * 0.9), min(12.0, 3.0 + (hi - lo) * 0.12)))
    for n in notes:
        ax.add_patch(Rectangle((n.note.start, n.note.pitch - 0.4), n.note.duration, 0.8,
                               facecolor=COLOURS[n.part], alpha=0.35 + 0.6 * n.note.velocity / 127,
                               edgecolor=OUTSIDE if n.outside else "none", linewidth=1.6 if n.outside else 0))
    for b in roll.bar_lines(first, last):
        ax.axvline(b, color="#999999", linewidth=0.6, zorder=0)
        ax.text(b + 0.05, lo + 0.2, str(roll.bar_of(b) + 1), fontsize=7, color="#777777")
    rows = chord_rows([(b, sym) for b, sym in roll.chords if first <= b < last],
                      (last - first) / max(1.0, fig.get_figwidth() - 1.0))
    for (beat, sym), row in rows:  # (chords a beat apart, as a re-harmonised bar has, on two rows)
        ax.text(beat + 0.05, hi + 0.3 + 1.2 * row, sym, fontsize=9, fontweight="bold", va="bottom", clip_on=True,
                parse_math=False)  # (a marker's "$" is no TeX)
    lift = 1.2 if any(row for _, row in rows) else 0.0
    for beat, name in roll.sections:
        if first <= beat < last:
            ax.text(beat + 0.05, hi + 1.6 + lift, f"[{name}]", fontsize=9, color="#444444", va="bottom",
                    clip_on=True, parse_math=False)
    ax.set_xlim(first, last)
    ax.set_ylim(lo, hi + 2.8 + lift)
    cs = pitch_ticks(lo, hi)
    ax.set_yticks(cs, [pitch_name(p) for p in cs])
    ax.set_yticks(range(lo, hi + 1), minor=True)
    for p in cs:
        ax.axhline(p, color="#dddddd", linewidth=0.5, zorder=0)
    ax.set_xlabel("beats")
    parts = [p for p in COLOURS if any(n.part == p for n in roll.notes)] or ["player", "partner"]
    handles = [Patch(color=COLOURS[p], label=p) for p in parts]
    handles.append(Patch(facecolor="white", edgecolor=OUTSIDE, label="outside the chord (player, partner)"))
    legend = ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=8,
                       ncols=len(handles), frameon=False)
    if title:
        ax.set_title(title, fontsize=10, loc="left", parse_math=False)  # (a "$" in a name is no TeX)
    fig.tight_layout()
    return fig, legend

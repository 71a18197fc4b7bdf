"""A time signature as improv plays it: a number of quarter-note beats a bar.

One rule for every place a metre is given (`--time`, a tune file's or a config file's
`beats_per_bar`), so that a chart's time signature copied into any of them means the same.
Improv counts quarter notes: its count-in, click, comping, swing and phrase lengths are all
in quarters, and it has no feel in two. So 2/4 (a march, a samba) is two beats a bar, and
cut time, 2/2 as a bebop head is written, is the same bar as 4/4 with the tempo counted in
quarters: taken as two beats a bar at the chart's half-note tempo, it would sound right
only in its bar lines, its lines at half their speed. It is refused, naming the bar and the
tempo to give, rather than guessed at: the tempo may come from elsewhere (a tune file, a
config) and doubling it there unseen would surprise more than it helps.
"""

from __future__ import annotations

CUT_TIME = ("cut", "c|", "alla breve")  # cut time's names, as a musician may write it: 2/2


def metre_beats(text: str, bar: str = "--time {}/4", tempo: str = "--tempo {}") -> int:
    """`"3/4"` (or `"3"`) -> 3 quarter-note beats a bar.

    Args:
        text: a time signature as written on a chart: N/4, N, or N/2 and cut time (refused).
        bar: how the place the metre came from writes N beats a bar, for the error
            (`"--time {}/4"`, `"beats_per_bar = {}"`).
        tempo: how it writes a tempo of N quarter notes a minute (`"--tempo {}"`, `"tempo = {}"`),
            its first word the setting's name.

    Raises:
        ValueError: one line saying what was found and what to give instead.
    """
    top, _, bottom = text.strip().partition("/")
    if text.strip().lower() in CUT_TIME:
        top, bottom = "2", "2"
    try:
        beats = int(top)
    except ValueError:
        raise ValueError(f"{text!r} is not a time signature: give one such as 3/4") from None
    if bottom.strip() == "2" and beats > 0:
        default = " (the default)" if beats == 2 else ""
        two = f"; a tune in two quarter-note beats is {bar.format(2)}" if beats == 2 else ""
        raise ValueError(
            f"{text!r}: improv counts quarter-note beats (its count-in and comping too: no feel in two), so give "
            f"the same bar as {bar.format(2 * beats)}{default} with {tempo.split()[0]} in quarter notes "
            f"(a half note at 150 is {tempo.format(300)}){two}")
    if bottom.strip() not in ("", "4"):
        raise ValueError(f"{text!r}: improv counts quarter-note beats, so give {bar.format('N')} (a 6/8 tune "
                         f"plays as {bar.format(3)}, 12/8 as {bar.format(4)})")
    return beats

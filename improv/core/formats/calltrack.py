"""Which tracks of a MIDI file hold the call: `improv respond` and `improv demo` read a
file the same way.

A session file (`improv jam` writes one) has a `player` track and a `partner` track (and
the band's); the call is the player's, so that track is read unless another is asked for.
Any other file is read whole (all its tracks merged), or the one track asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

from improv.errors import DataError

PLAYER_TRACK = "player"


@dataclass(frozen=True)
class TrackChoice:
    """The tracks a call is read from.

    Attributes:
        indices: track indices (0-based) whose notes make the call.
        description: what was read, for one line of output, e.g. "track 1 'player' of 3".
    """

    indices: tuple[int, ...]
    description: str


def _label(i: int, name: str) -> str:
    return f"track {i} {name!r}" if name else f"track {i} (unnamed)"


def choose_tracks(names: list[str], track: str | None, source: str = "the file") -> TrackChoice:
    """The tracks to read the call from.

    Args:
        names: each track's name ("" for an unnamed one), in file order.
        track: `--track`: an index from 0 or a track name; None = the `player` track if
            there is one, else every track.
        source: the file, for messages.

    Raises:
        DataError: `track` names no track of the file (the message lists them).
    """
    n = len(names)
    if track is not None:
        text = track.strip()
        if text.isdigit() and int(text) < n:
            i = int(text)
        elif text and text in names:
            i = names.index(text)
        elif text and text.lower() in [name.strip().lower() for name in names]:  # as ports match: any case
            i = [name.strip().lower() for name in names].index(text.lower())
        else:
            listing = ", ".join(f"{k}:{name or '(unnamed)'}" for k, name in enumerate(names)) or "none"
            raise DataError(f"{source} has no track {track!r}; its tracks are {listing} (give --track N or NAME)")
        return TrackChoice((i,), f"{_label(i, names[i])} of {n} (--track)")
    lowered = [name.strip().lower() for name in names]
    if PLAYER_TRACK in lowered:
        i = lowered.index(PLAYER_TRACK)
        others = n - 1
        rest = f"; {others} other track{'s' if others != 1 else ''} left out (--track to choose)" if others else ""
        return TrackChoice((i,), f"{_label(i, names[i])} of {n}{rest}")
    if n == 0:  # (an empty file: no --track would help)
        return TrackChoice((), "any track: the file has none")
    if n == 1:
        return TrackChoice((0,), _label(0, names[0]))
    return TrackChoice(tuple(range(n)), f"all {n} tracks merged (--track to choose one)")

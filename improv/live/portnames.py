"""Port names as the MIDI backends list them, and a name no other program uses yet.

JACK lists `client:port`, ALSA `client:port 128:0`; two programs may both create a port
called "improv in" (two jams), and then neither the user nor improv can tell them apart:
`unique_port_name` gives the second one a number.
"""

from __future__ import annotations

import re


def port_short_name(full: str) -> str:
    """A listed port's own name: "improv:improv in" (JACK) or "improv:improv in 128:0"
    (ALSA) -> "improv in"."""
    full = re.sub(r"\s+\d+:\d+$", "", full)
    return full.split(":", 1)[-1].strip()


def unique_port_name(name: str, taken: list[str]) -> str:
    """`name`, or `name 2`, `name 3`... whichever no listed port has already."""
    names = {port_short_name(t) for t in taken}
    if name not in names:
        return name
    n = 2
    while f"{name} {n}" in names:
        n += 1
    return f"{name} {n}"

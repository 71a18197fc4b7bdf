"""The ranges every value a user can give must lie in, and the one-line checks for them.

Configs (improv/config.py), tune files (improv/core/theory/chart.py), MIDI files
(improv/core/formats/midifile.py) and the commands' own flags all check against these
constants, so a value means the same everywhere and `improv jam`, `respond`, `render`,
`plot` and `play` reject the same things. Each check raises one error that names the
value, the range and what was found; nothing non-finite ever passes.
"""

from __future__ import annotations

import math
from typing import Any

from improv.errors import ConfigError

TEMPO_BPM = (20.0, 600.0)  # a tempo a band can play (configs, flags, tune files)
FILE_TEMPO_BPM = (1.0, 1000.0)  # a tempo a MIDI file may hold (files from elsewhere are looser)
BEATS_PER_BAR = (1, 16)
FILE_BEATS_PER_BAR = (1, 32)
CHANNEL = (1, 16)
SWING = (0.5, 4.0)  # long:short ratio of eighth pairs (1 straight, 2 triplet, below 1 a Scotch snap)
GAP_BEATS = (0.125, 16.0)
BARS = (1, 64)  # call and answer lengths in bars
TEMPERATURE = (0.01, 5.0)
TOP_P = (0.01, 1.0)
PITCH = (0, 127)
LATE_THRESHOLD_MS = (0.1, 1000.0)
SPIN_MS = (0.0, 20.0)
SESSION_S = (0.0, 24 * 3600.0)  # --duration, --from: a day at most
RECORDING_S = (0.0, 31 * 24 * 3600.0)  # a recording's (a journal's, a MIDI file's) length: an open-ended jam may run for days
TAIL_S = (0.0, 60.0)
SEED = (-1, 2**31 - 1)


def finite_number(where: str, value: Any, error: type[Exception] = ConfigError) -> float:
    """`value` as a float, if it is a real, finite number (not a bool, not NaN or infinity).

    Raises:
        `error`: one line naming `where` and what was found.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(f"{where}: expected a number, found {value!r}")
    if not math.isfinite(value):
        raise error(f"{where}: expected a finite number, found {value!r}")
    return float(value)


def check_range(where: str, value: Any, bounds: tuple[float, float], unit: str = "",
                error: type[Exception] = ConfigError, fix: str = "") -> Any:
    """`value` unchanged if it is a finite number within `bounds` (inclusive).

    Args:
        where: the flag, key or file position, e.g. "--tempo" or "timing.tempo".
        value: what the user gave.
        bounds: (lowest, highest) allowed.
        unit: shown after the range, e.g. "bpm".
        error: the error class to raise (ConfigError for settings, DataError for files).
        fix: what to do instead, appended to the message.

    Raises:
        `error`: one line: "where: expected lo-hi unit, found value[; fix]".
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(f"{where}: expected a number, found {value!r}")
    lo, hi = bounds
    if not (math.isfinite(value) and lo <= value <= hi):  # NaN fails every comparison: caught here too
        unit_text = f" {unit}" if unit else ""
        raise error(f"{where}: expected {_num(lo)} to {_num(hi)}{unit_text}, found {_num(value)}"
                    + (f"; {fix}" if fix else ""))
    return value


def check_int(where: str, value: Any, bounds: tuple[int, int], unit: str = "",
              error: type[Exception] = ConfigError) -> int:
    """`value` if it is a whole number (an int, not a bool) within `bounds`.

    Raises:
        `error`: one line naming `where`, the range and what was found.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{where}: expected a whole number from {bounds[0]} to {bounds[1]}, found {value!r}")
    check_range(where, value, (bounds[0], bounds[1]), unit, error)
    return value


def _num(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)

"""improv: a real-time jazz improvisation partner."""

__version__ = "0.1.0"

import time as _time

STARTED = _time.perf_counter()  # when improv was first imported: `improv demo` times its first note from here

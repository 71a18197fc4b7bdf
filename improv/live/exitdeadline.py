"""A deadline for a process's last steps that holds even while a thread is stuck in C with
the GIL held.

`exit_after(seconds, status)` arms a timer of the C library's own (POSIX `timer_create`):
when it expires, its notify function, `_exit(status)`, runs on a thread that never touches
Python, so the process ends with `status` whatever the interpreter is doing. The function
returned cancels it.

Why not a Python thread or a signal handler: python-rtmidi holds the GIL while libjack
waits on the JACK server in `close_port` and `delete` (a thread closing a port on a stopped
server froze every other thread, the main one included, until the server answered). On a
busy machine a JACK server that is not real-time took 3-10 s, once over 30 s, to let a jam's
ports go, and nothing in Python could run meanwhile.

Where there is no `timer_create` (macOS, Windows) no deadline is armed: the function
returned does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import Callable

_SIGEV_THREAD = 2  # the notify function is called on a new thread
_CLOCK_MONOTONIC = 1
_SIGEVENT_SIZE = 64  # sizeof(struct sigevent) on Linux (glibc and musl), 32- and 64-bit


class _Sigval(ctypes.Union):
    _fields_ = [("sival_int", ctypes.c_int), ("sival_ptr", ctypes.c_void_p)]


_HEAD = [("value", _Sigval), ("signo", ctypes.c_int), ("notify", ctypes.c_int),
         ("function", ctypes.c_void_p), ("attributes", ctypes.c_void_p)]


class _Head(ctypes.Structure):
    _fields_ = _HEAD


class _Sigevent(ctypes.Structure):
    """struct sigevent for SIGEV_THREAD: the value passed, the function, its attributes."""
    _fields_ = _HEAD + [("_pad", ctypes.c_byte * (_SIGEVENT_SIZE - ctypes.sizeof(_Head)))]


class _Timespec(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("interval", _Timespec), ("value", _Timespec)]


def _libc() -> tuple[ctypes.CDLL, int] | None:
    """The library with `timer_create` (the C library; librt on glibc before 2.34) and the
    address of `_exit`; None off Linux, or where either is missing."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        exit_fn = ctypes.cast(ctypes.CDLL(None)._exit, ctypes.c_void_p).value
    except (OSError, AttributeError):
        return None
    for name in (None, ctypes.util.find_library("rt")):
        try:
            lib = ctypes.CDLL(name)
            lib.timer_create.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
        except (OSError, AttributeError):
            continue
        lib.timer_settime.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
        lib.timer_delete.argtypes = [ctypes.c_void_p]
        return (lib, exit_fn) if exit_fn else None
    return None


def exit_after(seconds: float, status: int) -> Callable[[], None]:
    """End the process with `status` (0-255) in `seconds` unless the function returned is
    called first. What was printed is flushed now (nothing is flushed at the deadline).
    Any thread; where the deadline cannot be armed, the function returned does nothing."""
    sys.stdout.flush()
    sys.stderr.flush()
    found = _libc()
    if found is None:
        return lambda: None
    lib, exit_fn = found
    ev = _Sigevent()
    ev.notify = _SIGEV_THREAD
    ev.value.sival_int = status  # (passed to `_exit` as its int argument)
    ev.function = exit_fn
    timer = ctypes.c_void_p()
    if lib.timer_create(_CLOCK_MONOTONIC, ctypes.byref(ev), ctypes.byref(timer)) != 0:
        return lambda: None
    spec = _Itimerspec()
    spec.value.sec, spec.value.nsec = int(seconds), max(1, int((seconds % 1.0) * 1e9))
    if lib.timer_settime(timer, 0, ctypes.byref(spec), None) != 0:
        lib.timer_delete(timer)
        return lambda: None
    armed = [timer]

    def cancel() -> None:
        if armed:
            lib.timer_delete(armed.pop())

    return cancel

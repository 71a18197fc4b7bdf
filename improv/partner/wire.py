"""Messages over a byte stream (the worker's stdin and stdout): a 4-byte length, then a
pickle. Both ends are this program, so pickle is safe here; it is never used on files."""

from __future__ import annotations

import pickle
import struct
from typing import Any, BinaryIO

_LEN = struct.Struct("!I")


def send(stream: BinaryIO, obj: Any) -> None:
    """Write one message and flush (raises BrokenPipeError/OSError when the other end is gone)."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LEN.pack(len(data)) + data)
    stream.flush()


def recv(stream: BinaryIO) -> Any:
    """Read one message (blocks). Raises EOFError when the other end has closed."""
    head = _read(stream, _LEN.size)
    return pickle.loads(_read(stream, _LEN.unpack(head)[0]))


def _read(stream: BinaryIO, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        b = stream.read(n - got)
        if not b:
            raise EOFError("the other end closed the pipe")
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)

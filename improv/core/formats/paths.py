"""Checking, before any work, that a command can write its output file."""

from __future__ import annotations

import os
from pathlib import Path

from improv.errors import ConfigError


def writable_output(path: str | Path, flag: str = "-o") -> Path:
    """Check that a command can write its output file at `path` before any work is done.

    Raises:
        ConfigError: the path is a folder, or its folder is missing or not writable
            (one line naming the path and the flag to change).
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{flag} {path}: that is a folder; give a file path")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"{flag} {path}: the folder {folder} does not exist; create it or write elsewhere")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {path}: the folder {folder} is not writable; write elsewhere")
    return path

"""Checking, before any work, that a command can write its output file, and writing it
whole or not at all (`whole_or_nothing`)."""

from __future__ import annotations

import os
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from improv.errors import ConfigError


def writable_output(path: str | Path, flag: str = "-o", inputs: Iterable[str | Path] = ()) -> Path:
    """Check that a command can write its output file at `path` before any work is done.

    A symbolic link is written through (the path returned is its target, so that an atomic
    replace changes the file the link points at, not the link).

    Args:
        path: the output file.
        flag: the option that gave it, for the message.
        inputs: the files the command reads: the output must not be one of them.

    Raises:
        ConfigError: the path is a folder, a device, a pipe or anything but a regular file,
            one of the command's inputs, or its folder is missing or not writable (one line
            naming the path and the flag to change).
    """
    given = Path(path)
    path = Path(os.path.realpath(given)) if given.is_symlink() else given
    if path.is_dir():
        raise ConfigError(f"{flag} {given}: that is a folder; give a file path")
    try:
        mode = path.stat().st_mode
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        raise ConfigError(f"{flag} {given}: that is not a regular file (a device or a pipe); give a file path")
    for src in inputs:
        try:
            same = mode is not None and os.path.samefile(path, src)
        except OSError:
            same = False
        if same:
            raise ConfigError(f"{flag} {given}: that is the input file {src}, which would be overwritten; "
                              "give another output path")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"{flag} {given}: the folder {folder} does not exist; create it or write elsewhere")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {given}: the folder {folder} is not writable; write elsewhere")
    return path


def beside(path: str | Path) -> Path:
    """A default output's path: `path`, or `<stem>-2<suffix>`, `-3` ... when a file is there
    already. A command that writes beside its input without being told where (`song.wav` for
    `song.mid`) must never replace what the user has there: their own bounce of the song, or
    the last answer, drawn with another seed. (An `-o` the user gives is theirs to overwrite.)"""
    path, n = Path(path), 2
    out = path
    while out.exists() or out.is_symlink():
        out = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return out


def output_with_suffix(path: str | Path, flag: str, suffixes: tuple[str, ...], what: str) -> Path:
    """`path` for a file of one kind: with `suffixes[0]` added when it has no suffix; one of
    another kind (`-o take.mp3` for a WAV) is refused rather than written under a name that
    would have a player open it wrongly.

    Raises:
        ConfigError: one line naming the flag, the path and the endings to use.
    """
    p = Path(path)
    if p.is_dir() or (p.exists() and not p.is_file()):
        return p  # (refused as a folder or a device by `writable_output`, not turned into a file beside it:
        # -o /dev/null made /dev/null.wav)
    if not p.suffix:
        return p.with_name(p.name + suffixes[0])
    if p.suffix.lower() not in suffixes:
        raise ConfigError(f"{flag} {path}: {what}; give a file ending in {' or '.join(suffixes)}")
    return p


def sync_folder(folder: str | Path) -> None:
    """Make a folder's entries durable (a file created, renamed or removed in it), where
    the system allows: without it a power cut can keep a later change and lose an earlier
    one (e.g. a journal's removal, but not the recording renamed into place before it)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # (Windows cannot open a folder: its renames are durable as they are)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def whole_or_nothing(path: str | Path) -> Iterator[Path]:
    """A temporary path beside `path` to write the file to: renamed onto `path` when the
    block ends, removed when it raises, so a failure (a full disk, an interrupt) leaves no
    half-written file and an earlier one as it was."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        yield tmp
        try:  # a file written again keeps its permissions (a private file stays private)
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        except FileNotFoundError:
            pass
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)

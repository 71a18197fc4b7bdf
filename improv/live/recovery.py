"""Session journals to MIDI files: `journal_to_midi_file` when a session closes, and
`recover` for the journals a crash left behind (`improv recover`). Reading a journal, damaged
or not, is `improv.live.journalread`'s.
"""

from __future__ import annotations

import errno
import glob
import io
import os
import shlex
from pathlib import Path
from typing import Callable

import mido

from improv.core.formats.midifile import BAND_PARTS, Recording, recording_to_midi
from improv.core.formats.paths import sync_folder, whole_or_nothing
from improv.live.journal import journal_is_live, rescue_folders, warn_stderr
from improv.live.journalread import JOURNAL_SUFFIX, load_journal, load_journal_parts, load_journal_report

SOUNDING_PARTS = frozenset(("player", "partner"))  # a session where neither played holds nothing
ANY_PART = SOUNDING_PARTS | frozenset(BAND_PARTS)


def before_start_path(mid: Path) -> Path:
    """Where `journal_to_midi_file` puts what was played before an external clock's Start."""
    return mid.with_name(f"{mid.stem}-before-start{mid.suffix}")


def journal_to_recording(path: Path) -> Recording:
    """Rebuild a `Recording` from a journal file (see `load_journal`).

    Raises:
        ValueError: the file has no readable header.
    """
    return load_journal(path)[0]


def journal_to_midi_file(path: Path, out: Path | None = None,
                         keep_damaged: bool = False) -> tuple[Path | None, int, Path | None]:
    """Convert a journal to a .mid (default: beside it), written atomically, then remove the
    journal (`keep_damaged`: keep it when records had to be skipped; a session closing
    normally wrote every one of them, so one it cannot read is kept for a look). A session
    that followed a DAW's clock starts its file at the DAW's Start; the notes played before
    that Start go to their own file (`before_start_path`), never lost. A session that never
    got to bar 1 with a note in it (ended in its count-in, after a pickup) has only that file.

    Returns:
        (the .mid path or None (nothing played from bar 1), damaged records skipped, the
        before-the-Start .mid or None).

    Raises:
        ValueError: not a journal, or values a MIDI file cannot hold.
        OSError: a file cannot be written (no partial file is left behind, the journal kept).
    """
    path = Path(path)
    rec, early, damage = load_journal_report(path)
    out, extra = _write_parts(path, rec, early, out, remove=not (keep_damaged and damage.records))
    return out, damage.records, extra


def _write_parts(path: Path, rec: Recording, early: Recording | None, out: Path | None,
                 remove: bool = True) -> tuple[Path | None, Path | None]:
    """The journal `path`, read as `rec` and `early`, -> its .mid (and the before-the-Start
    .mid when anyone played before it); then the journal is removed (if `remove`). All or
    nothing. When nobody played from bar 1 but someone did before it (a session ended in its
    count-in after a pickup) and no band played there either, only the before-the-Start .mid
    is written (the .mid would hold no note, and "recorded to" it sent the musician to an
    empty file): (None, it)."""
    out = Path(out) if out is not None else path.with_suffix(".mid")
    early_sounds = early is not None and _sounds(early)
    main = out if _sounds(rec, ANY_PART) or not early_sounds else None
    if main is not None:
        _save_midi(recording_to_midi(rec), main)
    extra = None
    if early is not None and early_sounds:
        try:
            extra = _save_midi(recording_to_midi(early), before_start_path(out))
        except BaseException:
            if main is not None:
                main.unlink(missing_ok=True)  # all or nothing: the journal stays for `improv recover`
            raise
    if remove:
        path.unlink()
    return main, extra


def _save_midi(mid: mido.MidiFile, out: Path) -> Path:
    """Write `mid` to `out` atomically and durably (a temporary file, fsync, rename)."""
    with whole_or_nothing(out) as tmp:
        mid.save(str(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
    sync_folder(out.parent)  # the rename is durable before the journal is removed
    return out


def _sounds(rec: Recording | None, parts: frozenset[str] = SOUNDING_PARTS) -> bool:
    """True if the player or the partner (or one of `parts`) played a note in `rec`."""
    return rec is not None and any(e.part in parts and e.msg.type == "note_on" and e.msg.velocity > 0
                                   for e in rec.events)


def journal_is_empty(path: Path) -> bool:
    """True if a journal holds no note played by the player or the partner (before bar 1
    or after it)."""
    try:
        rec, early, _ = load_journal_parts(path)
    except (OSError, ValueError):
        return False
    return not _sounds(rec) and not _sounds(early)


def _free_mid(path: Path) -> Path:
    """`path`, or `<stem>-recovered[-n].mid` beside it when a file is there already (a
    session that kept its journal wrote its .mid, which may have been edited since)."""
    out, n = path, 1
    while out.exists() or before_start_path(out).exists():
        out = path.with_name(f"{path.stem}-recovered{'' if n == 1 else f'-{n}'}.mid")
        n += 1
    return out


def _already_written(path: Path, rec: Recording, early: Recording | None) -> bool:
    """True if `path` (and its before-the-Start file, when there is one) hold just what the
    journal gives: the session wrote them, and was stopped before it removed its journal."""
    def same(p: Path, r: Recording) -> bool:
        if not p.exists():
            return False
        buf = io.BytesIO()
        recording_to_midi(r).save(file=buf)
        try:
            return p.read_bytes() == buf.getvalue()
        except OSError:
            return False

    extra = before_start_path(path)
    if early is not None and _sounds(early) and not _sounds(rec, ANY_PART):  # (only that file)
        return not path.exists() and same(extra, early)
    return same(path, rec) and (not extra.exists() or (early is not None and same(extra, early)))


def _remove_dead_parts(mid: Path) -> None:
    """The part files (`whole_or_nothing`'s, hidden) of `mid` and its before-the-Start file
    that a session killed while writing them left for good, a whole hidden copy each: the
    recovered file stands for them. Only those of a process that is gone (POSIX: elsewhere
    a process cannot be asked whether it lives without harm)."""
    if os.name != "posix":
        return
    for name in (mid.name, before_start_path(mid).name):
        for part in mid.parent.glob(f".{glob.escape(name)}.*.part"):
            pid = part.name[len(name) + 2:-len(".part")]
            if pid.isdigit() and not _alive(int(pid)):
                part.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # (another user's: alive)
        return True
    return True


NAMED_UNFINISHED = 3  # the journals `unfinished_hint` names (then "and N more")


def unfinished(folder: Path) -> list[Path]:
    """The journals in `folder` that no running session writes (a session killed or crashed,
    or whose MIDI file could not be written), empty ones left out, oldest first: what
    `recover` would rebuild. Never raises: [] when the folder cannot be read."""
    try:
        found = [j for j in Path(folder).glob(f"*{JOURNAL_SUFFIX}") if j.is_file() and j.stat().st_size > 0]
        return sorted((j for j in found if not journal_is_live(j)), key=lambda j: (j.stat().st_mtime, j.name))
    except OSError:
        return []


def unfinished_hint(folder: Path) -> str:
    """One line for the start of a jam or a demo recording into `folder` when sessions there
    did not end (their takes are only in journals until `improv recover` runs), else ""."""
    left = unfinished(folder)
    if not left:
        return ""
    names = ", ".join(j.name for j in left[:NAMED_UNFINISHED])
    more = f" and {len(left) - NAMED_UNFINISHED} more" if len(left) > NAMED_UNFINISHED else ""
    which = "a session" if len(left) == 1 else f"{len(left)} sessions"
    its = "its MIDI file" if len(left) == 1 else "their MIDI files"
    return (f"{which} recorded in {folder} did not end (killed, or a crash): `improv recover "
            f"{shlex.quote(str(folder))}` makes {its} from the journal ({names}{more})")


def rescued_elsewhere(folder: Path) -> list[Path]:
    """Journals this user's sessions completed outside `folder` when it could not take them
    (`*-rescued*.journal` in the temporary and home folders, `Journal._rescue`)."""
    uid = getattr(os, "getuid", None)  # (Windows has no owners to check)
    found: list[Path] = []
    seen = set()
    for where in rescue_folders():
        try:
            place = where.resolve()
            if place == Path(folder).resolve() or place in seen:
                continue
            seen.add(place)
            found += [j for j in sorted(where.glob(f"*-rescued*{JOURNAL_SUFFIX}"))
                      if j.is_file() and (uid is None or j.stat().st_uid == uid())]
        except OSError:
            continue
    return found


def recover(folder_or_journal: Path | list[Path], warn: Callable[[str], None] = warn_stderr,
            say: Callable[[str], None] | None = None, into: Path | None = None,
            done: Callable[[Path], None] | None = None) -> list[Path]:
    """Rebuild MIDI files from journals left behind by a crash.

    Args:
        folder_or_journal: a sessions folder (every `*.journal` in it), one journal (a file
            not named `*.journal` is left alone), or a list of journals.
        warn: told about each journal that cannot be recovered.
        say: told about journals left alone (a running session still writes them), damaged
            records skipped, a damaged header's values assumed, and empty journals removed
            (default: `warn`).
        into: the folder to write the .mid files to (default: beside each journal).
        done: told about each .mid file as soon as it is written (a recovery stopped by
            Ctrl-C has said what it had done).

    Returns:
        The .mid files written. Journals still being written by a running session are
        left alone; empty journals (no header, or nobody played) are removed.
    """
    say = say or warn
    p = Path(folder_or_journal) if not isinstance(folder_or_journal, list) else None
    if p is None:
        journals = [Path(j) for j in folder_or_journal]
    elif p.is_file():  # only a journal: never remove (as empty) a file that is not one
        journals = [p] if p.name.endswith(JOURNAL_SUFFIX) else []
    else:
        journals = sorted(p.glob(f"*{JOURNAL_SUFFIX}")) if p.is_dir() else []
    out: list[Path] = []
    for j in journals:
        if journal_is_live(j):
            say(f"{j}: a running improv session is still writing it: left alone (recover it once that session "
                "has ended)")
            continue
        try:
            if j.stat().st_size == 0:
                j.unlink()
                say(f"{j}: an empty journal (nothing was recorded): removed")
                continue
            rec, early, damage = load_journal_report(j)
            if not _sounds(rec) and not _sounds(early):
                j.unlink()
                say(f"{j}: nobody played in that session: removed")
                continue
            target = (into or j.parent) / j.with_suffix(".mid").name
            if not _already_written(target, rec, early):  # (else: written again, the same)
                target = _free_mid(target)
            mid, early_mid = _write_parts(j, rec, early, target)
            _remove_dead_parts(j.with_suffix(".mid"))
            if mid is not None:
                out.append(mid)
                if done is not None:
                    done(mid)
            if damage.header:
                say(f"{j}: {damage.header}")
            if early_mid is not None:
                out.append(early_mid)
                if done is not None:
                    done(early_mid)
                if mid is None:
                    say(f"{j}: the session ended before bar 1 (in its count-in, or before a DAW's Start): what was "
                        f"played is in {early_mid}")
                else:
                    say(f"{j}: what was played before bar 1 (a count-in, or before a DAW's Start) is in {early_mid}")
            if damage.text:
                say(f"{j}: {damage.text}")
        except OSError as e:
            if e.errno in (errno.EACCES, errno.EPERM) and not os.access(j, os.R_OK):
                warn(f"cannot recover {j}: the journal cannot be read ({e.strerror}); recover it as the user who "
                     "recorded it (or give yourself read access to it)")
            elif e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                warn(f"cannot recover {j}: the folder {j.parent} is not writable ({e.strerror}); copy the journal "
                     "to a folder you can write and recover it there")
            elif e.errno == errno.ENOSPC:
                warn(f"cannot recover {j}: {e.strerror}; free some space (or copy the journal to another disk) and "
                     "run improv recover again (the journal is kept)")
            else:
                warn(f"cannot recover {j}: {e.strerror or e}")
        except ValueError as e:
            warn(f"cannot recover {j}: {e}")
    return out

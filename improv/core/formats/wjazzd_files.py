"""The WJazzD files as the reader gets them: from the archive (`wjazzd-solos.tar.gz`, gz,
bz2, xz or plain tar) or its unpacked folder, by path inside it (`melody/X.csv`,
`beats/X_beattrack.csv`, `solo_info.csv`). A damaged or cut-short archive fails on opening,
in one line naming it, not midway through the solos as an EOFError or garbled CSV.
"""

from __future__ import annotations

import tarfile
import zlib
from pathlib import Path

from improv.errors import DataError


class DataSource:
    """A tar.gz or a folder: `read(relpath) -> text | None` and the list of melody files."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tar: tarfile.TarFile | None = None
        self._members: dict[str, tarfile.TarInfo] = {}
        if path.is_dir():
            root = path / "wjazzd-solos" if (path / "wjazzd-solos").is_dir() else path
            self._root: Path | None = root
        else:
            self._root = None
            _check_stream(path)
            try:
                self._tar = tarfile.open(path, "r:*")
                for m in self._tar.getmembers():
                    if m.isfile():
                        parts = m.name.split("/")
                        # strip a top folder such as wjazzd-solos/
                        key = "/".join(parts[1:]) if parts[0] not in ("melody", "beats", "solo_info.csv") else m.name
                        self._members[key] = m
            except tarfile.ReadError:  # tarfile's own message lists every method it tried, over several lines
                raise DataError(f"{path} is not a tar archive (.tar.gz, .tar.bz2, .tar.xz or .tar): {GIVE}") from None
            except _DAMAGED as e:
                raise _damaged(path, e) from None

    def read(self, rel: str) -> str | None:
        if self._root is not None:
            p = self._root / rel
            return p.read_text(encoding="utf-8", errors="replace") if p.is_file() else None
        m = self._members.get(rel)
        if m is None or self._tar is None:
            return None
        try:
            f = self._tar.extractfile(m)
            return None if f is None else f.read().decode("utf-8", errors="replace")
        except _DAMAGED as e:
            raise _damaged(self.path, e) from None

    def melody_stems(self) -> list[str]:
        if self._root is not None:
            return sorted(p.stem for p in (self._root / "melody").glob("*.csv"))
        return sorted(k[len("melody/"):-4] for k in self._members if k.startswith("melody/") and k.endswith(".csv"))

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()


GIVE = "give the wjazzd-solos.tar.gz or its unpacked folder"
# what reading a cut-short or damaged archive raises: gzip's EOFError and BadGzipFile (an
# OSError), zlib's and lzma's errors, tarfile's "unexpected end of data"
_DAMAGED = (EOFError, OSError, zlib.error, tarfile.TarError)


def _damaged(path: Path, e: BaseException) -> DataError:
    why = " ".join(str(e).split()) or type(e).__name__
    return DataError(f"{path} is damaged or cut short ({why}): download it again, or {GIVE}")


def _check_stream(path: Path) -> None:
    """Read a compressed archive through once (about 0.1 s for the WJazzD one), so that a
    cut-short or damaged file fails here on its length or checksum: tarfile reads only as
    far as each member it is asked for, so damage would otherwise surface midway, as an
    EOFError or as garbled CSV, or not at all.

    Raises:
        DataError: the file is empty, unreadable, or its compressed stream is damaged.
    """
    try:
        with path.open("rb") as f:
            head = f.read(6)
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}; {GIVE}") from None
    if not head:
        raise DataError(f"{path} is empty: {GIVE}")
    errors: tuple[type[BaseException], ...] = _DAMAGED
    if head.startswith(b"\x1f\x8b"):
        import gzip as opener
    elif head.startswith(b"BZh"):
        import bz2 as opener  # type: ignore[no-redef]
    elif head.startswith(b"\xfd7zXZ\x00"):
        import lzma as opener  # type: ignore[no-redef]

        errors = (*_DAMAGED, opener.LZMAError)
    else:
        return  # a plain tar (or no archive at all: tarfile.open says which)
    try:
        with opener.open(path, "rb") as stream:
            while stream.read(1 << 20):
                pass
    except errors as e:
        raise _damaged(path, e) from None

"""Reading TOML files (configs, tune charts, training runs) with one clear error."""

from __future__ import annotations

import sys
from pathlib import Path

from improv.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def read_toml(path: str | Path, what: str, hint: str) -> dict:
    """A TOML file's contents.

    Args:
        path: the file.
        what: what the file is, for messages ("config file", "tune file").
        hint: what to do when it is missing.

    Raises:
        ConfigError: the file is missing, unreadable or not TOML (one line naming it).
    """
    path = Path(path)
    if path.is_dir():  # (asked first: Windows opens a folder with PermissionError, not IsADirectoryError)
        raise ConfigError(f"{what} {path} is a folder: give the .toml file in it")
    try:
        raw = path.read_bytes()
        # (-sig: a BOM, as Windows Notepad saves it; its "Unicode" is UTF-16 with a BOM)
        text = raw.decode("utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig")
        return tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} not found: {hint}") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} is a folder: give the .toml file in it") from None
    except PermissionError:
        raise ConfigError(f"cannot read {what} {path}: permission denied; check the file's permissions") from None
    except UnicodeDecodeError as e:
        raise ConfigError(_not_utf8(path, what, hint, raw, e)) from None
    except OSError as e:
        raise ConfigError(f"cannot read {what} {path}: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{what} {path} is not valid TOML: {e}") from None


def _not_utf8(path: Path, what: str, hint: str, raw: bytes, e: UnicodeDecodeError) -> str:
    """Why a file is not UTF-8 text, and what to do: a binary file is no settings file, but
    text saved in another encoding (UTF-16, as Windows Notepad's "Unicode" saves it; Latin-1
    or Windows-1252, an accented letter in a comment) is to be saved again as UTF-8. The
    message said "not a text file: pass an existing .toml file" of either."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # (read as UTF-16 where it is whole: this one is not)
        return f"{what} {path} is saved as UTF-16 and damaged: save it again as UTF-8 (TOML is UTF-8 text)"
    if b"\x00" in raw[:4096]:
        return f"{what} {path} is not a text file (TOML is UTF-8 text): {hint}"
    text, at = bytes(e.object), e.start  # (after a byte order mark, if there is one)
    line = text[:at].count(b"\n") + 1
    return (f"{what} {path} is not UTF-8 text (line {line} has the byte 0x{text[at]:02x}, of another encoding such "
            "as Latin-1 or Windows-1252): save it again as UTF-8 (TOML is UTF-8 text)")

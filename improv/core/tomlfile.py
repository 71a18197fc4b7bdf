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
        if b"\0" in raw:  # (a MIDI file, a picture: no text at all)
            raise ConfigError(f"{what} {path} is not a text file (TOML is UTF-8 text): {hint}") from None
        line = raw.count(b"\n", 0, e.start) + 1  # (text in another encoding: Latin-1, Windows' ANSI)
        raise ConfigError(f"{what} {path} is not UTF-8 text (line {line} has the byte 0x{raw[e.start]:02x}): save it "
                          "as UTF-8 in your editor (TOML is UTF-8)") from None
    except OSError as e:
        raise ConfigError(f"cannot read {what} {path}: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{what} {path} is not valid TOML: {e}") from None

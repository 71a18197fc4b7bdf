"""The learned tables shipped in improv/data as JSON (onset timing, phrase endings, the
bass's walk): read with one clear error, written the same way by their trainers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from improv.errors import DataError


def read_table(path: str | Path, what: str, remake: str) -> dict[str, Any]:
    """The JSON object in `path`.

    Args:
        what: what the table is, for the error ("the onset template").
        remake: the command that writes it again, for the error.

    Raises:
        DataError: the file cannot be read, is not JSON or not a JSON object (one line
            naming it and `remake`).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read {what} {path}: {e}; rewrite it with `{remake}`") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object for {what}; rewrite it with `{remake}`")
    return data


def write_table(path: str | Path, data: dict[str, Any]) -> None:
    """`data` as indented JSON in `path`."""
    Path(path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

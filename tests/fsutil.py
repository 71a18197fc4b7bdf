"""Folders that refuse writes, for the recording and rendering tests: a read-only folder and a
tiny full-able disk. As root (CI's containers), permissions do not stop writes, so a small
tmpfs is mounted there (read-only, or of a few KB); where that is not allowed the caller gets
None and simulates the failure instead."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path
from typing import Iterator


def _mount_tmpfs(where: Path, options: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                           capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def _umount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=10)


@contextlib.contextmanager
def read_only_folder(base: Path) -> Iterator[Path | None]:
    """A folder nobody (root included) can write to, or None when none can be made here."""
    where = base / "read-only"
    if os.geteuid() != 0:
        where.mkdir()
        where.chmod(0o555)
        try:
            yield where
        finally:
            where.chmod(0o755)
        return
    if not _mount_tmpfs(where, "ro,size=64k"):
        yield None
        return
    try:
        yield where
    finally:
        _umount(where)


@contextlib.contextmanager
def tiny_disk(base: Path, size: str = "64k") -> Iterator[Path | None]:
    """A tmpfs of `size` bytes that fills up for real, or None when mounting is not allowed."""
    where = base / "tiny"
    if os.geteuid() != 0 or not _mount_tmpfs(where, f"size={size}"):
        yield None
        return
    try:
        yield where
    finally:
        _umount(where)

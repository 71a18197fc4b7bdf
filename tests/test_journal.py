import errno
import json
import os
import shutil
import time

import pytest

from improv.live import journal as journal_mod
from improv.live.journal import Journal, journal_is_live, read_journal


def wait_for(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


class FailingWrites:
    """Makes the journal's file writes fail (ENOSPC) while `full` is set: a disk that fills
    up mid-set. Only writes to `fd` fail; a rescue copy elsewhere can still be written."""

    def __init__(self, monkeypatch, fd, room_bytes=0):
        self.fd, self.full, self.room = fd, True, room_bytes
        self.real = journal_mod._write_all
        monkeypatch.setattr(journal_mod, "_write_all", self)

    def __call__(self, fd, data):
        if fd == self.fd and self.full:
            take = min(self.room, len(data))
            if take:
                self.real(fd, bytes(data[:take]))
                self.room -= take
            err = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            err.written = take
            raise err
        return self.real(fd, data)


def test_lines_reach_the_file_in_order(tmp_path):
    path = tmp_path / "sub" / "a.journal"
    j = Journal(path, {"h": 1})
    for i in range(500):
        j.write(["player", i / 100, [144, 60, i % 128]])
    assert journal_is_live(path)
    assert j.close()
    assert not journal_is_live(path)
    header, records, damaged = read_journal(path)
    assert header == {"h": 1} and damaged == 0
    assert [r[1] for r in records] == [i / 100 for i in range(500)]
    assert j.lines_written == 500


def test_torn_and_damaged_lines_are_skipped_and_counted(tmp_path):
    path = tmp_path / "a.journal"
    path.write_text(json.dumps({"h": 1}) + "\n" + '["player",0.1,[144,60,90]]\nnot json\n["player",0.2,[128,6')
    header, records, damaged = read_journal(path)
    assert header == {"h": 1} and records == [["player", 0.1, [144, 60, 90]]] and damaged == 2


def test_a_journal_that_cannot_be_created_raises(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(OSError):
        Journal(blocker / "sessions" / "s.journal", {"h": 1})


def test_full_disk_mid_set_is_reported_at_once_then_nothing_is_lost_when_it_frees(tmp_path, monkeypatch):
    warnings, failures = [], []
    j = Journal(tmp_path / "s.journal", {"h": 1}, warn=warnings.append, on_fail=failures.append)
    j.write(["player", 0.0, [144, 60, 90]])
    assert wait_for(lambda: j.lines_written == 1)
    disk = FailingWrites(monkeypatch, j._fd, room_bytes=10)  # the first line fits only in part
    t = time.monotonic()
    for i in range(1, 50):
        j.write(["player", i, [144, 60, 90]])  # never raises, never blocks
    assert wait_for(lambda: failures, timeout=2.0), "the failure must be told at once"
    assert time.monotonic() - t < 1.5
    assert len(failures) == 1 and "No space left" in failures[0] and j.error and j.failed == failures[0]
    for i in range(50, 100):
        j.write(["player", i, [144, 60, 90]])
    disk.full = False  # room again: the backlog goes out on the next retry
    assert wait_for(lambda: not j.error, timeout=3.0)
    assert any("resumed" in w for w in warnings)
    assert j.close() is True and j.lost == 0
    _, records, damaged = read_journal(tmp_path / "s.journal")
    assert [r[1] for r in records] == list(range(100)) and damaged == 0  # the torn write was completed, not doubled


def test_a_disk_that_stays_full_is_rescued_into_a_copy_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    folder = tmp_path / "sessions"
    warnings = []
    j = Journal(folder / "s.journal", {"h": 1}, warn=warnings.append)
    j.write(["player", 0.0, [144, 60, 90]])
    assert wait_for(lambda: j.lines_written == 1)
    FailingWrites(monkeypatch, j._fd)
    # the record folder is "full" for every new file too: the copy goes to the temporary folder
    real_copy = j._copy_to
    monkeypatch.setattr(j, "_copy_to", lambda target: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full"))
                        if target.parent == folder else real_copy(target))
    for i in range(1, 30):
        j.write(["player", i, [144, 60, 90]])
    assert j.close() is False
    assert j.rescued == tmp_path / "tmp" / "s-rescued.journal" and j.lost == 0
    assert not (folder / "s.journal").exists(), "the partial journal goes once the full copy is safe"
    _, records, _ = read_journal(j.rescued)
    assert [r[1] for r in records] == list(range(30))
    assert any(str(j.rescued) in w for w in warnings)


def test_a_journal_deleted_mid_set_is_written_again_in_place(tmp_path):
    folder = tmp_path / "sessions"
    warnings = []
    j = Journal(folder / "s.journal", {"h": 1}, sync_s=0.05, warn=warnings.append)
    for i in range(20):
        j.write(["player", i, [144, 60, 90]])
    assert wait_for(lambda: j.lines_written == 20)
    shutil.rmtree(folder)  # someone cleans up the sessions folder during the set
    for i in range(20, 40):
        j.write(["player", i, [144, 60, 90]])
    assert wait_for(lambda: (folder / "s.journal").exists(), timeout=3.0)
    assert j.close()
    header, records, _ = read_journal(folder / "s.journal")
    assert header == {"h": 1} and [r[1] for r in records] == list(range(40))
    assert any("deleted" in w for w in warnings)


def test_the_backlog_is_bounded_and_what_does_not_fit_is_counted(tmp_path, monkeypatch):
    # Catches a backlog that keeps growing while the disk refuses lines: with the rescue
    # working, an unbounded backlog would rescue all 200 lines and count none lost.
    cap = 1000
    monkeypatch.setattr(journal_mod, "MAX_BACKLOG_BYTES", cap)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "nowhere"))  # the rescue stays in tmp_path
    monkeypatch.setattr("pathlib.Path.home", lambda: tmp_path / "nowhere")
    j = Journal(tmp_path / "s.journal", {"h": 1}, warn=lambda s: None)
    FailingWrites(monkeypatch, j._fd)  # the journal's own file takes nothing: all of it waits in the backlog
    for i in range(200):
        j.write(["player", i, [144, 60, 90]])
    assert j.close() is False
    assert j.rescued is not None and j.rescued.parent == tmp_path
    header, records, damaged = read_journal(j.rescued)
    assert header == {"h": 1} and damaged == 0
    kept = [r[1] for r in records]
    assert kept == list(range(len(kept)))  # the first lines, in order, as many as the cap holds
    backlog = j.rescued.stat().st_size - len(b'{"h":1}\n')
    assert cap - 30 < backlog <= cap  # (one line is 25-27 bytes)
    assert j.lost == 200 - len(kept) > 0

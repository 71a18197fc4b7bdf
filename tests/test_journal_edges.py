"""Journal edge cases a mutation audit found untested (each test fails under its mutation): short writes, lines that cannot be encoded, the periodic fsync, one warning per failure, an earlier rescued copy, a rescue that fails everywhere, copies longer than a chunk, and a bug in the writer's last round."""

import errno
import os

import pytest

from improv.live import journal as journal_mod
from improv.live.journal import Journal, _write_all, journal_is_live, read_journal

from test_journal import FailingWrites, wait_for


class CountedFailingWrites(FailingWrites):
    tries = 0

    def __call__(self, fd, data):
        self.tries += fd == self.fd
        return super().__call__(fd, data)


def line(i):
    return ["player", i, [144, 60, 90]]


@pytest.fixture
def rescue_here(tmp_path, monkeypatch):
    """Rescues stay in tmp_path (the record folder first, then tmp_path/tmp, tmp_path/home)."""
    for d in ("tmp", "home"):
        (tmp_path / d).mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    monkeypatch.setattr("pathlib.Path.home", lambda: tmp_path / "home")
    return tmp_path


def test_a_short_write_goes_on_from_where_it_stopped(tmp_path, monkeypatch):
    """Catches _write_all writing the buffer from its start again after a partial os.write: the journal got a repeated head and a torn line."""
    real = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real(fd, bytes(data[:5])))
    data = b'["player",1,[144,60,90]]\n' * 3
    with open(tmp_path / "f", "wb") as f:
        assert _write_all(f.fileno(), data) == len(data)
    monkeypatch.undo()
    assert (tmp_path / "f").read_bytes() == data


def test_a_line_that_cannot_be_encoded_is_counted_lost(tmp_path):
    """Catches an unencodable record dropped silently, and close() saying every line reached the file when one did not."""
    j = Journal(tmp_path / "s.journal", {"h": 1})
    j.write(line(0))
    loop = []
    loop.append(loop)  # (json: "Circular reference detected")
    j.write(loop)
    assert j.close() is False
    assert j.lost == 1 and j.lines_written == 1


def test_lines_are_fsynced_while_the_set_goes_on(tmp_path, monkeypatch):
    """Catches the periodic fsync left out: a power cut lost everything since the journal was opened, not only the last `sync_s`."""
    j = Journal(tmp_path / "s.journal", {"h": 1}, sync_s=0.05)
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real(fd))
    j.write(line(0))
    try:
        assert wait_for(lambda: j.lines_written == 1 and j._fd in synced, timeout=3.0)
    finally:
        j.close()


def test_a_disk_that_stays_full_is_warned_about_once(rescue_here, monkeypatch):
    """Catches the warning said again on every retry: a full disk printed a line a second for the rest of the set."""
    monkeypatch.setattr(journal_mod, "RETRY_S", 0.0)
    warnings = []
    j = Journal(rescue_here / "s.journal", {"h": 1}, sync_s=0.02, warn=warnings.append)
    disk = CountedFailingWrites(monkeypatch, j._fd)
    j.write(line(0))
    assert wait_for(lambda: disk.tries >= 3)
    j.close()
    assert sum("cannot write" in w for w in warnings) == 1


def test_a_rescue_never_overwrites_an_earlier_rescued_journal(rescue_here, monkeypatch):
    """Catches the rescue taking a name that exists: the exclusive create failed and the cleanup deleted the earlier session's rescued journal."""
    earlier = rescue_here / "s-rescued.journal"
    earlier.write_text('{"h":0}\n["player",0,[144,60,90]]\n')
    j = Journal(rescue_here / "s.journal", {"h": 1}, warn=lambda s: None)
    FailingWrites(monkeypatch, j._fd)
    j.write(line(1))
    assert j.close() is False
    assert earlier.read_text() == '{"h":0}\n["player",0,[144,60,90]]\n'
    assert j.rescued == rescue_here / "s-rescued-2.journal"


def test_a_rescue_name_taken_at_the_last_moment_is_left_to_its_owner(rescue_here, monkeypatch):
    """Another session's rescue made `s-rescued.journal` between the look and the exclusive
    create: the cleanup of the failed create deleted that session's file."""
    j = Journal(rescue_here / "s.journal", {"h": 1}, warn=lambda s: None)
    FailingWrites(monkeypatch, j._fd)
    theirs = rescue_here / "s-rescued.journal"
    real_open = os.open

    def racing_open(path, flags, mode=0o777):
        if str(path) == str(theirs) and not theirs.exists():
            theirs.write_text("another session's rescue\n")
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", racing_open)
    j.write(line(1))
    assert j.close() is False
    assert theirs.read_text() == "another session's rescue\n"
    assert j.rescued == rescue_here / "s-rescued-2.journal" and j.lost == 0


def test_lines_no_rescue_could_take_are_counted_lost(rescue_here, monkeypatch):
    """Catches a rescue that failed everywhere counting nothing lost: the backlog vanished and the report said lost 0."""
    j = Journal(rescue_here / "s.journal", {"h": 1}, warn=lambda s: None)
    j.write(line(0))
    assert wait_for(lambda: j.lines_written == 1)
    FailingWrites(monkeypatch, j._fd)
    monkeypatch.setattr(j, "_copy_to", lambda target: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    for i in range(1, 6):
        j.write(line(i))
    assert j.close() is False
    assert j.rescued is None and j.lost == 5


def _twenty_then_a_full_disk(j, monkeypatch):
    """20 lines written, then the disk full for the next 5 (the rescue's case)."""
    for i in range(20):
        j.write(line(i))
    assert wait_for(lambda: j.lines_written == 20)
    FailingWrites(monkeypatch, j._fd)
    for i in range(20, 25):
        j.write(line(i))


def test_a_rescued_copy_holds_a_journal_longer_than_one_copy_chunk(rescue_here, monkeypatch):
    """Catches the copy stopping after its first chunk: a rescued (or rewritten) journal over 1 MiB kept only its first MiB."""
    monkeypatch.setattr(journal_mod, "_COPY_CHUNK", 64)
    j = Journal(rescue_here / "s.journal", {"h": 1}, warn=lambda s: None)
    _twenty_then_a_full_disk(j, monkeypatch)
    assert j.close() is False and j.rescued is not None
    header, records, damaged = read_journal(j.rescued)
    assert header == {"h": 1} and damaged == 0 and [r[1] for r in records] == list(range(25))


def test_a_bug_in_the_writers_last_round_still_closes_and_unlocks_the_journal(tmp_path, monkeypatch):
    """Catches the writer's error path not finishing: an exception in its last round left the file open, unsynced and locked (`improv recover` took it for a live session)."""
    path = tmp_path / "s.journal"
    j = Journal(path, {"h": 1}, sync_s=60.0, warn=lambda s: None)  # (checked only at the stop)
    real = j._check_still_there
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug")
        real()

    monkeypatch.setattr(j, "_check_still_there", flaky)
    j.write(line(0))
    j.close()
    assert "a bug" in j.failed
    assert not journal_is_live(path)
    assert [r[1] for r in read_journal(path)[1]] == [0]


def test_a_rescue_works_where_os_has_no_pread(rescue_here, monkeypatch):
    """Windows has no `os.pread`: the rescue of a journal a full disk cut short ended in an
    AttributeError on the writer thread, which left no copy and counted nothing lost (the
    notes since the disk filled vanished, and the session said its journal was kept)."""
    monkeypatch.delattr(os, "pread")
    j = Journal(rescue_here / "s.journal", {"h": 1}, warn=lambda s: None)
    _twenty_then_a_full_disk(j, monkeypatch)
    assert j.close() is False and j.rescued is not None and j.lost == 0
    header, records, damaged = read_journal(j.rescued)
    assert header == {"h": 1} and damaged == 0 and [r[1] for r in records] == list(range(25))

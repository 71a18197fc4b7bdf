import errno
import json
import os
import time

from improv.live.journal import Journal, journal_is_live, read_journal


def test_lines_reach_the_file_in_order(tmp_path):
    path = tmp_path / "sub" / "a.journal"
    j = Journal(path, {"h": 1})
    for i in range(500):
        j.write(["player", i / 100, [144, 60, i % 128]])
    assert journal_is_live(path)
    assert j.close()
    assert not journal_is_live(path)
    header, records = read_journal(path)
    assert header == {"h": 1}
    assert [r[1] for r in records] == [i / 100 for i in range(500)]
    assert j.lines_written == 500


def test_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "a.journal"
    path.write_text(json.dumps({"h": 1}) + "\n" + '["player",0.1,[144,60,90]]\n["player",0.2,[128,6')
    header, records = read_journal(path)
    assert header == {"h": 1} and records == [["player", 0.1, [144, 60, 90]]]


def test_unwritable_folder_warns_once_and_never_raises(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    warnings = []
    j = Journal(blocker / "sessions" / "s.journal", {"h": 1}, warn=warnings.append)
    for i in range(100):
        j.write(["player", i, [144, 60, 90]])
    assert j.close() is False
    assert len(warnings) == 1 and "without recording" in warnings[0]


class FullDisk:
    """A file that fills up after `room` writes, like a disk that runs out mid-set."""

    def __init__(self, real, room):
        self.real, self.room = real, room

    def write(self, text):
        if self.room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= 1
        return self.real.write(text)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_full_disk_mid_set_warns_once_and_keeps_accepting(tmp_path):
    warnings = []
    j = Journal(tmp_path / "s.journal", {"h": 1}, warn=warnings.append)
    j.write(["player", 0.0, [144, 60, 90]])
    while j.lines_written < 1:
        time.sleep(0.001)
    j._file = FullDisk(j._file, room=0)
    for i in range(50):
        j.write(["player", i, [144, 60, 90]])  # never raises, never blocks
    assert j.close() is False
    assert len(warnings) == 1 and "No space left" in warnings[0]
    _, records = read_journal(tmp_path / "s.journal")
    assert records == [["player", 0.0, [144, 60, 90]]]  # what was written before stays

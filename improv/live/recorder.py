"""The session recorder: everything the player and the partner play, journalled as it
happens and turned into a type-1 MIDI file when the session ends.

`Recorder.event` / `.marker` are safe from any thread and never block (they put a line on
the journal's queue). `close()` converts the journal to `<folder>/<YYYYmmdd-HHMMSS>.mid`
and removes it. After a crash the journal stays behind; `recover(folder)` (and
`improv recover`) rebuilds the MIDI file from it, losing at most the last second.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import Any, Callable

import mido

from improv.core.theory.chart import Chart, chart_from_bars, parse_bars
from improv.core.formats.midifile import (
    PARTS,
    Marker,
    Recording,
    TimedMessage,
    chart_markers,
    recording_to_midi,
)
from improv.errors import ChordError
from improv.live.journal import Journal, journal_is_live, read_journal, warn_stderr

JOURNAL_SUFFIX = ".journal"
FORMAT = 1


class Recorder:
    """Records one session.

    Args:
        folder: where the journal and the .mid go (created if needed).
        tempo: session tempo, beats per minute.
        beats_per_bar: metre.
        player_channel: 1-16, the player's channel in the file.
        partner_channel: 1-16, the partner's channel in the file.
        t0: session start on the session clock (seconds); event times are on that clock.
        chart: the chart the session plays over, if known: chord and section markers
            are written at its changes.
        warn: where the one warning line goes if recording fails.
        stamp: the file name stem (default: the local start time, YYYYmmdd-HHMMSS).
    """

    def __init__(
        self,
        folder: Path,
        tempo: float,
        beats_per_bar: int,
        player_channel: int,
        partner_channel: int,
        t0: float,
        chart: Chart | None = None,
        warn: Callable[[str], None] = warn_stderr,
        stamp: str | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.t0 = t0
        self._warn = warn
        stamp = stamp or _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        base, n = stamp, 1
        while (self.folder / f"{stamp}.mid").exists() or (self.folder / f"{stamp}{JOURNAL_SUFFIX}").exists():
            n += 1
            stamp = f"{base}-{n}"
        self.stamp = stamp
        self.journal_path = self.folder / f"{stamp}{JOURNAL_SUFFIX}"
        header: dict[str, Any] = {
            "improv_journal": FORMAT,
            "tempo": float(tempo),
            "beats_per_bar": int(beats_per_bar),
            "player_channel": int(player_channel),
            "partner_channel": int(partner_channel),
            "started": _dt.datetime.now().isoformat(timespec="seconds"),
        }
        if chart is not None:
            header["chart"] = chart.to_text()
            header["sections"] = [list(s) for s in chart.sections]
            header["title"] = chart.title
        self._journal = Journal(self.journal_path, header, warn=warn)
        self._closed: Path | None | bool = False

    @property
    def failed(self) -> bool:
        """True once recording has failed (the warning has been given)."""
        return self._journal.failed

    def event(self, part: str, msg: mido.Message, t: float) -> None:
        """Record a channel message `part` ("player" or "partner") played at `t` seconds on
        the session clock. Any thread; never blocks. Clock, sysex and other non-channel
        messages are not recorded."""
        if part not in PARTS or not hasattr(msg, "channel"):
            return
        self._journal.write([part, round(max(0.0, t - self.t0), 6), msg.bytes()])

    def marker(self, text: str, t: float, kind: str = "text") -> None:
        """A text marker at `t` seconds on the session clock; `kind` is "text" (free text,
        e.g. "bar 5: heard C# over Cmaj7"), "chord" (a chord symbol, for live-inferred
        harmony) or "section". Any thread; never blocks."""
        self._journal.write(["marker", round(max(0.0, t - self.t0), 6), str(text), kind])

    def tempo(self, bpm: float, t: float) -> None:
        """A tempo change to `bpm` at `t` seconds on the session clock."""
        self._journal.write(["tempo", round(max(0.0, t - self.t0), 6), float(bpm)])

    def close(self) -> Path | None:
        """Stop journalling and write `<folder>/<stamp>.mid` (calling thread; idempotent).

        Returns:
            The .mid path, or None if recording failed (the journal, if any, is kept).
        """
        if self._closed is not False:
            return self._closed  # type: ignore[return-value]
        ok = self._journal.close()
        path: Path | None = None
        if ok:
            try:
                path = journal_to_midi_file(self.journal_path)
            except (OSError, ValueError) as e:
                self._warn(f"could not write the session's MIDI file ({e}); the journal {self.journal_path} "
                           "is kept: run `improv recover` later")
        self._closed = path
        return path


def journal_to_recording(path: Path) -> Recording:
    """Rebuild a `Recording` from a journal file (complete or cut short by a crash).

    Raises:
        ValueError: the file has no readable header.
    """
    header, records = read_journal(path)
    if header is None or header.get("improv_journal") != FORMAT:
        raise ValueError(f"{path} is not an improv journal (no header line)")
    tempo = float(header.get("tempo", 120.0))
    tempos: list[tuple[float, float]] = [(0.0, tempo)]
    events: list[TimedMessage] = []
    markers: list[Marker] = []
    for r in records:
        try:
            kind, t = r[0], float(r[1])
            if kind in PARTS:
                events.append(TimedMessage(t, kind, mido.Message.from_bytes(r[2])))
            elif kind == "marker":
                markers.append(Marker(t, str(r[2]), str(r[3]) if len(r) > 3 else "text"))
            elif kind == "tempo":
                tempos.append((t, float(r[2])))
        except (TypeError, ValueError, IndexError, KeyError):
            continue  # a damaged line: keep the rest
    events.sort(key=lambda e: e.t)
    tmap = tuple(sorted(dict(tempos).items()))
    bpb = int(header.get("beats_per_bar", 4))
    end = max([e.t for e in events[-1:]] + [m.t for m in markers], default=0.0)
    if header.get("chart"):
        try:
            chart = chart_from_bars(parse_bars(header["chart"], bpb), bpb,
                                    sections=tuple((int(a), str(b)) for a, b in header.get("sections", [])))
            markers.extend(chart_markers(chart, end, tmap))
        except (ChordError, ValueError, TypeError):
            pass  # a chart we cannot read back: the notes matter more than the markers
    markers.sort(key=lambda m: m.t)
    title = header.get("title") or "improv session"
    return Recording(tuple(events), tuple(markers), tmap, bpb, int(header.get("player_channel", 1)),
                     int(header.get("partner_channel", 2)), str(title))


def journal_to_midi_file(path: Path) -> Path:
    """Convert a journal to the .mid beside it (written atomically), then remove it."""
    path = Path(path)
    out = path.with_suffix(".mid")
    mid = recording_to_midi(journal_to_recording(path))
    tmp = out.with_name(out.name + ".tmp")
    mid.save(str(tmp))
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, out)
    path.unlink()
    return out


def recover(folder_or_journal: Path, warn: Callable[[str], None] = warn_stderr) -> list[Path]:
    """Rebuild MIDI files from journals left behind by a crash.

    Args:
        folder_or_journal: a sessions folder (every `*.journal` in it) or one journal.
        warn: told about each journal that cannot be recovered.

    Returns:
        The .mid files written. Journals still being written by a running session are
        left alone; empty journals (no header) are removed.
    """
    p = Path(folder_or_journal)
    journals = [p] if p.is_file() else sorted(p.glob(f"*{JOURNAL_SUFFIX}")) if p.is_dir() else []
    out: list[Path] = []
    for j in journals:
        if journal_is_live(j):
            continue
        try:
            if j.stat().st_size == 0:
                j.unlink()
                continue
            out.append(journal_to_midi_file(j))
        except (OSError, ValueError) as e:
            warn(f"cannot recover {j}: {e}")
    return out

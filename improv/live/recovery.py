"""Reading session journals back: the recording they hold, the MIDI file they make, and
`recover` for the journals a crash left behind (`improv recover`).

A journal (improv/live/journal.py) is a header line and one JSON record a line:
`[part, seconds, [bytes]]` for a channel message of a part, `["marker", s, text, kind]`,
`["tempo", s, bpm]` and `["origin", s]` (beat 0 moved: an external clock's Start). Every
record is checked; a damaged one (torn, not JSON, a time or tempo that is not finite or out
of range, bytes that are not a channel message) is skipped and counted, never the whole
journal. Format-1 journals (before the band had its own parts) still read: their band
messages, recorded as "partner" on the band's default channels, go back to their parts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import mido

from improv.core import limits
from improv.core.formats.midifile import (
    DEFAULT_CHANNELS,
    MARKER_KINDS,
    PARTS,
    Marker,
    Recording,
    TimedMessage,
    chart_markers,
    recording_to_midi,
)
from improv.core.formats.paths import whole_or_nothing
from improv.core.theory.chart import chart_from_bars, parse_bars
from improv.errors import ImprovError
from improv.live.journal import journal_is_live, read_journal, warn_stderr

JOURNAL_SUFFIX = ".journal"
FORMAT = 2  # 2: band parts and their channels, origin records; 1 (still read): player and partner only
SOUNDING_PARTS = frozenset(("player", "partner"))  # a session where neither played holds nothing
_PART_SET = frozenset(PARTS)
TEMPO_SOON_S = 1.0  # a tempo this soon after the origin is the tempo from it, when none came before


def _record_time(r: list) -> float:
    t = r[1]
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.0 <= t <= limits.SESSION_S[1]:
        raise ValueError(f"bad time {t!r}")
    return float(t)


def _channel_message(data: Any) -> mido.Message:
    if not isinstance(data, list) or not data or not all(isinstance(b, int) and 0 <= b <= 255 for b in data):
        raise ValueError(f"bad bytes {data!r}")
    if not 0x80 <= data[0] <= 0xEF:
        raise ValueError("not a channel message")
    return mido.Message.from_bytes(data)


def load_journal(path: Path) -> tuple[Recording, int]:
    """Rebuild a `Recording` from a journal file (complete or cut short by a crash); with
    an external clock's Start in it, the recording begins there (beat 0 is the DAW's bar 1).

    Returns:
        (the recording, how many damaged records were skipped).

    Raises:
        ValueError: the file has no readable header.
    """
    rec, _, damaged = load_journal_parts(path)
    return rec, damaged


def load_journal_parts(path: Path) -> tuple[Recording, Recording | None, int]:
    """`load_journal`, and what was played before an external clock's Start: a recording
    at its own times, notes still held at the Start ending there (None: no Start).

    Returns:
        (the recording, the one before the Start or None, damaged records skipped).

    Raises:
        ValueError: the file has no readable header.
    """
    header, records, damaged = read_journal(path)
    if header is None or header.get("improv_journal") not in (1, FORMAT):
        raise ValueError(f"{path} is not an improv journal (no header line)")
    try:
        tempo = float(header.get("tempo", 120.0))
        bpb = int(header.get("beats_per_bar", 4))
        channels = {p: int(header.get(f"{p}_channel", DEFAULT_CHANNELS[p])) for p in PARTS}
        limits.check_range("tempo", tempo, limits.FILE_TEMPO_BPM, error=ValueError)
        limits.check_range("beats_per_bar", bpb, limits.FILE_BEATS_PER_BAR, error=ValueError)
        for p, ch in channels.items():
            limits.check_range(f"{p}_channel", ch, limits.CHANNEL, error=ValueError)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path} has a damaged header ({e})") from None
    # a format-1 journal recorded the band as "partner", on the band's own channels
    band_of = {} if header.get("improv_journal") == FORMAT else \
        {DEFAULT_CHANNELS[p] - 1: p for p in ("comp", "bass", "click") if DEFAULT_CHANNELS[p] != channels["partner"]}
    tempos: list[tuple[float, float]] = []
    events: list[TimedMessage] = []
    markers: list[Marker] = []
    origin: float | None = None
    for r in records:
        try:
            if not isinstance(r, list) or len(r) < 2 or not isinstance(r[0], str):
                raise ValueError("not a record")
            kind, t = r[0], _record_time(r)
            if kind in _PART_SET:
                msg = _channel_message(r[2])
                if kind == "partner" and msg.channel in band_of:
                    kind = band_of[msg.channel]
                events.append(TimedMessage(t, kind, msg))
            elif kind == "marker":
                mkind = str(r[3]) if len(r) > 3 else "text"
                markers.append(Marker(t, str(r[2]), mkind if mkind in MARKER_KINDS else "text"))
            elif kind == "tempo":
                bpm = r[2]
                limits.check_range("tempo", bpm, limits.FILE_TEMPO_BPM, error=ValueError)
                tempos.append((t, float(bpm)))
            elif kind == "origin":
                if origin is None:
                    origin = t
            else:
                raise ValueError(f"unknown record {kind!r}")
        except (TypeError, ValueError, IndexError, KeyError, AttributeError):
            damaged += 1  # a damaged line: keep the rest
    events.sort(key=lambda e: e.t)
    tempos.sort(key=lambda tb: tb[0])  # (stable: of two tempos given at one time the later counts)
    title = str(header.get("title") or "improv session")
    early = None
    if origin is not None:
        before, before_markers, before_tmap = _before_origin(origin, events, markers, tempos, tempo)
        early = Recording(tuple(before), tuple(before_markers), before_tmap, bpb, channels["player"],
                          channels["partner"], title, channels["comp"], channels["bass"], channels["click"])
        events, markers, tmap = _from_origin(origin, events, markers, tempos, tempo)
    else:
        tmap = _tempo_map([(0.0, tempo)] + tempos)
    end = max([e.t for e in events[-1:]] + [m.t for m in markers], default=0.0)
    if header.get("chart"):
        try:
            chart = chart_from_bars(parse_bars(str(header["chart"]), bpb), bpb,
                                    sections=tuple((int(a), str(b)) for a, b in header.get("sections", [])))
            markers.extend(chart_markers(chart, end, tmap))
        except (ImprovError, ValueError, TypeError):
            pass  # a chart we cannot read back: the notes matter more than the markers
    markers.sort(key=lambda m: m.t)
    rec = Recording(tuple(events), tuple(markers), tmap, bpb, channels["player"], channels["partner"], title,
                    channels["comp"], channels["bass"], channels["click"])
    return rec, early, damaged


def _tempo_map(changes: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """(seconds, bpm) changes -> a tempo map: one entry a time (the last given), none that
    repeats the tempo before it."""
    out: list[tuple[float, float]] = []
    for t, bpm in sorted(dict(changes).items()):
        if not out or bpm != out[-1][1]:
            out.append((t, bpm))
    return tuple(out)


def _held_at(events: list[TimedMessage], origin: float
             ) -> tuple[dict[tuple[str, int, int], mido.Message], dict[tuple[str, int], mido.Message]]:
    """The note-ons (by part, channel, note) and sustain pedals down (by part, channel)
    still held when the events before `origin` have played."""
    held: dict[tuple[str, int, int], mido.Message] = {}
    pedal: dict[tuple[str, int], mido.Message] = {}
    for e in events:
        if e.t >= origin:
            break  # (events are in time order)
        m = e.msg
        if m.type == "note_on" and m.velocity > 0:
            held[(e.part, m.channel, m.note)] = m
        elif m.type in ("note_on", "note_off"):
            held.pop((e.part, m.channel, m.note), None)
        elif m.type == "control_change" and m.control == 64:
            if m.value >= 64:
                pedal[(e.part, m.channel)] = m
            else:
                pedal.pop((e.part, m.channel), None)
    return held, pedal


def _from_origin(origin: float, events: list[TimedMessage], markers: list[Marker],
                 tempos: list[tuple[float, float]], tempo: float
                 ) -> tuple[list[TimedMessage], list[Marker], tuple[tuple[float, float], ...]]:
    """Shift everything so that `origin` is time 0: what came before is dropped, except
    notes and the sustain pedal still held at the origin (they start at 0)."""
    held, pedal = _held_at(events, origin)
    after = [TimedMessage(e.t - origin, e.part, e.msg) for e in events if e.t >= origin]
    carried = [TimedMessage(0.0, part, m) for (part, _), m in sorted(pedal.items(), key=lambda x: x[0])]
    carried += [TimedMessage(0.0, part, m) for (part, _, _), m in sorted(held.items(), key=lambda x: x[0])]
    before = [bpm for t, bpm in tempos if t <= origin]
    later = [(t - origin, bpm) for t, bpm in tempos if t > origin]
    # none given before the origin: the tempo measured just after it (a DAW's, from its first
    # ticks), not one heard much later (it would stretch every bar before it)
    soon = [bpm for t, bpm in later if t <= TEMPO_SOON_S]
    first = before[-1] if before else (soon[0] if soon else tempo)
    tmap = _tempo_map([(0.0, first)] + later)
    kept = [Marker(m.t - origin, m.text, m.kind) for m in markers if m.t >= origin]
    return carried + after, kept, tmap


def _before_origin(origin: float, events: list[TimedMessage], markers: list[Marker],
                   tempos: list[tuple[float, float]], tempo: float
                   ) -> tuple[list[TimedMessage], list[Marker], tuple[tuple[float, float], ...]]:
    """What came before `origin`, at its own times; notes and the sustain pedal still held
    at the origin are released there."""
    held, pedal = _held_at(events, origin)
    before = [e for e in events if e.t < origin]
    before += [TimedMessage(origin, part, mido.Message("note_off", channel=ch, note=note))
               for part, ch, note in sorted(held)]
    before += [TimedMessage(origin, part, mido.Message("control_change", channel=ch, control=64, value=0))
               for part, ch in sorted(pedal)]
    tmap = _tempo_map([(0.0, tempo)] + [(t, bpm) for t, bpm in tempos if t < origin])
    return before, [m for m in markers if m.t < origin], tmap


def before_start_path(mid: Path) -> Path:
    """Where `journal_to_midi_file` puts what was played before an external clock's Start."""
    return mid.with_name(f"{mid.stem}-before-start{mid.suffix}")


def journal_to_recording(path: Path) -> Recording:
    """Rebuild a `Recording` from a journal file (see `load_journal`).

    Raises:
        ValueError: the file has no readable header.
    """
    return load_journal(path)[0]


def journal_to_midi_file(path: Path, out: Path | None = None) -> tuple[Path, int, Path | None]:
    """Convert a journal to a .mid (default: beside it), written atomically, then remove the
    journal. A session that followed a DAW's clock starts its file at the DAW's Start; the
    notes played before that Start go to their own file (`before_start_path`), never lost.

    Returns:
        (the .mid path, damaged records skipped, the before-the-Start .mid or None).

    Raises:
        ValueError: not a journal, or values a MIDI file cannot hold.
        OSError: a file cannot be written (no partial file is left behind, the journal kept).
    """
    path = Path(path)
    out = Path(out) if out is not None else path.with_suffix(".mid")
    rec, early, damaged = load_journal_parts(path)
    _save_midi(recording_to_midi(rec), out)
    extra = None
    if early is not None and any(e.part in SOUNDING_PARTS and e.msg.type == "note_on" and e.msg.velocity > 0
                                 for e in early.events):
        try:
            extra = _save_midi(recording_to_midi(early), before_start_path(out))
        except BaseException:
            out.unlink(missing_ok=True)  # all or nothing: the journal stays for `improv recover`
            raise
    path.unlink()
    return out, damaged, extra


def _save_midi(mid: mido.MidiFile, out: Path) -> Path:
    """Write `mid` to `out` atomically and durably (a temporary file, fsync, rename)."""
    with whole_or_nothing(out) as tmp:
        mid.save(str(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
    return out


def journal_is_empty(path: Path) -> bool:
    """True if a journal holds no note played by the player or the partner."""
    try:
        rec, _ = load_journal(path)
    except (OSError, ValueError):
        return False
    return not any(e.part in SOUNDING_PARTS and e.msg.type == "note_on" and e.msg.velocity > 0 for e in rec.events)


def recover(folder_or_journal: Path, warn: Callable[[str], None] = warn_stderr,
            say: Callable[[str], None] | None = None) -> list[Path]:
    """Rebuild MIDI files from journals left behind by a crash.

    Args:
        folder_or_journal: a sessions folder (every `*.journal` in it) or one journal (a file
            not named `*.journal` is left alone).
        warn: told about each journal that cannot be recovered.
        say: told about damaged records skipped and empty journals removed (default: `warn`).

    Returns:
        The .mid files written. Journals still being written by a running session are
        left alone; empty journals (no header, or nobody played) are removed.
    """
    say = say or warn
    p = Path(folder_or_journal)
    if p.is_file():  # only a journal: never remove (as empty) a file that is not one
        journals = [p] if p.name.endswith(JOURNAL_SUFFIX) else []
    else:
        journals = sorted(p.glob(f"*{JOURNAL_SUFFIX}")) if p.is_dir() else []
    out: list[Path] = []
    for j in journals:
        if journal_is_live(j):
            continue
        try:
            if j.stat().st_size == 0:
                j.unlink()
                continue
            if journal_is_empty(j):
                j.unlink()
                say(f"{j}: nobody played in that session: removed")
                continue
            mid, damaged, early = journal_to_midi_file(j)
            out.append(mid)
            if early is not None:
                out.append(early)
                say(f"{j}: what was played before bar 1 (a count-in, or before a DAW's Start) is in {early}")
            if damaged:
                say(f"{j}: {damaged} damaged {'record' if damaged == 1 else 'records'} skipped")
        except (OSError, ValueError) as e:
            warn(f"cannot recover {j}: {getattr(e, 'strerror', None) or e}")
    return out

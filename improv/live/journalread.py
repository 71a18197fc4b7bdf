"""Reading a session journal back into the recording it holds, whatever a crash or a
damaged disk left of it (`load_journal_report`); `improv.live.recovery` makes MIDI files
of it.

A journal (improv/live/journal.py) is a header line and one JSON record a line:
`[part, seconds, [bytes]]` for a channel message of a part, `["marker", s, text, kind]`,
`["tempo", s, bpm]` and `["origin", s]` (beat 0 moved: an external clock's Start). Every
record is checked; a damaged one (torn, not JSON, a time or tempo that is not finite or out
of range, bytes that are not a channel message) is skipped and counted, never the whole
journal: a stretch of damaged bytes (a hole) is told in bytes with about how many records it
held, and a damaged header line costs only its values (their defaults are used, and said)
when the lines after it are recognisably journal records. Format-1 journals (before the band
had its own parts) still read: their band messages, recorded as "partner" on the band's default
channels, go back to their parts.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
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
)
from improv.core.listen.segment import ALL_OFF_CCS, PEDAL_CC, RESET_CC, pedal_up
from improv.core.theory.chart import chart_from_bars, parse_bars
from improv.errors import ImprovError

JOURNAL_SUFFIX = ".journal"
FORMAT = 3  # 3: "alive" records; 2: band parts and their channels, origin records; 1: player and partner only
READS = (1, 2, 3)  # the formats this improv recovers
_PART_SET = frozenset(PARTS)
TEMPO_SOON_S = 1.0  # a tempo this soon after the origin is the tempo from it, when none came before
CARRY_MIN_S = 0.05  # a note held over the origin and let go sooner after it is not carried into bar 1
CHORD_SAME_S = 0.03  # a chord the session wrote this close to one of the chart's replaces it


def _record_time(r: list) -> float:
    t = r[1]
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.0 <= t <= limits.RECORDING_S[1]:
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
        ValueError: the file is not an improv journal.
    """
    rec, _, damaged = load_journal_parts(path)
    return rec, damaged


def load_journal_parts(path: Path) -> tuple[Recording, Recording | None, int]:
    """`load_journal`, and what was played before an external clock's Start: a recording
    at its own times, notes still held at the Start ending there (None: no Start).

    Returns:
        (the recording, the one before the Start or None, damaged records skipped).

    Raises:
        ValueError: the file is not an improv journal.
    """
    rec, early, damage = load_journal_report(path)
    return rec, early, damage.records


@dataclass(frozen=True)
class Damage:
    """What reading a journal had to skip, and what it had to assume.

    Attributes:
        records: damaged records skipped (about how many, where a stretch of bytes was lost).
        text: one line saying what was skipped ("" when nothing was).
        header: one line saying what was assumed for a damaged header ("" when nothing was).
    """

    records: int = 0
    text: str = ""
    header: str = ""


_UNREADABLE = object()  # a first line that is not JSON
TYPICAL_RECORD_BYTES = 30  # a record line's length, when the journal has too few to measure
HEADER_DEFAULTS = "120 bpm, 4/4, the default channels and no chart"


def _read_lines(path: Path) -> tuple[Any, list[Any], list[tuple[int, int]], int]:
    """A journal's lines: the first line's value (`_UNREADABLE` when it is not JSON), the
    values of the other lines that are JSON, the damaged stretches (runs of lines that are
    not JSON: (lines, bytes)) and a record line's typical length in bytes."""
    first: Any = _UNREADABLE
    body: list[Any] = []
    stretches: list[tuple[int, int]] = []
    lengths: list[int] = []
    in_stretch = False
    with open(path, "rb") as f:
        for i, raw in enumerate(f):
            try:
                value = json.loads(raw.decode("utf-8", errors="replace"))
            except (ValueError, RecursionError):  # (RecursionError: a line of thousands of '[')
                if i > 0:
                    if in_stretch:
                        n, b = stretches[-1]
                        stretches[-1] = (n + 1, b + len(raw))
                    else:
                        stretches.append((1, len(raw)))
                    in_stretch = True
                continue
            in_stretch = False
            if i == 0:
                first = value
            else:
                body.append(value)
                lengths.append(len(raw))
    lengths.sort()
    typical = max(12, lengths[len(lengths) // 2]) if len(lengths) >= 3 else TYPICAL_RECORD_BYTES
    return first, body, stretches, typical


def _describe_damage(stretches: list[tuple[int, int]], bad_records: int, typical: int) -> tuple[int, str]:
    """(about how many records were lost, one line saying so) for the damaged stretches of
    a journal and its records that are JSON but not valid records. A torn line is one
    record; a stretch longer than two records is told in bytes, with the records it held."""
    big = [(n, b) for n, b in stretches if n > 1 or b > 2 * typical]
    small = sum(n for n, b in stretches if not (n > 1 or b > 2 * typical)) + bad_records
    parts = []
    lost = small
    if big:
        about = sum(max(n, round(b / typical)) for n, b in big)
        nbytes = sum(b for _, b in big)
        what = f"a damaged stretch of {nbytes} bytes" if len(big) == 1 else \
            f"{len(big)} damaged stretches of {nbytes} bytes in all"
        parts.append(f"{what} skipped (about {about} {'record' if about == 1 else 'records'})")
        lost += about
    if small:
        other = " other" if big else ""
        parts.append(f"{small}{other} damaged {'record' if small == 1 else 'records'} skipped")
    return lost, "; ".join(parts)


def _parse_record(r: Any) -> tuple[str, float, Any]:
    """One journal record -> (kind, seconds, its message, `Marker`, bpm or None).

    Raises:
        ValueError, TypeError, IndexError, KeyError, AttributeError: a damaged record.
    """
    if not isinstance(r, list) or len(r) < 2 or not isinstance(r[0], str):
        raise ValueError("not a record")
    kind, t = r[0], _record_time(r)
    if kind in _PART_SET:
        return kind, t, _channel_message(r[2])
    if kind == "marker":
        mkind = str(r[3]) if len(r) > 3 else "text"
        return kind, t, Marker(t, str(r[2]), mkind if mkind in MARKER_KINDS else "text")
    if kind == "tempo":
        bpm = r[2]
        limits.check_range("tempo", bpm, limits.FILE_TEMPO_BPM, error=ValueError)
        return kind, t, float(bpm)
    if kind in ("origin", "alive"):  # ("alive": the session was still running at t)
        return kind, t, None
    raise ValueError(f"unknown record {kind!r}")


_RECORD_ERRORS = (TypeError, ValueError, IndexError, KeyError, AttributeError)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


def _header_settings(header: dict[str, Any]) -> tuple[float, int, dict[str, int], list[str], list[str]]:
    """(tempo, beats a bar, channels by part, the values that are damaged, what was assumed
    for them) from a journal's header: a damaged value is replaced by its default, the rest kept."""
    bad: list[str] = []
    assumed: list[str] = []

    def field(key: str, default: Any, conv: Callable[[Any], Any], rng: tuple, said: str) -> Any:
        if key not in header:
            return default
        try:
            value = conv(header[key])
            limits.check_range(key, value, rng, error=ValueError)
            return value
        except (TypeError, ValueError, OverflowError):
            bad.append(f"{key} {_shown(header[key])}")
            assumed.append(said)
            return default

    tempo = field("tempo", 120.0, float, limits.FILE_TEMPO_BPM, "120 bpm")
    bpb = field("beats_per_bar", 4, int, limits.FILE_BEATS_PER_BAR, "4/4")
    channels = {p: field(f"{p}_channel", DEFAULT_CHANNELS[p], int, limits.CHANNEL,
                         f"channel {DEFAULT_CHANNELS[p]} for the {p}") for p in PARTS}
    return tempo, bpb, channels, bad, assumed


def load_journal_report(path: Path) -> tuple[Recording, Recording | None, Damage]:
    """`load_journal_parts`, saying what was skipped and what was assumed (`Damage`).

    A journal whose header line is damaged (not JSON, or a value out of range) is still
    read when its other lines are recognisably journal records: a damaged value is
    replaced by its default (a header that cannot be read at all: 120 bpm, 4/4, the
    default channels, no chart), and `Damage.header` says so.

    Raises:
        ValueError: the file is not an improv journal (no header, and its lines are not
            journal records).
    """
    path = Path(path)
    first, body, stretches, typical = _read_lines(path)
    header = first if isinstance(first, dict) else None
    parsed: list[tuple[str, float, Any]] = []
    bad_records = 0
    for r in ([first] if isinstance(first, list) else []) + body:  # (a lost header line: the first is a record)
        try:
            parsed.append(_parse_record(r))
        except _RECORD_ERRORS:
            bad_records += 1  # a damaged line: keep the rest
    version = header.get("improv_journal") if header is not None else None
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT:
        raise ValueError(f"journal format {version} is newer than this improv reads ({FORMAT}): upgrade improv to "
                         "recover it (the journal is left as it was)")
    known = header is not None and version in READS
    header_note = ""
    if known:
        assert header is not None
        tempo, bpb, channels, bad, assumed = _header_settings(header)
        chart_text, sections = header.get("chart"), header.get("sections", [])
        title = str(header.get("title") or "improv session")
        format1 = header.get("improv_journal") == 1
    else:
        lines = len(parsed) + bad_records + sum(n for n, _ in stretches)
        if not parsed or 2 * len(parsed) < lines:
            raise ValueError(f"{path} is not an improv journal (no header line)")
        tempo, bpb, channels, bad, assumed = 120.0, 4, dict(DEFAULT_CHANNELS), [], []
        chart_text, sections, title = None, [], "improv session"
        format1 = True  # (band messages recorded as the partner's go back to their parts either way)
        header_note = f"no readable header line: assumed {HEADER_DEFAULTS}"
    # a format-1 journal recorded the band as "partner", on the band's own channels
    band_of = {} if not format1 else \
        {DEFAULT_CHANNELS[p] - 1: p for p in ("comp", "bass", "click") if DEFAULT_CHANNELS[p] != channels["partner"]}
    tempos: list[tuple[float, float]] = []
    events: list[TimedMessage] = []
    markers: list[Marker] = []
    origin: float | None = None
    for kind, t, x in parsed:
        if kind in _PART_SET:
            if kind == "partner" and x.channel in band_of:
                kind = band_of[x.channel]
            events.append(TimedMessage(t, kind, x))
        elif kind == "marker":
            markers.append(x)
        elif kind == "tempo":
            tempos.append((t, x))
        elif kind == "origin" and origin is None:  # the first one counts
            origin = t
    events.sort(key=lambda e: e.t)
    events += _released_at_the_end(events, max((t for kind, t, _ in parsed if kind != "origin"), default=0.0))
    tempos.sort(key=lambda tb: tb[0])  # (stable: of two tempos given at one time the later counts)
    early = None
    if origin is not None:
        # A journal that ends before the origin (a session killed in its count-in) has no
        # bar 1: a note held then belongs to what came before it, ending where the journal does
        # (its bars still counted back from the bar 1 that was to come: the count-in's).
        reached = any(t > origin for _, t, _ in parsed)
        last = max((t for kind, t, _ in parsed if kind != "origin"), default=origin)
        before, before_markers, before_tmap = _before_origin(origin, events, markers, tempos, tempo,
                                                             origin if reached else last, bpb)
        early = Recording(tuple(before), tuple(before_markers), before_tmap, bpb, channels["player"],
                          channels["partner"], title, channels["comp"], channels["bass"], channels["click"])
        events, markers, tmap = _from_origin(origin, events, markers, tempos, tempo, carry=reached)
    else:
        tmap = _tempo_map([(0.0, tempo)] + tempos)
    end = max([e.t for e in events[-1:]] + [m.t for m in markers], default=0.0)
    if chart_text:
        try:
            chart = chart_from_bars(parse_bars(str(chart_text), bpb), bpb,
                                    sections=tuple((int(a), str(b)) for a, b in sections))
            # a chord the session wrote (a substitute an answer opened over) stands for the chart's there
            played = [m.t for m in markers if m.kind == "chord"]
            markers.extend(m for m in chart_markers(chart, end, tmap)
                           if m.kind != "chord" or not any(abs(m.t - t) < CHORD_SAME_S for t in played))
        except (ImprovError, ValueError, TypeError):
            bad.append("chart")  # a chart we cannot read back: the notes matter more than the markers
            assumed.append("no chart")
    if bad:
        header_note = f"damaged header ({', '.join(bad)}): assumed {', '.join(assumed)}"
    markers.sort(key=lambda m: m.t)
    rec = Recording(tuple(events), tuple(markers), tmap, bpb, channels["player"], channels["partner"], title,
                    channels["comp"], channels["bass"], channels["click"])
    lost, text = _describe_damage(stretches, bad_records, typical)
    return rec, early, Damage(lost, text, header_note)


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
        elif m.type == "control_change" and m.control in ALL_OFF_CCS:  # every key of the channel let go
            for key in [k for k in held if k[:2] == (e.part, m.channel)]:
                del held[key]
        elif m.type == "control_change" and m.control in (PEDAL_CC, RESET_CC):
            if not pedal_up(m.control, m.value):
                pedal[(e.part, m.channel)] = m
            else:
                pedal.pop((e.part, m.channel), None)
    return held, pedal


BANK_SELECT_CCS = (0, 32)


def _sound_at(events: list[TimedMessage], origin: float) -> list[TimedMessage]:
    """The sound each part's channel was set to before `origin` (its last bank select and
    program change), in the order they were sent: a program chosen on the keyboard while
    improv started (or before a DAW's Start) is the sound of the file from bar 1 too."""
    last: dict[tuple[str, int, int], tuple[int, TimedMessage]] = {}
    for i, e in enumerate(events):
        if e.t >= origin:
            break  # (events are in time order)
        m = e.msg
        if m.type == "program_change":
            last[(e.part, m.channel, -1)] = (i, e)
        elif m.type == "control_change" and m.control in BANK_SELECT_CCS:
            last[(e.part, m.channel, m.control)] = (i, e)
    return [e for _, e in sorted(last.values(), key=lambda x: x[0])]


def _released_at_the_end(events: list[TimedMessage], end: float) -> list[TimedMessage]:
    """Note-offs and pedal-ups at `end` (the journal's last record but an origin: the last
    time the session was known to run, its half-second "alive" records among them) for
    what was still held there (a crash: the session could not release it), so a note
    held through a crash keeps its length and a pedal held down is lifted."""
    held, pedal = _held_at(events, math.inf)
    out = [TimedMessage(end, part, mido.Message("note_off", channel=ch, note=note)) for part, ch, note in sorted(held)]
    out += [TimedMessage(end, part, mido.Message("control_change", channel=ch, control=64, value=0))
            for part, ch in sorted(pedal)]
    return out


def _from_origin(origin: float, events: list[TimedMessage], markers: list[Marker],
                 tempos: list[tuple[float, float]], tempo: float, carry: bool = True
                 ) -> tuple[list[TimedMessage], list[Marker], tuple[tuple[float, float], ...]]:
    """Shift everything so that `origin` is time 0: what came before is dropped, except
    notes and the sustain pedal still held at the origin (they start at 0; with `carry`
    False, none: the journal ended before the origin, so they never reached it), and each
    channel's sound (`_sound_at`), which is set at 0."""
    held, pedal = _held_at(events, origin) if carry else ({}, {})
    sounds = _sound_at(events, origin)
    after = [TimedMessage(e.t - origin, e.part, e.msg) for e in events if e.t >= origin]
    # a note let go just after the origin was played before it, released a moment late (the
    # file before the origin ends it there): carried, it was a tick-long note on bar 1
    for e in [e for e in after if e.t < CARRY_MIN_S]:
        m = e.msg
        if m.type in ("note_on", "note_off") and (m.type == "note_off" or m.velocity == 0) \
                and held.pop((e.part, m.channel, m.note), None) is not None:
            after.remove(e)
    carried = [TimedMessage(0.0, e.part, e.msg) for e in sounds]
    carried += [TimedMessage(0.0, part, m) for (part, _), m in sorted(pedal.items(), key=lambda x: x[0])]
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
                   tempos: list[tuple[float, float]], tempo: float, release: float | None = None,
                   bpb: int = 0) -> tuple[list[TimedMessage], list[Marker], tuple[tuple[float, float], ...]]:
    """What came before `origin`; notes and the sustain pedal still held at the origin are
    released there (or at `release`: where a journal that ends before the origin ends).
    With `bpb`, it starts on the last bar line (counted back from the origin, at the tempo
    there) at or before its first event, so that its bars are the count-in's and lead into
    bar 1 (a session that waited for a DAW's Start began its journal whenever it began)."""
    held, pedal = _held_at(events, origin)
    at = origin if release is None else release
    before = [e for e in events if e.t < origin]
    before += [TimedMessage(at, part, mido.Message("note_off", channel=ch, note=note))
               for part, ch, note in sorted(held)]
    before += [TimedMessage(at, part, mido.Message("control_change", channel=ch, control=64, value=0))
               for part, ch in sorted(pedal)]
    early_markers = [m for m in markers if m.t < origin]
    changes = [(0.0, tempo)] + [(t, bpm) for t, bpm in tempos if t < origin]
    firsts = [e.t for e in before] + [m.t for m in early_markers]
    if bpb and firsts:
        bar_s = bpb * 60.0 / _tempo_map(changes)[-1][1]
        shift = origin - math.ceil((origin - min(firsts)) / bar_s - 1e-6) * bar_s
        # (negative when that bar line is before the journal's start, its first event less than a
        # bar after it (a note played while improv started): everything moves later, onto its bars)
        if abs(shift) > 1e-6:
            before = [TimedMessage(e.t - shift, e.part, e.msg) for e in before]
            early_markers = [dataclasses.replace(m, t=m.t - shift) for m in early_markers]
            cut = max(shift, 0.0)
            in_force = [bpm for t, bpm in sorted(changes, key=lambda c: c[0]) if t <= cut][-1]
            changes = [(0.0, in_force)] + [(t - shift, bpm) for t, bpm in changes if t > cut]
    return before, early_markers, _tempo_map(changes)

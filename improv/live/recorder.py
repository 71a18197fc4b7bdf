"""The session recorder: everything the player, the partner and the rhythm section play,
journalled as it happens and turned into a type-1 MIDI file when the session ends.

- Before the session: `check_record_folder` (run by the constructor, and by the jam before
  it opens a port) refuses a folder that cannot be made, written or has no room, in one
  line naming the folder and the fix.
- During it: `event` / `marker` / `tempo` / `set_origin` are safe from any thread and never
  block (they put a line on the journal's queue). A write that fails is shown at once
  (`on_fail`, `error`) and the journal keeps what it can (see improv/live/journal.py).
- At the end: `close()` converts the journal to `<folder>/<YYYYmmdd-HHMMSS>.mid` and
  removes it; a session where nobody played writes nothing (and says so); when the file
  cannot be written, `problem` says where the journal is and the `improv recover` command
  to run. An exit that skips `close()` (a second Ctrl-C) still writes the file, at exit.

After a crash the journal stays behind; `improv.live.recovery.recover` (and `improv
recover`) rebuilds the MIDI file from it, losing at most the last second.

With an external clock, beat 0 of the file is the DAW's Start (`set_origin`) and its tempo
map is the DAW's (`tempo`), not the config's. A session that also tells the recorder the DAW's
song position (`follow`) and transport (`transport`) gets a file on the DAW's time, as a DAW
records: every note at the song position (bar and beat) it was played at, the time the DAW
stood stopped left out, Stop then Continue going on where it stopped, and a jump back (a
Start, or a Song Position before the stop) a new take after the last, a whole number of
choruses on, so that the chart's chord markers stay under the bars the DAW played (see
`follow`).
"""

from __future__ import annotations

import atexit
import datetime as _dt
import logging
import math
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import Any, Callable

import mido

from improv.core import limits
from improv.core.formats.midifile import DEFAULT_CHANNELS, PARTS
from improv.core.theory.chart import Chart
from improv.core.theory.notes import count_notes
from improv.errors import ConfigError
from improv.live.journal import Journal, warn_stderr
from improv.live.journalread import FORMAT, JOURNAL_SUFFIX
from improv.live.recovery import SOUNDING_PARTS, before_start_path, journal_to_midi_file
from improv.live.songtime import SongTime

log = logging.getLogger("improv.recorder")

MIN_FREE_BYTES = 1 << 20  # an hour of dense playing journals about 6 MB; less than 1 MB free is refused
_PART_SET = frozenset(PARTS)


RECORD_FIX = "pass --record DIR with a folder you can write to (or set record.folder), or --no-record"


def check_record_folder(folder: Path, min_free: int = MIN_FREE_BYTES) -> Path:
    """Make sure sessions can be recorded into `folder`: it exists or can be created, a file
    can be written there, and at least `min_free` bytes are free.

    Raises:
        ConfigError: one line naming the folder, what is wrong and the fix.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"the record folder {folder} is a file, not a folder: {RECORD_FIX}")
    if not folder.exists() and folder.suffix.lower() in (".mid", ".midi"):  # (it became a folder of that name)
        raise ConfigError(f"the record folder {folder} is a file name (--record, record.folder): sessions are saved "
                          f"in a folder as <date-time>.mid; pass --record {folder.parent} to record there")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create the record folder {folder} ({e.strerror or e}): {RECORD_FIX}") from None
    probe = folder / f".improv-write-test-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)
            probe.unlink(missing_ok=True)
    except OSError as e:
        raise ConfigError(f"the record folder {folder} is not writable ({e.strerror or e}): {RECORD_FIX}") from None
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    if free is not None and free < min_free:
        raise ConfigError(f"the record folder {folder} has only {free // 1024} KB free (a session needs at least "
                          f"{min_free // 1024} KB): free some space or {RECORD_FIX}")
    return folder


def recover_command(journal: Path) -> str:
    return f"improv recover {journal}"


MAX_SAME_STAMP = 10_000  # sessions that may start in one second into one folder


def _new_journal(folder: Path, stamp: str, header: dict[str, Any], warn: Callable[[str], None],
                 on_fail: Callable[[str], None] | None) -> tuple[str, Journal]:
    """The session's journal, `<folder>/<stamp>.journal`, else `<stamp>-2`, `-3`, ... (the
    first whose .mid and journal are not there): the journal is created exclusively, so two
    sessions started in the same second never take the same name. Returns (stem, journal).

    Raises:
        ConfigError: the journal cannot be created (one line naming the folder and the fix).
    """
    for n in range(1, MAX_SAME_STAMP + 1):
        name = stamp if n == 1 else f"{stamp}-{n}"
        if (folder / f"{name}.mid").exists() or before_start_path(folder / f"{name}.mid").exists():
            continue  # (a session ended in its count-in wrote only the latter)
        try:
            return name, Journal(folder / f"{name}{JOURNAL_SUFFIX}", header, warn=warn, on_fail=on_fail)
        except FileExistsError:
            continue  # another session took this name between the look and the create: the next one
        except OSError as e:
            raise ConfigError(f"cannot record to {folder} ({e.strerror or e}): {RECORD_FIX}") from None
    raise ConfigError(f"cannot record to {folder} ({MAX_SAME_STAMP} sessions named {stamp} are there): {RECORD_FIX}")


class Recorder:
    """Records one session.

    Args:
        folder: where the journal and the .mid go (created if needed).
        tempo: session tempo, beats per minute (the file's tempo until `tempo` changes it).
        beats_per_bar: metre.
        player_channel: 1-16, the player's channel in the file.
        partner_channel: 1-16, the partner's channel in the file.
        t0: session start on the session clock (seconds); event times are on that clock.
            Beat 0 of the file, unless `set_origin` moves it.
        chart: the chart the session plays over, if known: chord and section markers
            are written at its changes.
        warn: where the warning lines go (a failed write, a rescued journal, a file that
            could not be written).
        stamp: the file name stem (default: the local start time, YYYYmmdd-HHMMSS).
        band_channels: 1-16 channels of "comp", "bass" and "click" (default 3, 4, 10).
        on_fail: called once, from the journal's thread, with one line when recording
            starts failing mid-session, so that the session can show it at once.
        min_free: bytes the folder must have free.

    Raises:
        ConfigError: the folder cannot be recorded into (one line naming it and the fix).
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
        *,
        band_channels: dict[str, int] | None = None,
        on_fail: Callable[[str], None] | None = None,
        min_free: int = MIN_FREE_BYTES,
    ) -> None:
        self.folder = check_record_folder(Path(folder), min_free)
        self.t0 = t0
        self._warn = warn
        stamp = stamp or _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        channels = {**DEFAULT_CHANNELS, **(band_channels or {}), "player": int(player_channel),
                    "partner": int(partner_channel)}
        header: dict[str, Any] = {
            "improv_journal": FORMAT,
            "tempo": float(tempo),
            "beats_per_bar": int(beats_per_bar),
            **{f"{p}_channel": int(channels[p]) for p in PARTS},
            "started": _dt.datetime.now().isoformat(timespec="seconds"),
        }
        if chart is not None:
            header["chart"] = chart.to_text()
            header["sections"] = [list(s) for s in chart.sections]
            header["title"] = chart.title
        self.stamp, self._journal = _new_journal(self.folder, stamp, header, warn, on_fail)
        self.journal_path = self._journal.path
        # The partner plays on its own channel only; a "partner" message on a band part's
        # channel is that part's (a caller that does not tell the band's parts apart).
        self._band_of = {channels[p] - 1: p for p in ("comp", "bass", "click") if channels[p] != channels["partner"]}
        self._closed: Path | None | bool = False
        self._played = False
        self._origin_set = False
        self._bad_tempo_said = False
        self.empty = False  # set by close(): nobody played, nothing written
        self.problem = ""  # set by close(): one line when the recording is not (all) in the .mid
        self.left_out = 0  # set by close(), following a DAW: notes played while it stood stopped, not in the file
        self.before_start: Path | None = None  # set by close(): the notes played before a DAW's Start
        self._tempo0 = float(tempo)
        self._bpb = int(beats_per_bar)
        self._chorus = float(chart.length) if chart is not None else float(beats_per_bar)
        self._song: SongTime | None = None  # following a DAW's song position (`follow`)
        self._lock = threading.Lock()
        atexit.register(self._at_exit)

    @classmethod
    def from_config(cls, cfg: Any, t0: float, chart: Chart | None = None, *,
                    warn: Callable[[str], None] = warn_stderr,
                    on_fail: Callable[[str], None] | None = None) -> "Recorder":
        """A recorder for a session with settings `cfg` (an `improv.config.Config`): its
        folder, tempo, metre (the chart's, when there is one: a tune in 3/4 is recorded in
        3/4 whatever [timing] says) and every part's channel.

        Raises:
            ConfigError: the folder cannot be recorded into.
        """
        b = cfg.band
        bpb = chart.beats_per_bar if chart is not None else cfg.timing.beats_per_bar
        return cls(Path(cfg.record.folder), cfg.timing.tempo, bpb, cfg.midi.player_channel,
                   cfg.midi.partner_channel, t0, chart=chart, warn=warn, on_fail=on_fail,
                   band_channels={"comp": b.comp_channel, "bass": b.bass_channel, "click": b.click_channel})

    @property
    def failed(self) -> str:
        """The first recording failure, one line ("" while all is well): show it at once."""
        return self._journal.failed

    @property
    def error(self) -> str:
        """What is failing now ("" while lines reach the journal)."""
        return self._journal.error

    def event(self, part: str, msg: mido.Message, t: float) -> None:
        """Record a channel message of `part` ("player", "partner", "comp", "bass" or
        "click") played at `t` seconds on the session clock. Any thread; never blocks.
        Clock, sysex and other non-channel messages are not recorded. A "partner" message
        on a band part's channel (not the partner's) is recorded as that part's."""
        if part not in _PART_SET or not hasattr(msg, "channel"):
            return
        if part == "partner" and msg.channel in self._band_of:
            part = self._band_of[msg.channel]  # a rhythm section message handed over as the partner's
        if self._song is not None:
            with self._lock:
                at = self._song.place(part, msg, t)
            if at is None:
                return  # played while the DAW stood stopped: held for a pickup, else left out
        else:
            at = t - self.t0
        if not self._played and part in SOUNDING_PARTS and msg.type == "note_on" and msg.velocity > 0:
            self._played = True
        self._journal.write([part, round(max(0.0, at), 6), msg.bytes()])

    def marker(self, text: str, t: float, kind: str = "text") -> None:
        """A text marker at `t` seconds on the session clock; `kind` is "text" (free text,
        e.g. "bar 5: heard C# over Cmaj7"), "chord" (a chord symbol; with no chart, one heard
        in the player's notes is "(heard) Dm7", and one the partner re-harmonised it with is
        "(substitute) Db7") or "section". Any thread; never blocks."""
        self._journal.write(["marker", self._at(t), str(text), kind])

    def alive(self, t: float) -> None:
        """The session is still running at `t` seconds on the session clock (the conductor
        says so every half second): after a crash, notes still held end there, not at the
        last message. Any thread; never blocks."""
        self._journal.write(["alive", self._at(t)])

    def _at(self, t: float) -> float:
        """Seconds into the file of `t` on the session clock (on the DAW's song position
        when following one), for a marker or an "alive" record."""
        if self._song is not None:
            with self._lock:
                at = self._song.at(t)
        else:
            at = t - self.t0
        return round(max(0.0, at), 6)

    def tempo(self, bpm: float, t: float) -> None:
        """A tempo change to `bpm` at `t` seconds on the session clock (a tapped tempo, the
        DAW's tempo). Any thread; never blocks. A tempo that is not finite or outside
        `limits.FILE_TEMPO_BPM` is left out (warned once)."""
        lo, hi = limits.FILE_TEMPO_BPM
        if not (isinstance(bpm, (int, float)) and math.isfinite(bpm) and lo <= bpm <= hi):
            if not self._bad_tempo_said:
                self._bad_tempo_said = True
                self._warn(f"a tempo of {bpm!r} bpm is not recorded (expected {lo:g} to {hi:g} bpm)")
            return
        at = t - self.t0
        if self._song is not None:
            with self._lock:
                at = self._song.tempo_change(float(bpm), t)
        self._journal.write(["tempo", round(max(0.0, at), 6), float(bpm)])

    def set_origin(self, t: float) -> bool:
        """Make `t` seconds on the session clock beat 0 of the file (an external clock's
        Start). What came before it is left out, except notes (and the sustain pedal)
        still held at `t`, which start at beat 0. The tempo at beat 0 is the last one given
        by `tempo()` at or before `t`, else the first one given after it (the DAW's, once
        the clock has measured it), else the constructor's. Any thread; never blocks.

        Only the first call moves beat 0 (a linear file cannot jump back to a second
        Start); later calls are ignored.

        Returns:
            True if this call set beat 0.
        """
        if self._origin_set:
            return False
        if self._song is not None:  # following the DAW's song position: its first Start
            self.transport("start", t, 0.0)
            return True
        self._origin_set = True
        self._journal.write(["origin", round(max(0.0, t - self.t0), 6)])
        return True

    def follow(self, song_beat: Callable[[float], float | None]) -> None:
        """Put the file on a DAW's time: `song_beat(t)` is the session's beat of the chart
        at `t` seconds on the session clock while the DAW runs (its song position in beats,
        plus the count-in's offset when trading counts in: negative in the count-in; no
        swing; None when it cannot say), and `transport` tells its Start, Stop and Continue
        in those beats. Call before anything is recorded.

        - Before the first Start everything is recorded as before `set_origin` (beside the
          file, in `<stamp>-before-start.mid`, with a count-in); beat 0 of the file is the
          chart's bar 1, and the file's beat is the session's: a DAW started at bar 5 puts
          its first note in bar 5.
        - While it runs, every message goes at its song position (not at the seconds since
          the Start, which run on while it stands stopped and drift from its beat at a
          tempo measured within 0.5 %).
        - A Stop: the note-offs that follow (the partner and the band silenced, keys let
          go) go at the stop; what is played while it stands stopped is not part of the
          song, except the last `PICKUP_BEATS` before the next Start or Continue, which
          lead into it (a pickup); `left_out` counts the notes left out.
        - A Continue from where it stopped (within a sixteenth) goes on in the same bar:
          the stopped time is not in the file. A jump back (a Start after playing, a Song
          Position before the stop) is a new take: it goes after all that is written, a
          whole number of choruses of the chart later (bars without a chart), so every
          note stays under its chord; a text marker names the take and its bar ("take 2:
          from bar 3"). A jump forward leaves the gap ("from bar 9").
        - The tempo map is the DAW's tempo (`tempo`) at the song positions it was given.

        Any thread (before the session starts)."""
        with self._lock:
            if self._song is None:
                self._song = SongTime(song_beat, self._chorus, self._bpb, self._tempo0, self.t0)

    def transport(self, kind: str, t: float, beat: float) -> None:
        """The DAW's transport, when following it (`follow`; ignored otherwise): `kind` is
        "start", "continue" (`beat`: the song beat it runs from), "stop" (`beat`: where it
        stopped) or "position" (a Song Position while stopped: the next Continue says it).
        `t`: seconds on the session clock. Any thread; never blocks."""
        if self._song is None:
            return
        with self._lock:
            lines = self._song.transport(kind, t, beat)
            self._origin_set = self._origin_set or self._song.started
            self._played = self._played or self._song.played
        for line in lines:
            self._journal.write([line[0], round(max(0.0, line[1]), 6), *line[2:]])

    def close(self) -> Path | None:
        """Stop journalling and write `<folder>/<stamp>.mid` (calling thread; idempotent).

        Returns:
            The .mid path, or None when nothing was written: nobody played (`empty`; the
            journal is removed and the log says so), nobody played from bar 1 (a session
            ended in its count-in: what was played before is in `before_start`) or the file
            could not be written (`problem` says where the journal is and the command that
            recovers it).
        """
        if self._closed is not False:
            return self._closed  # type: ignore[return-value]
        # Until the end, the exit hook stays: a close cut short (a second Ctrl-C) is redone at exit.
        if self._song is not None:
            with self._lock:
                st = self._song
                st.left_out += sum(1 for _, _, m in st.idle if m.type == "note_on" and m.velocity > 0)
                st.idle.clear()
                self.left_out = st.left_out
            if self.left_out:
                log.info("%s played while the DAW stood stopped %s not in the recording", count_notes(self.left_out),
                         "is" if self.left_out == 1 else "are")
        self._journal.close(hold=True)  # (locked until it is the .mid: `improv recover` meanwhile leaves it alone)
        j = self._journal
        source = j.rescued or self.journal_path
        if not self._played:
            self.empty = True
            for p in {source, self.journal_path}:
                p.unlink(missing_ok=True)
            j.release()
            log.info("nothing was played: no recording written")
            self._done(None)
            return None
        path: Path | None = None
        try:
            path = self._write_midi(source)
        except Exception as e:  # noqa: BLE001 - an exit path: keep the journal and say how to recover it
            why = getattr(e, "strerror", None) or e
            self.problem = (f"the session's MIDI file could not be written ({why}); its journal is kept in {source}: "
                            f"run `{recover_command(source)}` when there is room")
        j.release()
        written = path or self.before_start
        if written is not None and j.lost:
            lost = (f"recording lost {j.lost} message(s) when the disk refused them ({j.failed}); the rest "
                    f"is in {written}")
            self.problem = f"{self.problem}; {lost}" if self.problem else lost
        elif written is not None and j.rescued is not None:
            self._warn(f"recording had trouble ({j.failed}) but nothing was lost: written to {written}")
        if self.problem:
            self._warn(self.problem)
        self._done(path)
        return path

    def _done(self, path: Path | None) -> None:
        self._closed = path
        atexit.unregister(self._at_exit)

    def _write_midi(self, source: Path) -> Path | None:
        """The journal -> `<folder>/<stamp>.mid`, else beside the journal; removes the journal.
        None: nothing was played from bar 1, only before it (`before_start`: a session ended
        in its count-in after a pickup)."""
        target = self.folder / f"{self.stamp}.mid"
        try:
            out, damaged, early = journal_to_midi_file(source, target, keep_damaged=True)
        except OSError:
            if source.parent == self.folder:
                raise
            out, damaged, early = journal_to_midi_file(source, source.with_name(f"{self.stamp}.mid"), keep_damaged=True)
        self.before_start = early
        if damaged:  # every record was written by this session: one it cannot read is a fault, kept for a look
            self.problem = (f"{damaged} record(s) of the session's journal could not be read and are not in "
                            f"{out or early}; "
                            f"the journal is kept in {source}")
        return out

    def _at_exit(self) -> None:
        """At interpreter exit, a recorder never closed (an exit path that skipped the
        session's close, e.g. a second Ctrl-C) writes its file, or says where the journal is."""
        if self._closed is not False:
            return
        try:
            path = self.close()
        except Exception as e:  # noqa: BLE001 - the last words must be said
            print(f"improv: the session ended abruptly and its recording could not be written ({e}): run "
                  f"`{recover_command(self.journal_path)}`", file=sys.stderr, flush=True)
            return
        if path is not None:
            print(f"improv: the session ended abruptly; recorded to {path}", file=sys.stderr, flush=True)
        elif self.before_start is not None:
            print(f"improv: the session ended abruptly before bar 1; what was played is in {self.before_start}",
                  file=sys.stderr, flush=True)

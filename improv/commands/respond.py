"""`improv respond CALL.mid [-o ANSWER.mid]`: answer a call offline, as the live partner would.

The answer is written to `-o`, by default beside the call as `CALL-answer.mid`.

The output keeps the call's timeline: the same tempo map, beat 0 = the call file's beat 0
= bar 1 of the chart (which loops). The call goes on a `player` track, the answer on a
`partner` track, and the chords on the conductor track as text events, so the answer can
be read against the chart in any DAW. The call's key signature and instrument (its bank and
program change) are kept, the partner answering on the player's instrument, so that a
tenor-sax call exported from a DAW does not come back as a piano in no key. The answer
starts where the live engine would start it: `Segmenter.answer_place` for a call whose end
(its last release) was noticed `gap_beats` later, i.e. the first beat (or bar, `--answer-on
bar`) after that.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from improv.commands.common import add_config_args, add_harmony_args, add_responder_args, settings_from_args
from improv.commands.embrace_args import add_embrace_args, embrace_settings_from_args, report_plans
from improv.config import Config, override
from improv.core import limits
from improv.core.theory.chart import Chart, single_chord_chart
from improv.core.theory.chords import Chord
from improv.core.theory.notes import Note, Phrase, count_notes
from improv.core.respond.base import AnswerSettings
from improv.errors import ConfigError, DataError

DRUM_CHANNEL = 9  # MIDI channel 10, 0-based


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("call", metavar="CALL.mid", help="the call: a MIDI file (its `player` track, else all its notes; or --track)")
    p.add_argument("-o", "--output", metavar="ANSWER.mid",
                   help="where to write call + answer (default: beside the call, CALL-answer.mid)")
    p.add_argument("--track", metavar="N|NAME",
                   help="read the call from this track only (index from 0, or name); default: the `player` "
                        "track of a session file, else every track")
    p.add_argument("--answer-on", choices=("beat", "bar"), help="start the answer on the next beat or bar (default beat)")
    add_harmony_args(p, "the tempo the call file plays at (default: the file's own tempo map, 120 where it "
                        "has none; a tune's or the settings' tempo does not change a file)")
    add_responder_args(p)
    add_embrace_args(p)
    add_config_args(p)


# ------------------------------------------------------------------- MIDI in/out


class _CallFile:
    """What `_read_call` found: notes (timeline beats), tempo map [(beat, bpm)], metre,
    which tracks (and channels, 1-16) the notes came from, the sustain pedal's moves
    [(beat, value)] on them, the file's end (beats), its key signatures [(beat, key)] and
    the call's instrument `setup` (bank select and program change messages, or none)."""

    def __init__(self, notes: list[Note], tempos: list[tuple[float, float]], beats_per_bar: int | None, drums: int,
                 tracks: str = "", channels: tuple[int, ...] = (), metre: str = "",
                 pedal: tuple[tuple[float, int], ...] = (), end: float = 0.0,
                 keys: tuple[tuple[float, str], ...] = (), setup: tuple[Any, ...] = (),
                 chords: tuple[tuple[float, str], ...] = ()) -> None:
        self.chords = chords  # (beat, text) of the file's text events: a session's chord symbols
        self.keys = keys
        self.setup = setup
        self.pedal = pedal
        self.end = end
        self.metre = metre  # the time signature as written ("6/8"), or ""
        self.tracks = tracks
        self.channels = channels
        self.notes = notes
        self.tempos = tempos
        self.beats_per_bar = beats_per_bar
        self.drums = drums


def _read_call(path: Path, track: str | None) -> _CallFile:
    """Read a call file: pitched notes (drums on channel 10 skipped), tempo map, metre.

    Raises:
        DataError: missing or unreadable file, or no such track.
    """
    import mido

    from improv.core.formats.calltrack import choose_tracks
    from improv.core.formats.midicheck import open_midi_file
    from improv.core.formats.midifile import PARTS, bar_quarters
    from improv.core.formats.miditrack import messages_to_notes, meta_text, track_names

    if not path.exists():
        raise DataError(f"call file {path} not found: give a .mid file with the phrase to answer")
    mid = open_midi_file(path)  # the checks every command makes (type 2 of several patterns, division, tempos, ...)
    names = track_names(mid)
    choice = choose_tracks(names, track, str(path))
    chosen = set(choice.indices)
    # a track of no notes sets up the channels others play (a song's programs on its first
    # track, a pedal on a track of its own): read with the call's notes, for their channels
    # (not a session's own part that played nothing: the partner's track is not the player's set-up)
    setup_tracks = {i for i, t in enumerate(mid.tracks) if i not in chosen and names[i].strip().lower() not in PARTS
                    and not any(m.type == "note_on" for m in t)}
    ppq = mid.ticks_per_beat
    tempos: list[tuple[float, float]] = []
    bpb: int | None = None
    notes: list[Note] = []
    pedal: list[Any] = []  # (beat, value, channel 1-16 of a set-up track's pedal, None for the call's own)
    drums = 0
    channels: set[int] = set()
    keys: list[tuple[int, str]] = []
    texts: list[tuple[float, str]] = []
    moves: list[tuple[int, mido.Message]] = []  # bank selects and program changes (tick, msg)
    was = ""  # the metre so far, as written
    song_end = max((sum(m.time for m in t) for t in mid.tracks), default=0) / ppq
    for i, t in enumerate(mid.tracks):
        tick = 0
        items = []
        for msg in t:
            tick += msg.time
            if msg.is_meta:
                if msg.type == "set_tempo":
                    tempos.append((tick / ppq, mido.tempo2bpm(msg.tempo)))
                elif msg.type == "key_signature":
                    keys.append((tick, msg.key))
                elif msg.type == "text" and msg.text.strip():  # (improv's sessions write their chords so)
                    texts.append((tick / ppq, meta_text(msg.text).strip()))  # (UTF-8, as DAWs write: B♭7)
                elif msg.type == "time_signature":
                    # a bar in quarter notes, as the chart counts it: 2/2 is 4/4, 6/8 is 3, 12/8 is 6
                    metre, quarters = f"{msg.numerator}/{msg.denominator}", bar_quarters(msg.numerator, msg.denominator)
                    if quarters * msg.denominator != msg.numerator * 4:
                        raise DataError(f"{path} is in {metre}, no whole number of quarter notes a bar: respond "
                                        "reads calls in metres such as 3/4, 4/4, 2/2, 6/8 or 12/8")
                    if bpb is not None and quarters != bpb:
                        if tick == bpb * ppq and quarters > bpb:  # one short bar, then the tune's metre
                            raise DataError(f"{path} begins with a pickup bar ({was}, then {metre}): respond counts "
                                            "bar 1 from the file's first beat; export the call from a bar line, "
                                            "without the pickup")
                        raise DataError(f"{path} changes metre ({was}, then {metre}): give a call in one metre")
                    was, bpb = metre, quarters
            elif (i in chosen or i in setup_tracks) and msg.type == "control_change" and msg.control == 64 \
                    and msg.channel != DRUM_CHANNEL:
                pedal.append((tick / ppq, msg.value, None if i in chosen else msg.channel + 1))
            elif (i in chosen or i in setup_tracks) and (msg.type == "program_change" or msg.type == "control_change"
                                                         and msg.control in (0, 32)):  # the instrument: bank, program
                moves.append((tick, msg))
            elif i in chosen and msg.type in ("note_on", "note_off"):
                if msg.channel == DRUM_CHANNEL:
                    drums += msg.type == "note_on" and msg.velocity > 0
                else:
                    items.append((tick / ppq, msg))
                    channels.add(msg.channel + 1)
        notes.extend(messages_to_notes(items, song_end))  # a note never ended runs to the song's end
    notes.sort(key=lambda n: (n.start, n.pitch))
    tempos.sort(key=lambda x: x[0])  # (stable: of two tempos at one beat the last written rules)
    tempos = list({beat: bpm for beat, bpm in tempos}.items())
    pedal = sorted(((beat, value) for beat, value, ch in pedal if ch is None or ch in channels), key=lambda x: x[0])
    key_map: list[tuple[float, str]] = []
    for tick, key in sorted(keys, key=lambda x: x[0]):  # (a key repeated on another track is one)
        if not key_map or key_map[-1][1] != key:
            key_map.append((tick / ppq, key))
    first = round(notes[0].start * ppq) if notes else 0
    return _CallFile(notes, tempos, bpb, drums, choice.description, tuple(sorted(channels)), was, tuple(pedal),
                     song_end, tuple(key_map), _instrument(moves, channels, first), tuple(sorted(texts)))


def _instrument(moves: list[tuple[int, Any]], channels: set[int], first: int) -> tuple[Any, ...]:
    """The call's instrument, kept so that the answer file opens on it: the last program
    change on the call's channel (1-16) at or before its first note (tick `first`), or with
    several channels the first one on any of them, preceded by the bank select (CC 0, 32)
    last sent on that channel; () for none. `moves`: (tick, message), in file order."""
    bank: dict[tuple[int, int], Any] = {}
    found: list[tuple[int, tuple[Any, ...]]] = []
    for tick, msg in sorted(moves, key=lambda x: x[0]):
        if msg.channel + 1 not in channels:
            continue
        if msg.type == "control_change":
            bank[(msg.channel, msg.control)] = msg
        else:
            sent = tuple(bank[k] for k in ((msg.channel, 0), (msg.channel, 32)) if k in bank)
            found.append((tick, (*sent, msg)))
    if len(channels) > 1:
        return found[0][1] if found else ()
    before = [setup for tick, setup in found if tick <= first]
    return before[-1] if before else ()


def sounding_end(notes: list[Note], pedal: tuple[tuple[float, int], ...], end: float) -> float:
    """When the call stops sounding, as the live partner hears it (the pedal counts as
    playing): its last release, or, with the sustain pedal down then, the pedal's lift
    after it (the file's `end` if it is never lifted)."""
    last = max(n.end for n in notes)
    down = False
    for beat, value in pedal:
        if beat <= last + 1e-9:
            down = value >= 64
        elif down and value < 64:
            return beat
    return max(last, end) if down else last


def tempo_at(tempos: list[tuple[float, float]], beat: float) -> float:
    """The tempo (bpm) in force at `beat` of a tempo map [(beat, bpm)] sorted by beat."""
    bpm = tempos[0][1]
    for b, t in tempos:
        if b <= beat + 1e-9:
            bpm = t
    return bpm


def swung(phrase: Phrase, ratio: float) -> Phrase:
    """`phrase` with its onsets and ends placed as a timeline swinging at `ratio` plays them."""
    from improv.core.theory.notes import swing_beats

    out = []
    for n in phrase.absolute():
        on, off = swing_beats(n.start, ratio), swing_beats(n.end, ratio)
        out.append(Note(on - phrase.start, n.pitch, max(off - on, 1e-3), n.velocity))
    return Phrase.of(out, start=phrase.start, length=phrase.length)


def _write(path: Path, call: list[Note], answer: Phrase, tempos: list[tuple[float, float]],
           chart: Chart, cfg: Config, notes: list[tuple[float, str]] = (),  # type: ignore[assignment]
           pedal: tuple[tuple[float, int], ...] = (), metre: str = "", keys: tuple[tuple[float, str], ...] = (),
           setup: tuple[Any, ...] = ()) -> None:
    """A type-1 file: conductor (tempo map, metre, chord text events: `chart`, the one the
    answer was played over, substitute included; `notes`, (beat, text) markers, e.g. what
    the partner did with an outside note), player (the call and its sustain `pedal`),
    partner; written beside `path` and renamed into place, so a failure leaves nothing
    half-written. `metre`: the call's time signature as written ("6/8"; default the
    chart's bars in quarter notes), so that a 6/8 call is not given back in 3/4. `keys`: the
    call's key signatures [(beat, key)], and `setup`: its bank select and program change,
    written at tick 0 on both the player and the partner (who answers on the player's
    instrument), so that the file opens in the call's key and sound."""
    import mido

    from improv.core.formats.miditrack import PPQ, file_text, phrase_to_track
    from improv.core.formats.paths import whole_or_nothing

    bpb = chart.beats_per_bar
    end = max([n.end for n in call] + [answer.end, 0.0])
    items: list[tuple[int, int, mido.MetaMessage]] = [
        (int(round(b * PPQ)), 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))) for b, bpm in tempos
    ]
    num, den = (int(x) for x in metre.split("/")) if metre else (bpb, 4)
    items.append((0, 1, mido.MetaMessage("time_signature", numerator=num, denominator=den)))
    items += [(int(round(b * PPQ)), 1, mido.MetaMessage("key_signature", key=key)) for b, key in keys]
    prev: object = object()
    for span in chart.changes_between(0.0, max(end, 1e-6)):
        if span.chord != prev:
            items.append((int(round(span.start * PPQ)), 2, mido.MetaMessage("text", text=file_text(str(span.chord)) if span.chord else "NC")))
            prev = span.chord
    items += [(int(round(b * PPQ)), 3, mido.MetaMessage("cue_marker", text=file_text(text))) for b, text in notes]
    conductor = mido.MidiTrack([mido.MetaMessage("track_name", name="improv respond", time=0)])
    now = 0
    for tick, _, msg in sorted(items, key=lambda x: (x[0], x[1])):
        conductor.append(msg.copy(time=tick - now))
        now = tick
    conductor.append(mido.MetaMessage("end_of_track", time=0))
    mid = mido.MidiFile(type=1, ticks_per_beat=PPQ)
    mid.tracks.append(conductor)
    mid.tracks.append(phrase_to_track(Phrase.of(call), "player", cfg.midi.player_channel, PPQ,
                                      [(b, 64, v) for b, v in pedal], setup=setup))  # the pedal as played
    mid.tracks.append(phrase_to_track(answer, "partner", cfg.midi.partner_channel, PPQ, setup=setup))
    try:
        with whole_or_nothing(path) as tmp:
            mid.save(str(tmp))
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror or e}; nothing was left behind: give -o a path in an "
                          "existing, writable folder with space free") from None


# ------------------------------------------------------------------- harmony


def guess_chord(notes: list[Note]) -> Chord:
    """The chord that best explains a call with no chart: duration-weighted pitch classes
    scored +2 for chord tones, +1 for tensions, -1 for the rest (ties: maj7 before m7
    before 7 before m7b5, lower root first)."""
    weight = [0.0] * 12
    for n in notes:
        weight[n.pitch % 12] += min(n.duration, 2.0)
    best, best_score = Chord(0, "maj7"), float("-inf")
    for quality in ("maj7", "m7", "7", "m7b5"):
        for root in range(12):
            c = Chord(root, quality)
            ct, sc = c.chord_tones(), c.scale()
            score = sum(w * (2 if pc in ct else 1 if pc in sc else -1) for pc, w in enumerate(weight))
            score += 0.5 * weight[root]  # a call that dwells on a note suggests it as the root
            if score > best_score + 1e-9:
                best, best_score = c, score
    return best


def chords_written(texts: tuple[tuple[float, str], ...], bpb: int, end: float) -> Chart | None:
    """The chart a file's chord symbols spell (a session improv recorded writes one at each
    change), or None when it has none, or text that is not a chord (lyrics, credits). Each
    chord lasts to the next; the last one to `end` beats and on (an answer after the file's
    end is over the chord it ended on, not back at bar 1)."""
    from improv.core.theory.chart import ChordSpan
    from improv.core.theory.chords import parse_chord
    from improv.errors import ChordError

    if not texts:
        return None
    try:
        changes = [(beat, parse_chord(text)) for beat, text in texts]
    except ChordError:
        return None
    kept: list[tuple[float, Any]] = []
    for beat, chord in changes:  # (the same chord written again, e.g. at each bar, is one span)
        if not kept or chord != kept[-1][1]:
            kept.append((beat, chord))
    if kept[0][0] > 0:
        kept[0] = (0.0, kept[0][1])  # (before the first symbol: the first chord)
    last = max(end, kept[-1][0]) + 64.0 * bpb
    last = math.ceil(last / bpb) * bpb
    spans = [ChordSpan(b, (kept[i + 1][0] if i + 1 < len(kept) else last) - b, c) for i, (b, c) in enumerate(kept)]
    return Chart(tuple(span for span in spans if span.duration > 0), bpb)


def _chart(cfg: Config, found: _CallFile, bpb: int, flag: bool = False) -> tuple[Chart, str, bool]:
    """The chart the call is answered over, the line that says which, and whether it was
    guessed from the call's notes (nothing given, nothing written in the file). `flag`: the
    chords came from --chords (named if they cannot be read)."""
    from improv.commands.common import chart_from_config

    notes = found.notes
    chart = chart_from_config(cfg, flag)
    if chart is not None:
        return chart, "", False
    written = chords_written(found.chords, bpb, found.end)
    if written is not None:
        names = [str(span.chord) for span in written.spans]
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        return written, f"answering over the chords written in the file ({shown}; --chords or --tune for others)", \
            False
    chord = guess_chord(notes)
    return (single_chord_chart(chord, bpb),
            f"no chart given: answering over {chord}, guessed from the call (give --chords or --tune)", True)


def _voiced(chart: Chart, note: str, call: Phrase, tempo: float) -> tuple[Chart, str]:
    """With no chart, the chords a pianist's own voicings spell under the call (as the free
    jam hears them: `voiced_changes`), laid over the chord guessed from all its notes, the
    answer over the last of them: a left hand's ii-V-I was heard as the one chord guessed,
    so the b9 over its G7 was "outside over Cmaj7" and the answer built on that mistake."""
    from improv.core.listen.harmony import voiced_chart, voiced_changes

    spans = voiced_changes(call, tempo, chart.beats_per_bar)
    if not spans:
        return chart, note
    chart = voiced_chart(chart, spans, call.end, lambda chord: single_chord_chart(chord, chart.beats_per_bar))
    names = [str(span.chord) for span in spans]
    shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
    return chart, (f"no chart given: hearing the call over the chords your voicings spell ({shown}) and answering "
                   f"over {chart.chord_at(call.end + 1e-6)} (give --chords or --tune)")


# ------------------------------------------------------------------- responders


def default_output(call: Path) -> Path:
    """Where the answer goes when no -o is given: beside the call, `CALL-answer.mid` (or
    `CALL-answer-2.mid`, ...: another run's answer, drawn with another seed, is kept)."""
    from improv.core.formats.paths import beside

    return beside(call.with_name(f"{call.stem}-answer.mid"))


def run(args: argparse.Namespace) -> int:
    cfg = settings_from_args(args)
    if args.answer_on:
        cfg = override(cfg, "phrase", answer_on=args.answer_on)
    from improv.core.formats.paths import output_with_suffix, writable_output

    src = Path(args.call)
    report = sys.stderr if getattr(args, "explain_json", None) == "-" else sys.stdout  # stdout: the JSON alone
    given = output_with_suffix(args.output, "-o", (".mid", ".midi"), "the answer is a MIDI file") if args.output else None
    out = writable_output(given or default_output(src), "-o" if given else "the default output (-o to change it)", (src,))
    if getattr(args, "explain_json", None) not in (None, "", "-"):  # checked before any work, as -o is
        js = writable_output(args.explain_json, "--explain-json", (src,))
        if js == out or (js.exists() and out.exists() and js.samefile(out)):
            raise ConfigError(f"--explain-json {args.explain_json} is the -o file too; give them different paths")
    found = _read_call(src, args.track)
    if not found.notes:
        why = f" (only drum notes on channel 10: {found.drums})" if found.drums else ""
        raise DataError(f"{src} has no notes to answer in {found.tracks}{why}; give a MIDI file with a melodic phrase")
    asked = getattr(args, "beats_per_bar", None)
    if asked and found.beats_per_bar and asked != found.beats_per_bar:  # (it was passed over without a word)
        raise ConfigError(f"--time {asked}/4, but {src} is in {found.metre or f'{found.beats_per_bar}/4'}: its time "
                          "signature is the call's metre; leave --time out")
    bpb = found.beats_per_bar or cfg.timing.beats_per_bar
    lo, hi = limits.BEATS_PER_BAR
    if not lo <= bpb <= hi:  # (a file may hold up to 32: it named --timing.beats_per_bar, no flag there is)
        raise DataError(f"{src} is in {found.metre or f'{bpb}/4'} ({bpb} beats a bar): improv answers in bars of "
                        f"{lo} to {hi} beats; give the file a shorter bar (e.g. two bars of {bpb // 2})")
    if bpb != cfg.timing.beats_per_bar:
        cfg = override(cfg, "timing", beats_per_bar=bpb)
    chart, note, guessed = _chart(cfg, found, bpb, getattr(args, "chords", None) is not None)
    if chart.beats_per_bar != bpb and not found.beats_per_bar:  # the file says no metre: the tune's, as the jam plays it
        from improv.commands.jam import metre_for

        cfg = metre_for(cfg, chart)  # (a config's other beats_per_bar is said not to be used, as the jam says it)
        bpb = chart.beats_per_bar
    if chart.beats_per_bar != bpb:
        written = found.metre if found.metre and found.metre != f"{bpb}/4" else ""
        whose = f"{src} is in {written or f'{bpb}/4'}{f' ({bpb} beats a bar)' if written else ''}" \
            if found.beats_per_bar else \
            f"the settings say {bpb}/4 ([timing] beats_per_bar; {src} has no time signature)"
        raise ConfigError(f"the chart is in {chart.beats_per_bar}/4 but {whose}; give a chart in that metre: "
                          f"--chords (read in {bpb} beats a bar), or a tune file with beats_per_bar = {bpb}")
    tempos = found.tempos if found.tempos and found.tempos[0][0] <= 0 else [(0.0, 120.0), *found.tempos]
    # (before a file's first tempo it plays at 120 bpm, as MIDI has it and every player plays it)
    if getattr(args, "tempo", None):
        tempos = [(0.0, float(args.tempo))]  # the beats stay; the whole file plays at this tempo

    from improv.core.listen.segment import Segmenter, SegmentSettings

    ph = cfg.phrase
    seg = Segmenter(SegmentSettings(
        gap_beats=ph.gap_beats, end_cc=ph.end_cc, max_call_bars=ph.max_call_bars, answer_on=ph.answer_on,
        answer_bars=ph.answer_bars, max_answer_bars=ph.max_answer_bars, beats_per_bar=bpb,
    ))
    first = found.notes[0].start
    ended = sounding_end(found.notes, found.pedal, found.end)
    whole = Phrase.of([Note(n.start - first, n.pitch, n.duration, n.velocity) for n in found.notes],
                      start=first, length=ended - first)
    # A call longer than the live engine keeps is answered from its last max_call_bars bars
    # (a note still held when they begin is kept from there: a long pedal tone is the call).
    keep_from = max(first, ended - ph.max_call_bars * bpb)
    kept = [Note(max(n.start, keep_from), n.pitch, n.end - max(n.start, keep_from), n.velocity)
            for n in found.notes if n.end > keep_from + 1e-9]
    k0 = min(n.start for n in kept)
    call = Phrase.of([Note(n.start - k0, n.pitch, n.duration, n.velocity) for n in kept], start=k0, length=ended - k0)
    start, length = seg.answer_place(call, ended + ph.gap_beats)
    if guessed:
        chart, note = _voiced(chart, note, call, tempo_at(tempos, ended))
    from improv.partner.build import make_responder, session_seed

    seed = session_seed(cfg.responder)
    from improv.core.embrace.strategies import embraced_answer

    # As the jam does: the tempo the call was played at (hearing it, the model's feel), and a
    # swung timeline (`--swing`) places the answer's off-beats instead of the learned feel.
    swing = cfg.timing.swing
    settings = AnswerSettings(
        start=start, length=length, seed=seed, temperature=cfg.responder.temperature, top_p=cfg.responder.top_p,
        low=cfg.responder.low, high=cfg.responder.high, beats_per_bar=bpb,
        tempo=tempo_at(tempos, ended), feel=1.0 if swing == 1.0 else 0.0,
    )
    responder = make_responder(cfg.responder, seed=seed)
    responder.learn(call, chart, tempo=settings.tempo)
    answer, plan = embraced_answer(responder, call, chart, settings, embrace_settings_from_args(args, cfg))
    if swing != 1.0:
        answer = swung(answer, swing)
    from improv.core.embrace.strategies import explain

    # the chords the answer was played over (a substitute where it re-harmonised), and why
    # (a metre the file writes is the bars' by now: another one was refused above)
    # the key signatures in force during the call (the first one always), and its instrument
    keys = found.keys[:1] + tuple(k for k in found.keys[1:] if k[0] <= ended + 1e-9)
    _write(out, list(whole.absolute()), answer, tempos, plan.chart, cfg,
           [(answer.start, line) for line in explain(plan, chart)], found.pedal, found.metre, keys, found.setup)
    bar, beat = divmod(start, bpb)
    cut = f", answered from its last {ph.max_call_bars} bars" if len(kept) < len(found.notes) else ""
    drums = f", {found.drums} drum notes skipped" if found.drums else ""
    if len(found.channels) > 1:  # a type-0 song's parts share its one track: say that they are one call here
        drums = f", channels {', '.join(map(str, found.channels))} merged{drums}"
    if note:  # (said once the answer is made: a refused flag is then the one line printed)
        print(note, file=report)
    print(f"call: {count_notes(len(found.notes))} from {found.tracks}, beats {round(first, 2):g}-{round(ended, 2):g}"
          f"{cut}{drums}", file=report)
    print(f"answer ({cfg.responder.name}, seed {seed}): {count_notes(len(answer))} from beat {start:g} "
          f"(bar {int(bar) + 1} beat {beat + 1:g}), {length:g} beats", file=report)
    plain = src.with_name(f"{src.stem}-answer.mid")
    if given is None and out != plain:  # (as render says it: the README's "and say so")
        print(f"{plain} is there already and is kept (-o names the file)", file=report)
    print(f"wrote {out}: tracks player + partner, {round(tempos[0][1], 1):g} bpm", file=report)
    report_plans(args, [plan], chart, out=report)
    return 0

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
bar`) after that. Reading the call file and writing the answer's: improv/commands/callfile.py.
With `--follow`, the timeline is the one heard in the call's notes (a call played with no
click): improv/commands/calltime.py.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from improv.commands.callfile import CallFile, read_call, write_answer
from improv.commands.common import add_config_args, add_harmony_args, add_responder_args, settings_from_args
from improv.commands.embrace_args import add_embrace_args, embrace_settings_from_args, report_plans
from improv.config import Config, override
from improv.core import limits
from improv.core.theory.chart import Chart, single_chord_chart
from improv.core.theory.chords import Chord
from improv.core.theory.notes import Note, Phrase, count_notes
from improv.core.respond.base import AnswerSettings
from improv.errors import ConfigError, DataError


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("call", metavar="CALL.mid", help="the call: a MIDI file (its `player` track, else all its notes; or --track)")
    p.add_argument("-o", "--output", metavar="ANSWER.mid",
                   help="where to write call + answer (default: beside the call, CALL-answer.mid)")
    p.add_argument("--track", metavar="N|NAME",
                   help="read the call from this track only (index from 0, or name); default: the `player` "
                        "track of a session file, else every track")
    p.add_argument("--answer-on", choices=("beat", "bar"), help="start the answer on the next beat or bar (default beat)")
    add_harmony_args(p, "the tempo the call file plays at (default: the file's own tempo map, 120 where it "
                        "has none; a tune's or the settings' tempo does not change a file); with --follow, a "
                        "first guess")
    p.add_argument("--follow", action="store_true",
                   help="hear the tempo and beat in the call's notes, as the jam follows you, and answer on them: "
                        "for a call played with no click, whose file's tempo map (a recorder's 120) is not yours")
    add_responder_args(p)
    add_embrace_args(p)
    add_config_args(p)


# ------------------------------------------------------------------- the call's timeline


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


def _tempo_said(tempos: list[tuple[float, float]], answer_start: float) -> str:
    """The file's tempo, as the last line says it: one tempo, or the call's tempo map and
    the tempo the answer plays at (a jam's recording following the player has dozens)."""
    bpms = [bpm for _, bpm in tempos]
    if len(set(bpms)) == 1:
        return f"{round(bpms[0], 1):g} bpm"
    return (f"the call's tempo map ({len(bpms)} tempos, {round(min(bpms), 1):g}-{round(max(bpms), 1):g} bpm), "
            f"the answer at {round(tempo_at(tempos, answer_start), 1):g} bpm")


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



# ------------------------------------------------------------------- harmony


def heard_chord(notes: list[Note], beats_per_bar: int) -> Chord:
    """The chord a call with no chart ends on, as the free jam hears it: its notes fed to the
    jam's `HarmonyTracker` as they are let go (each weighed by its length, loudness, place in
    the bar and age, the last bars counting most). A call that walks a ii-V is heard on its V,
    where the whole call's notes added up were heard as the ii, and the answer went over it."""
    from improv.core.listen.harmony import HarmonyTracker

    tracker = HarmonyTracker(beats_per_bar=beats_per_bar)
    for n in sorted(notes, key=lambda n: (n.end, n.start)):
        tracker.add(n.pitch, n.start, n.duration, n.velocity)
    return tracker.current()[0] or Chord(0, "maj7")  # (None only for a call with no notes: refused before)


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


def _chart(cfg: Config, found: CallFile, bpb: int, flag: bool = False) -> tuple[Chart, str, bool]:
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
    chord = heard_chord(notes, bpb)
    return (single_chord_chart(chord, bpb),
            f"no chart given: answering over {chord}, the chord heard at the call's end, as the jam hears it "
            "(give --chords or --tune)", True)


def _voiced(chart: Chart, note: str, call: Phrase, tempo: float) -> tuple[Chart, str]:
    """With no chart, the chords a pianist's own voicings spell under the call (as the free
    jam hears them: `voiced_changes`), laid over the chord heard at its end (`heard_chord`), the
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


def _in_players_time(cfg: Config, args: argparse.Namespace, found: CallFile, tempos: list[tuple[float, float]],
                     chart: Chart | None, note: str, guessed: bool, bpb: int
                     ) -> tuple[CallFile, list[tuple[float, float]], Chart, str, bool, str]:
    """With --follow, the call moved onto the tempo and beat heard in its notes
    (improv/commands/calltime.py) and the chart with it; without, as it is, with a line
    saying so when the notes sound played at another tempo than the file's (no click).
    `chart`: the chart given (--chords, --tune, a config's), or with --follow None when there
    is none (the chords written in the file or heard in the call are read here, on the beats
    they are answered on: once). Returns (call, tempo map, chart, chart line, chart guessed,
    what was heard)."""
    from improv.commands.calltime import HINT_CONFIDENCE, heard_time, lead_in_chart, on_heard_grid, \
        on_the_files_grid, said
    from improv.live.follow import FOLLOW_BPM

    follow, given = getattr(args, "follow", False), getattr(args, "tempo", None)
    if follow and given and not FOLLOW_BPM[0] <= float(given) <= FOLLOW_BPM[1]:
        raise ConfigError(f"--follow hears tempos of {FOLLOW_BPM[0]:g}-{FOLLOW_BPM[1]:g} bpm; --tempo {float(given):g} is "
                          "outside them: give a first guess in that range, or leave --tempo out")
    ended = sounding_end(found.notes, found.pedal, found.end)
    est = heard_time(found, tempos, ended, float(given) if follow and given else None)
    own = tempo_at(tempos, ended)
    if not follow:
        if est is None or given or est.confidence < HINT_CONFIDENCE or on_the_files_grid(est, own):
            return found, tempos, chart, note, guessed, ""
        return found, tempos, chart, note, guessed, (
            f"the call sounds played at {est.bpm:.0f} bpm, not on the file's {round(own, 1):g} (played with no "
            "click?): --follow answers at the tempo and beat heard in it")
    line = "--follow: heard no steady tempo in the call (too few notes?); answering on the file's tempo map"
    lead = 0
    if est is not None:
        found, lead = on_heard_grid(found, tempos, est, bpb)
        line = said(est, own, lead)
        tempos = [(0.0, est.bpm)]
    if chart is None:  # the chords written in the file, or heard in the call, on the beats answered on
        chart, note, guessed = _chart(cfg, found, bpb, getattr(args, "chords", None) is not None)
    else:  # a chart given: bar 1 at the call's first note
        chart = lead_in_chart(chart, lead)
    return found, tempos, chart, note, guessed, line


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
    found = read_call(src, args.track)
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
    follow, flag = getattr(args, "follow", False), getattr(args, "chords", None) is not None
    if follow:  # (a chart given sets the metre; the chords written or heard are read on the heard beats, below)
        from improv.commands.common import chart_from_config

        given_chart = chart_from_config(cfg, flag)
        chart, note, guessed = given_chart or single_chord_chart(None, bpb), "", False
    else:
        chart, note, guessed = _chart(cfg, found, bpb, flag)
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
    given_tempo = getattr(args, "tempo", None)
    if given_tempo and not follow:
        tempos = [(0.0, float(given_tempo))]  # the beats stay; the whole file plays at this tempo
    found, tempos, chart, note, guessed, heard = _in_players_time(
        cfg, args, found, tempos, (given_chart if follow else chart), note, guessed, bpb)

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
    from improv.core.embrace.plan import embraced_answer

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
    from improv.core.embrace.plan import explain

    # the chords the answer was played over (a substitute where it re-harmonised), and why
    # (a metre the file writes is the bars' by now: another one was refused above)
    # the key signatures in force during the call (the first one always), and its instrument
    keys = found.keys[:1] + tuple(k for k in found.keys[1:] if k[0] <= ended + 1e-9)
    write_answer(out, list(whole.absolute()), answer, tempos, plan.chart, cfg,
                 [(answer.start, line) for line in explain(plan, chart)], found.pedal, found.metre, keys, found.setup)
    bar, beat = divmod(start, bpb)
    cut = f", answered from its last {ph.max_call_bars} bars" if len(kept) < len(found.notes) else ""
    drums = f", {found.drums} drum notes skipped" if found.drums else ""
    if len(found.channels) > 1:  # a type-0 song's parts share its one track: say that they are one call here
        drums = f", channels {', '.join(map(str, found.channels))} merged{drums}"
    if heard:
        print(heard, file=report)
    if note:  # (said once the answer is made: a refused flag is then the one line printed)
        print(note, file=report)
    print(f"call: {count_notes(len(found.notes))} from {found.tracks}, beats {round(first, 2):g}-{round(ended, 2):g}"
          f"{cut}{drums}", file=report)
    print(f"answer ({cfg.responder.name}, seed {seed}): {count_notes(len(answer))} from beat {start:g} "
          f"(bar {int(bar) + 1} beat {beat + 1:g}), {length:g} beats", file=report)
    plain = src.with_name(f"{src.stem}-answer.mid")
    if given is None and out != plain:  # (as render says it: the README's "and say so")
        print(f"{plain} is there already and is kept (-o names the file)", file=report)
    print(f"wrote {out}: tracks player + partner, {_tempo_said(tempos, start)}", file=report)
    report_plans(args, [plan], chart, out=report)
    return 0

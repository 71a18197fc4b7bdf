"""What a session shows: the `Snapshot` the status line and the stage view draw, and the
one-line summary at its end. Functions of the session core (improv/live/session.py), read
on the conductor thread; they only read its state."""

from __future__ import annotations

from typing import Any

from improv.core.listen.segment import SegmentSettings
from improv.core.theory.notes import count_notes, counted
from improv.live.status import Snapshot, control_values, explanation_fields, percentile


def snapshot(s: Any, now: float) -> Snapshot:
    """The session `s` at `now` seconds (on a DAW's clock that stands stopped: where it stopped)."""
    beat = s.beat_at(now) if s.in_time else s.shown_beat
    if s.hearing is not None and s.hearing.bar_one and not s.exchange.calls:  # your first note is bar 1: until it...
        beat = 0.0  # (it showed the bars going by, "6:1 Bdim7", then went back to bar 1 at the first note)
    med, p99, n = s.scheduler.timing_ms(last=500)
    shown = max(0.0, beat)
    last = s.exchange.last_explanation
    heard, did = explanation_fields(last) if last else ("", "")
    band = s.band.parts if s.band is not None else None
    est = s.timeline.estimate if s.following else None
    e = s.cfg.embrace
    return Snapshot(s.tempo, int(shown // s.bpb) + 1, int(shown % s.bpb) + 1, session_state(s, beat),
                    _harmony_text(s, beat), s.last_call_bars, med, p99, n, s.dropped,
                    e.mode if e.mode == "off" else f"{e.mode} {e.daring:.1f}",
                    heard=heard, did=did, errors=tuple(s.errors) + _recording_trouble(s),
                    tempo_heard=est.bpm if est is not None else 0.0,
                    tempo_sure=s.timeline.sure_at(now) if est is not None else -1.0,
                    tempo_from="DAW" if s.external is not None else "",
                    controls=control_values(s.cfg, band.comp if band else None, band.bass if band else None,
                                            trading=s.policy.name == "trade"),
                    **_form_fields(s, beat))


def _ending(s: Any) -> bool:
    """The session is closing: its last status line is drawn (`Session.close`)."""
    return bool(getattr(s, "closing", False))


def session_state(s: Any, beat: float) -> str:
    """"ended" once the session closes (its last status line: the partner silenced, it said
    "listening" after a Ctrl-C mid-answer), "waiting" (for a DAW's Start), the partner's state
    when it is not ready, else the policy's ("listening", "answering", "your turn", ...)."""
    if _ending(s):
        return "ended"
    if not s.in_time:
        return "waiting"
    if s.partner.state != "ready":
        return f"partner {s.partner.state}"
    return s.policy.state(beat)


def summary(s: Any) -> str:
    """One line on how the session went."""
    med, p99, n = s.scheduler.timing_ms()
    restarts = getattr(s.partner, "restarts", 0)
    parts = [f"{counted(s.calls, 'call')}, {counted(s.answers, 'answer')}, {counted(s.yields, 'yield')}"]
    # a figure over nothing (no answer played, nothing passed through) is left out, not shown as 0.00 ms
    if n:
        parts.append(f"partner timing median {med:.2f} ms, p99 {p99:.2f} ms over {count_notes(n)}")
    if s.ready_ms:
        drafted = s.exchange.drafted
        parts.append(f"answer ready p99 {percentile(s.ready_ms, 0.99):.1f} ms"
                     f"{f' ({drafted} drafted in your rests)' if drafted else ''}")
    if s.player.thru_ms:
        parts.append(f"passthrough p99 {percentile(s.player.thru_ms, 0.99):.2f} ms")
    parts.append(f"dropped {s.dropped} (queue {s.inq.dropped}, unreadable {s.player.malformed}, late {s.late_dropped})")
    if s.policy.dropped:  # (not lost: only not heard as part of the call)
        parts.append(f"{count_notes(s.policy.dropped)} past a call's {SegmentSettings.max_call_notes} not heard as part "
                     f"of it (played through and recorded)")
    if restarts:
        parts.append(f"partner restarted {counted(restarts, 'time')}")
    for (port, how), times in getattr(s, "cut_off", {}).items():  # (a loose cable shows over a set, not a moment)
        why = " (its active sensing stopped: a cable out?)" if how == "went silent" else ""
        parts.append(f"{port!r} {how} {counted(times, 'time')}{why}")
    if s.player.loop.looping:
        parts.append(f"a MIDI loop sent improv's output back: {s.player.loop.dropped} echoed messages ignored")
    return "; ".join(parts)


def _harmony_text(s: Any, beat: float) -> str:
    """The chord now: the chart's, or the substitute an answer opened over within its span
    (the band plays it and the file's chords say it: the status line said the tune's F7
    under an answer and a band in Gb7); with no chart, the policy's."""
    if s.chart is not None:
        within, sub = s.exchange.substitute_at(beat)
        chord = sub if within else s.chart.chord_at(max(0.0, beat))
        return str(chord) if chord is not None else "N.C."
    return s.policy.harmony_text(beat)


def _recording_trouble(s: Any) -> tuple[str, ...]:
    failed = getattr(s.recorder, "failed", "") if s.recorder is not None else ""
    return (f"recording: {failed}",) if isinstance(failed, str) and failed else ()


def _form_fields(s: Any, beat: float) -> dict[str, Any]:
    """Where in the chart and the trading form `beat` is (the stage view's fields)."""
    out: dict[str, Any] = s.policy.view_fields(beat)
    if _ending(s):  # (no one's turn any more: the last line says the session ended, not "your turn, 3 beats left")
        out.update(turn="", turn_beats_left=0.0)
    chart = s.chart
    if chart is None or beat < 0:
        return out
    chorus, in_chorus = divmod(beat, chart.length)
    out.update(chorus=int(chorus) + 1, form_bar=int(in_chorus // s.bpb) + 1, form_bars=chart.bars,
               section=chart.section_at(beat))
    now = chart.chord_at(beat)
    for span in chart.changes_between(beat, beat + chart.length):
        if span.chord != now:
            out.update(chord_next=str(span.chord) if span.chord else "N.C.", next_in_beats=span.start - beat)
            break
    return out

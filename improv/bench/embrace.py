"""The embrace-the-mistake benchmark: real calls with one clearly outside note, answered in
the three modes (embrace, guide, off) with fixed seeds.

From the validation solos of WJazzD, each call/answer pair gives one case: the call's
longest note (at least a beat) on beat 1 or 3 over a chord, if it is inside, is moved a
half step so that it is outside that chord, and not heard as an approach; the call is
used only if that note is then its most salient outside note (a call that already has a
louder "mistake" of its own is skipped: the note planted must be the one that stands out). The answer
starts on the beat after the call and lasts the call's length in whole beats (1-2 bars).
Each mode answers the altered call (same seed for every mode); a plain answer to the
unaltered call (mode off, same seed) is the reference. Per mode it reports:

- hit: the share of answers whose first bar holds the outside note's pitch class
  (targets: embrace >= 80 %, guide <= 10 %);
- inside: the share of answer notes that are chord tones or tensions of the harmony they
  sound over, the substitute harmony where one was chosen (`metrics.in_harmony_counts`);
  target: embrace within 10 points of guide;
- note distance: the mean Jaccard distance between the answer's notes and the plain
  answer's, as sets of (onset on a 12-per-beat grid, pitch): 0 identical, 1 nothing
  shared. Sampled answers diverge after any change (the altered call alone moves mode
  off a long way), so also:
- pc-profile distance: the total variation distance between the answers' duration-weighted
  pitch-class profiles: how much of the sounding time went to other pitch classes.

Played timing (`played_case`): the same calls as the soloist played them, every note's
onset and length taken from the recording and placed on the solo timeline through its
beat track (not quantised: ahead of and behind the beat, swung, legato or short), the
planted note still planted, and the soloist's local tempo given to hearing. Target: the
embrace hit within `TARGET_PLAYED_GAP` of the same calls on the grid, and >= 85 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Iterable

from improv.core.theory.chart import Chart
from improv.core.embrace.plan import AnswerPlan, plan_answer
from improv.core.embrace.strategies import MODES, EmbraceSettings
from improv.core.embrace.hearing import OUTSIDE, classify_pitch, hear, metric_weight, most_salient
from improv.core.theory.metrics import in_harmony_counts
from improv.core.theory.notes import Meter, Phrase
from improv.core.respond.base import AnswerSettings, Responder

if TYPE_CHECKING:
    from improv.bench.human import HumanSolo

TARGET_EMBRACE_HIT = 0.80
TARGET_GUIDE_HIT = 0.10
TARGET_INSIDE_GAP = 0.10  # embrace's inside share at most this far under guide's
TARGET_PLAYED_HIT = 0.85  # embrace hit with the soloist's own timing...
TARGET_PLAYED_GAP = 0.05  # ...at most this far under the same calls on the grid
GRID = 12  # onset grid (per beat) of the distance


@dataclass(frozen=True)
class BenchCase:
    """One call made to hold a clearly outside note.

    Attributes:
        solo: the solo it comes from.
        original: the call as played (solo timeline, beats).
        call: the call with one note moved a half step outside.
        harmony: the solo's chords.
        index: which note of the call was moved.
        pc: the moved note's new pitch class.
        answer_start: timeline beat where the answer starts.
        answer_length: answer length in beats.
        tempo: the tempo the call was played at (bpm) for hearing, or None (on the grid).
    """

    solo: str
    original: Phrase
    call: Phrase
    harmony: Chart
    index: int
    pc: int
    answer_start: float
    answer_length: float
    tempo: float | None = None


def make_case(call: Phrase, harmony: Chart, solo: str = "") -> BenchCase | None:
    """A case from a call, or None when it has no long inside note on beat 1 or 3."""
    bpb = harmony.beats_per_bar
    best = None
    for i, n in enumerate(call.notes):
        t = call.start + n.start
        chord = harmony.chord_at(t)
        strong = metric_weight(t % bpb, bpb)[0] >= 0.8
        if chord is None or not strong or n.duration < 1.0 - 1e-9:
            continue
        if classify_pitch(n.pitch, chord) == OUTSIDE:
            continue
        if best is None or n.duration >= call.notes[best].duration:
            best = i
    if best is None:
        return None
    n = call.notes[best]
    chord = harmony.chord_at(call.start + n.start)
    for step in (1, -1) if best % 2 else (-1, 1):  # vary the direction across cases
        p = n.pitch + step
        if not 0 <= p <= 127 or classify_pitch(p, chord) != OUTSIDE:
            continue
        notes = list(call.notes)
        notes[best] = replace(n, pitch=p)
        altered = Phrase.of(notes, start=call.start, length=call.length)
        heard = hear(altered, harmony)
        if most_salient(heard) is not heard[best]:  # another outside note stands out more
            continue
        start = Meter(bpb).next_boundary(call.end, "beat")
        length = float(min(2 * bpb, max(bpb, math.ceil(call.length - 1e-9))))
        return BenchCase(solo, call, altered, harmony, best, p % 12, start, length)
    return None


def cases_from_pairs(pairs: Iterable[tuple[Phrase, Chart, str]], limit: int | None = None) -> list[BenchCase]:
    """Cases from (call, harmony, solo) triples, in order, at most `limit`."""
    out: list[BenchCase] = []
    for call, harmony, solo in pairs:
        if limit is not None and len(out) >= limit:
            break
        case = make_case(call, harmony, solo)
        if case is not None:
            out.append(case)
    return out


@dataclass
class ModeStats:
    """Running figures of one mode."""

    answers: int = 0
    hits: int = 0
    inside: int = 0
    notes: int = 0
    distance: float = 0.0
    profile: float = 0.0
    empty: int = 0
    strategies: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "answers": self.answers,
            "first_bar_hit": self.hits / self.answers if self.answers else 0.0,
            "in_harmony": self.inside / self.notes if self.notes else 0.0,
            "distance_from_plain": self.distance / self.answers if self.answers else 0.0,
            "pc_profile_distance": self.profile / self.answers if self.answers else 0.0,
            "notes_per_answer": self.notes / self.answers if self.answers else 0.0,
            "empty_answers": self.empty,
            "strategies": dict(sorted(self.strategies.items())),
        }


def note_set(phrase: Phrase) -> set[tuple[int, int]]:
    """An answer as a set of (onset on the 12-per-beat grid, pitch)."""
    return {(round(n.start * GRID), n.pitch) for n in phrase.notes}


def jaccard_distance(a: Phrase, b: Phrase) -> float:
    """1 - |A & B| / |A | B| over `note_set`s (0 when both are empty)."""
    sa, sb = note_set(a), note_set(b)
    union = sa | sb
    return 1.0 - len(sa & sb) / len(union) if union else 0.0


def pc_profile(phrase: Phrase) -> list[float]:
    """The share of sounding time (beats) on each pitch class (all zeros for no notes)."""
    prof = [0.0] * 12
    for n in phrase.notes:
        prof[n.pitch % 12] += n.duration
    total = sum(prof)
    return [x / total for x in prof] if total else prof


def profile_distance(a: Phrase, b: Phrase) -> float:
    """Total variation distance (0..1) between two answers' pitch-class profiles: how much
    of the sounding time moved to other pitch classes, whatever the exact notes."""
    return 0.5 * sum(abs(x - y) for x, y in zip(pc_profile(a), pc_profile(b)))


def first_bar_has(answer: Phrase, pc: int, beats_per_bar: int) -> bool:
    """Does a note starting in the answer's first bar (its first `beats_per_bar` beats) have pitch class `pc`?"""
    return any(n.start < beats_per_bar - 1e-9 and n.pitch % 12 == pc for n in answer.notes)


def played_case(case: BenchCase, solo: "HumanSolo") -> BenchCase:
    """The case with its calls played as the soloist played them (see the module docstring).

    Args:
        case: a case made on the grid (`make_case`).
        solo: the same solo as played (`improv.bench.human.load_human`).

    Raises:
        DataError: a note of the call is not among the solo's played notes.
    """
    from improv.bench.follow import reference_period

    track = solo.track
    played = solo.played(case.original)
    by_key = {(round(n.beat * 12), n.pitch): n for n in played.notes}

    def as_played(moved: bool) -> tuple[Phrase, float]:
        notes, moved_at = [], -1.0
        for i, o in enumerate(case.original.absolute()):
            p = by_key[(round(o.start * 12), o.pitch)]
            on = track.beat_at(p.onset)
            pitch = o.pitch
            if moved and i == case.index:
                pitch, moved_at = o.pitch + _moved_step(case), on
            notes.append(replace(o, start=on, pitch=pitch, duration=max(1e-3, track.beat_at(p.end) - on)))
        start = min(n.start for n in notes)
        return Phrase.of([replace(n, start=n.start - start) for n in notes], start=start), moved_at

    call, moved_at = as_played(True)
    original, _ = as_played(False)
    index = next(i for i, n in enumerate(call.notes)
                 if abs(call.start + n.start - moved_at) < 1e-9 and n.pitch % 12 == case.pc)
    bpb = case.harmony.beats_per_bar
    start = max(case.answer_start, Meter(bpb).next_boundary(max(call.end, original.end), "beat"))
    period = reference_period(track, track.time_of(case.original.start), track.time_of(case.original.end))
    return replace(case, original=original, call=call, index=index, answer_start=start, tempo=60.0 / period)


def _moved_step(case: BenchCase) -> int:
    """How far the planted note was moved (+1 or -1 semitone)."""
    step = (case.pc - case.original.notes[case.index].pitch) % 12
    return 1 if step == 1 else -1


def answer_with(responder: Responder, call: Phrase, plan: AnswerPlan, case: BenchCase, seed: int) -> Phrase:
    """The responder's answer under a plan (it hears the call first, as in a session: at the
    tempo it was played at, which the Markov partner reads a legato line at)."""
    settings = AnswerSettings(start=case.answer_start, length=case.answer_length, seed=seed,
                              beats_per_bar=case.harmony.beats_per_bar, constraints=plan.constraints,
                              tempo=case.tempo)
    responder.learn(call, plan.chart, tempo=case.tempo)
    return responder.answer(call, plan.chart, settings)


def run_bench(
    cases: list[BenchCase],
    new_responder: Callable[[], Responder],
    settings: EmbraceSettings | None = None,
    seed: int = 0,
) -> dict:
    """Answer every case in every mode; the figures per mode (see the module docstring).

    Args:
        cases: from `cases_from_pairs`.
        new_responder: a fresh partner for each answer (so answers do not depend on order).
        settings: the embrace settings (daring, strategies, strength); the mode is set per run.
        seed: case i is answered with seed `seed + i` in every mode.
    """
    base = settings or EmbraceSettings()
    stats = {m: ModeStats() for m in MODES}
    for i, case in enumerate(cases):
        s = seed + i
        bpb = case.harmony.beats_per_bar
        off = EmbraceSettings(mode="off")
        plain_plan = plan_answer(case.original, case.harmony, case.answer_start, case.answer_length, off, s,
                                 tempo=case.tempo)
        plain = answer_with(new_responder(), case.original, plain_plan, case, s)
        for mode in MODES:
            mode_settings = replace(base, mode=mode)
            plan = plan_answer(case.call, case.harmony, case.answer_start, case.answer_length, mode_settings, s,
                               tempo=case.tempo)
            answer = answer_with(new_responder(), case.call, plan, case, s)
            st = stats[mode]
            st.answers += 1
            st.empty += not answer.notes
            st.hits += first_bar_has(answer, case.pc, bpb)
            hits, total = in_harmony_counts(answer, plan.chart)
            st.inside += hits
            st.notes += total
            st.distance += jaccard_distance(answer, plain)
            st.profile += profile_distance(answer, plain)
            for h in plan.handled[:1]:
                st.strategies[h.strategy] = st.strategies.get(h.strategy, 0) + 1
    result = {m: stats[m].as_dict() for m in MODES}
    emb, gui = result["embrace"], result["guide"]
    result["targets"] = {
        "embrace_hit": emb["first_bar_hit"] >= TARGET_EMBRACE_HIT,
        "guide_hit": gui["first_bar_hit"] <= TARGET_GUIDE_HIT,
        "inside_gap": gui["in_harmony"] - emb["in_harmony"] <= TARGET_INSIDE_GAP,
        "embrace_differs_more": emb["distance_from_plain"] > gui["distance_from_plain"]
        and emb["pc_profile_distance"] > gui["pc_profile_distance"],
    }
    result["cases"] = len(cases)
    result["daring"] = base.daring
    result["strength"] = base.strength
    result["seed"] = seed
    return result


def format_result(result: dict, title: str) -> list[str]:
    """The figures as a table, with the targets."""
    lines = [title, f"{'mode':8} {'outside pc in 1st bar':>22} {'in harmony':>11} {'note distance':>14} "
                    f"{'pc-profile distance':>20} {'notes/answer':>13}"]
    for m in MODES:
        r = result[m]
        lines.append(f"{m:8} {100 * r['first_bar_hit']:21.1f}% {100 * r['in_harmony']:10.1f}% "
                     f"{r['distance_from_plain']:14.3f} {r['pc_profile_distance']:20.3f} {r['notes_per_answer']:13.1f}")
    t = result["targets"]
    ok = lambda b: "ok" if b else "MISSED"  # noqa: E731
    gap = 100 * (result["guide"]["in_harmony"] - result["embrace"]["in_harmony"])
    lines.append(f"targets: embrace hit >= 80 % {ok(t['embrace_hit'])}; guide hit <= 10 % {ok(t['guide_hit'])}; "
                 f"embrace in harmony within 10 points of guide ({gap:+.1f} under) {ok(t['inside_gap'])}; "
                 f"embrace differs more than guide {ok(t['embrace_differs_more'])}")
    strat = result["embrace"]["strategies"]
    if strat:
        lines.append("embrace strategies: " + ", ".join(f"{k} {v}" for k, v in strat.items()))
    return lines


def compare_played(grid: dict, played: dict) -> dict:
    """The played-timing targets: the embrace hit >= 85 % and within 5 points of the grid's
    (the same calls), guide still <= 10 %."""
    hit_g, hit_p = grid["embrace"]["first_bar_hit"], played["embrace"]["first_bar_hit"]
    return {"embrace_hit_grid": hit_g, "embrace_hit_played": hit_p, "gap": hit_g - hit_p,
            "targets": {"played_hit": hit_p >= TARGET_PLAYED_HIT, "gap": hit_g - hit_p <= TARGET_PLAYED_GAP,
                        "guide_hit": played["guide"]["first_bar_hit"] <= TARGET_GUIDE_HIT}}


def format_played(cmp: dict) -> str:
    ok = lambda b: "ok" if b else "MISSED"  # noqa: E731
    t = cmp["targets"]
    return (f"played timing: embrace hit {100 * cmp['embrace_hit_played']:.1f} % (target >= 85 %) {ok(t['played_hit'])}; "
            f"on the grid {100 * cmp['embrace_hit_grid']:.1f} %, {100 * cmp['gap']:+.1f} points (target <= 5) "
            f"{ok(t['gap'])}; guide hit <= 10 % {ok(t['guide_hit'])}")

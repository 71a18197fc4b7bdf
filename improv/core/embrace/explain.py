"""Saying what the partner did with the player's outside notes, in words and as JSON.

`explain(plan, chart)` gives lines such as
`bar 5: heard C# over Cmaj7 (outside, long, beat 1) -> reharmonise as A7 (secondary
dominant of Dm7) -> answer opens on C#`; bars and beats are 1-based, as musicians count.
Note names are spelled for the harmony they were heard over, its root taken as the
tonic: scale degrees by letter, chromatic ones as #1 (b2 in minor), b3, #4, b6, b7
(over Cmaj7 or C7: C#, Eb, F#, Ab, Bb; over F7: F#, Ab, B, Db, Eb).
"""

from __future__ import annotations

import math

from improv.core.theory.chart import Chart
from improv.core.theory.chords import ROOT_NAMES, Chord
from improv.core.embrace.plan import AnswerPlan
from improv.core.embrace.strategies import Handled
from improv.core.embrace.hearing import HeardNote, most_salient
from improv.core.theory.notes import NOTE_NAMES_FLAT, NOTE_NAMES_SHARP

_LETTERS = "CDEFGAB"
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_DEGREE = (1, 1, 2, 3, 3, 4, 4, 5, 6, 6, 7, 7)  # semitones above the tonic -> scale degree
_MINOR_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")
_FLAT_KEYS = {"F", "Bb", "Eb", "Ab", "Db", "Gb"}
_MINOR_QUALITIES = ("m", "m7", "m6", "mmaj7", "m7b5")


def key_of(chord: Chord | None) -> tuple[int, bool] | tuple[int, bool, str]:
    """The key a note heard over `chord` is spelled in: (tonic pitch class, minor?, the
    tonic's name as the chord is written).

    The chord's root is the tonic, minor for minor and half-diminished chords (local
    harmony names notes the way a player reads them over that chord). NC: C major.
    """
    if chord is None:
        return 0, False
    # the root's name as the line shows it (Abm7, Gbmaj7: notes in Ab minor and Gb, not G# and F#)
    return chord.root, chord.quality in _MINOR_QUALITIES + ("dim", "dim7"), chord.spelled or ROOT_NAMES[chord.root]


def spell(pc: int, key: tuple[int, bool] | tuple[int, bool, str]) -> str:
    """Name a pitch class in a key (see the module docstring; a key without the tonic's
    name spells it as `ROOT_NAMES`, or with C#, G# minor); never a double accidental,
    and B / E / F / C rather than Cb / Fb / E# / B#."""
    tonic, minor = key[0], key[1]
    name = key[2] if len(key) > 2 else _MINOR_NAMES[tonic] if minor else ROOT_NAMES[tonic]
    rel = (pc - tonic) % 12
    degree = 2 if minor and rel == 1 else _DEGREE[rel]
    letter = _LETTERS[(_LETTERS.index(name[0]) + degree - 1) % 7]
    acc = {0: "", 1: "#", 11: "b"}.get((pc - _LETTER_PC[letter]) % 12)
    out = letter + acc if acc is not None else ""
    if acc is None or out in ("Cb", "Fb", "E#", "B#"):
        flats = name.endswith("b") or (ROOT_NAMES[(tonic + 3) % 12] if minor else name) in _FLAT_KEYS
        return (NOTE_NAMES_FLAT if flats else NOTE_NAMES_SHARP)[pc % 12]
    return out


def _heard_text(h: HeardNote, key: tuple, chart: Chart) -> str:
    written = chart.chord_at(h.onset)
    chord = str(written) if written is not None else "no chord"
    why = ", ".join((h.kind,) + h.reasons)
    where = f"bar {h.bar + 1}" if h.bar >= 0 else "pickup (before bar 1)"
    return f"{where}: heard {spell(h.pc, key)} over {chord} ({why})"


def _action_text(d: Handled, key: tuple, beats_per_bar: int = 4) -> str:
    names = lambda notes: "-".join(spell(n.pitch % 12, key) for n in notes)  # noqa: E731
    note = spell(d.heard.pc, key)
    if d.strategy == "reharmonise":
        kind = f" ({d.substitute_kind})" if d.substitute_kind else ""
        # where the answer opens in a later bar than the note was heard, say which: "bar 10: heard
        # E over F7 -> reharmonise as Em7 (side-slip below Fm7)" read as a wrong chord for bar 10
        bar = math.floor(d.substitute_span[0] / beats_per_bar + 1e-9) if d.substitute_span else d.heard.bar
        where = "" if bar == d.heard.bar else f" in bar {bar + 1}" if bar >= 0 else " in the pickup"
        # the note it opens on is named in the substitute it sounds over: G# in Emaj7, Db in Dbmaj7
        # (heard as Ab and C# over the written Cmaj7)
        over = key_of(d.substitute) if d.substitute is not None else key
        opens = "-".join(spell(n.pitch % 12, over) for n in d.opening[:1])
        return f"reharmonise as {d.substitute}{where}{kind} -> answer opens on {opens}"
    if d.strategy == "motif":
        n = len(d.opening) // 2 if d.detail else len(d.opening)
        return f"motif: answer opens with {names(d.opening[:n])}" + (f" and {d.detail}" if d.detail else "")
    if d.strategy == "resolve":
        return (f"resolve: answer opens on {names(d.opening[:1])} and resolves {d.detail} "
                f"a half step to {names(d.opening[1:2])}")
    if d.strategy == "echo":
        return f"echo: answer starts on {names(d.opening[:1])}, {d.detail}"
    if d.strategy == "avoid":
        return f"guide: avoid {note}, favour chord tones"
    return d.strategy


def explain(plan: AnswerPlan, chart: Chart) -> list[str]:
    """One line per handled note; in embrace mode, a line for a salient note let pass.

    Args:
        plan: what `plan_answer` decided.
        chart: the written chart (for the key the names are spelled in).
    """
    lines = []
    for d in plan.handled:
        key = key_of(chart.chord_at(d.heard.onset))
        lines.append(f"{_heard_text(d.heard, key, chart)} -> {_action_text(d, key, chart.beats_per_bar)}")
    if not lines and plan.mode == "embrace":
        h = most_salient(plan.heard)
        if h is not None:
            if plan.threshold > 1.0:
                why = "daring 0: nothing is embraced"
            elif h.salience < plan.threshold - 1e-9:
                why = f"salience {h.salience:.2f} is under the daring threshold {plan.threshold:.2f}"
            else:
                why = "no strategy fits it here"
            lines.append(f"{_heard_text(h, key_of(h.chord), chart)} -> let it pass ({why})")
    return lines


def explain_json(plan: AnswerPlan, chart: Chart | None = None) -> list[dict]:
    """One record per handled note: bar and beat (1-based), pitch, class, salience, reasons,
    the chord it was heard over, the strategy, the substitute chord (or None), the opening."""
    out = []
    for d in plan.handled:
        h = d.heard
        key = key_of(h.chord)
        out.append({
            "bar": h.bar + 1,
            "beat": round(h.beat + 1, 3),
            "pitch": h.pitch,
            "name": spell(h.pc, key),
            "class": h.kind,
            "salience": h.salience,
            "reasons": list(h.reasons),
            "chord": str(h.chord) if h.chord is not None else None,
            "strategy": d.strategy,
            "substitute": str(d.substitute) if d.substitute is not None else None,
            "substitute_kind": d.substitute_kind or None,
            "substitute_span": list(d.substitute_span) if d.substitute_span else None,
            "opening": [[n.pitch, n.start, n.duration] for n in d.opening],
            "answer_start": plan.answer_start,
        })
    return out

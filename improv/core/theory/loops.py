"""A line's loops: a note repeated, a two-note alternation (a trill, a shake) or a cell of three
or four notes looped, counted as the line goes, and the note held back from going on with one
past its length. The phrase model (`improv.core.model.responder`) and the Markov partner
(`improv.core.respond.markov_answer`) hold their answers back by this one rule.

A run of period k: each note the same as the one k notes before it (k = 1 a note repeated, 2 a
trill, 3 and 4 a cell looped), counted with the k notes it repeats: C-E-G-E-C-E is a run of
period 4 six notes long, C-C-C one of period 1 three long. Once the line's run of period k is
`LOOP_FROM[k]` notes long or more, the note that would go on with it is held back by `LOOP_NATS`
a note past that (weighs exp(-LOOP_NATS) less each note).

Pure functions of their arguments (no imports beyond typing).
"""

from __future__ import annotations

from typing import Iterable

# In the training answers a trill of 8 notes or more is in 1.3 % of phrases, 0.4 % of 12; a note
# repeated 8 times running in 0.9 %, 12 times in 0.2 %, never more than 24; a cell of three notes
# looped for 12 notes or more in 0.6 %, one of four for 16 notes or more in 0.5 % (none past 47 and
# 36). Taken up from a trilled call and then from its own answers in the session, the model trilled
# 19-57 notes an answer, three answers running, over calls that did not trill; after two bars of
# sixteenths on one key, or of a cell such as C-E-G-E, it played that note or that cell through the
# whole of most 8-bar answers. The Markov partner learned a call of sixteenths on one key (or a
# trill) as a context whose only continuation is itself: the answer hammered that key from its
# first note to its last.
LOOP_FROM, LOOP_NATS = {1: 8, 2: 8, 3: 12, 4: 16}, 1.0

# (the line's last pitches, up to the longest period in `LOOP_FROM`; how many notes its last run
# of each period is long, period 1 first)
Loops = tuple[tuple[int, ...], tuple[int, ...]]
NO_LOOPS: Loops = ((), ())  # before the first note


def loops_after(loops: Loops, pitch: int) -> Loops:
    """The runs a line ends in once `pitch` follows the line that ends in `loops`."""
    recent, runs = loops
    n = len(recent)  # (the runs are known once a note is: n >= k > 0)
    runs = tuple(runs[j] + 1 if n >= k and recent[-k] == pitch else min(n + 1, k) for j, k in enumerate(LOOP_FROM))
    return (*recent, pitch)[-max(LOOP_FROM):], runs


def loops_of(pitches: Iterable[int]) -> Loops:
    """The runs the line of `pitches` (in order) ends in."""
    loops = NO_LOOPS
    for p in pitches:
        loops = loops_after(loops, p)
    return loops


def held_back(loops: Loops) -> dict[int, float]:
    """The pitch that would go on with each run at or past its `LOOP_FROM`, and how far it is
    held back (nats; a pitch that would go on with two runs takes the larger)."""
    recent, runs = loops
    out: dict[int, float] = {}
    for k, run in zip(LOOP_FROM, runs):
        if run >= LOOP_FROM[k] and len(recent) >= k:
            nats = LOOP_NATS * (run - LOOP_FROM[k] + 1)
            out[recent[-k]] = max(nats, out.get(recent[-k], 0.0))
    return out

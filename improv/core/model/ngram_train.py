"""The n-gram baseline fitted on (call, answer) pairs, its order and the 12-key transposition
augmentation chosen by per-note NLL on the validation pairs (`improv eval`'s baseline;
the model itself: `improv.core.model.ngram`)."""

from __future__ import annotations

import math
from typing import Iterable, Sequence

from improv.core.model.ngram import MAX_ORDER, NgramCounts, NgramModel, count_ngrams, pair_sequences
from improv.core.theory.notes import Phrase


def per_note_nll(scores: Iterable[tuple[float, int]]) -> float:
    """Total NLL over total notes (nats per note) of many `score` results."""
    tot = n = 0.0
    for s, k in scores:
        tot += s
        n += k
    return tot / n if n else math.nan


def train_baseline(
    train: Sequence[tuple[Phrase, Phrase]],
    valid: Sequence[tuple[Phrase, Phrase]],
    orders: Sequence[int] = tuple(range(2, MAX_ORDER + 1)),
    augment: Sequence[bool] = (False, True),
    meta: dict | None = None,
) -> tuple[NgramModel, list[dict]]:
    """Fit the baseline on (call, answer) pairs and pick its order and whether to add the
    12-key transposition augmentation by per-note NLL on `valid`.

    Returns:
        the chosen model (its meta holds the choice and the selection table), and the
        table: one {"order", "augment", "valid_nll_per_note"} per candidate.
    """
    if not train:
        raise ValueError("no training pairs")
    if not valid:  # nothing to choose on: the choice that won on WJazzD
        orders, augment = (min(5, max(orders)),), (True,) if True in augment else (False,)
    seqs = pair_sequences(train)
    table: list[dict] = []
    best: tuple[float, int, bool] | None = None
    best_counts: NgramCounts | None = None
    for aug in augment:
        counts = count_ngrams(seqs, max(orders), tuple(range(-6, 6)) if aug else (0,))
        for order in orders:
            nll = per_note_nll(counts.model(order).score_many(list(valid))) if valid else math.nan
            table.append({"order": order, "augment": aug, "valid_nll_per_note": nll})
            if best is None or nll < best[0]:
                best, best_counts = (nll, order, aug), counts
        del counts
    assert best is not None and best_counts is not None
    nll, order, aug = best
    info = dict(meta or {}, augment=aug, valid_nll_per_note=nll, n_train_pairs=len(train),
                n_valid_pairs=len(valid), selection=table)
    return best_counts.model(order, info), table

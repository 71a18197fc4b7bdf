"""How soloists end a phrase: the last note is held far longer than the notes inside it.

The phrase model decodes a note's length before it knows whether the phrase ends after
it (END comes with the next step), so it writes every note as an inner one. In the
training split's phrases the last note is written a median 7 ticks (0.58 beat) long
against 3 ticks for the notes before it; the model's answers on the valid split held
their last note a median 0.58 times as long as the soloists' answers did, and the
two-sample classifier leaned on that more than on any other feature.

Measured again on 5 Dec 2026 (valid, 300 pairs), the premise no longer holds for v2: END
follows a long note more often, so the note an answer ends on is written a quartile 4 / 6
/ 11 ticks against the soloists' last notes' 5 / 7 / 12 (mapped: 7 / 14 / 26). The mapping
is kept because playing the last note as decoded made the answers easier to tell apart
(classifier 0.639 -> 0.667 on all features, seed 0): the model still ends its answer late
in the span, and a last note cut at the span's end is nearer the soloists' lengths when it
was written long (models/README.md, "The span's end").

`PhraseEndings` holds, per tempo band (slow tunes have short inner notes in beats), the
distribution of written lengths (ticks of `TICKS` a beat) of the training phrases' inner
notes and of their last notes. `last_ticks` maps the decoded last note's length to a last
note's length at the same quantile: a longer inner note gives a longer last note, and
over many answers the last notes are spread as the soloists' are. A uniform draw spreads
the discrete steps (a randomised quantile transform).

Learned by `python -m improv.train.endings DATA` from the training split only; shipped in
improv/data/phrase_endings.json. Pure numpy.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from improv.core.tables import read_table, write_table
from improv.errors import DataError

ENDINGS_FILE = Path(__file__).resolve().parents[2] / "data" / "phrase_endings.json"
TICKS = 12  # a beat's ticks (as `improv.core.model.tokens.TICKS_PER_BEAT`)
MAX_TICKS = 8 * TICKS  # the longest written length (as `tokens.MAX_DUR_TICKS`)
TEMPO_EDGES = (100.0, 140.0, 180.0, 220.0, 270.0)  # the time feel's tempo bands (bpm)


@dataclass(frozen=True)
class PhraseEndings:
    """Written lengths of inner and last notes, per tempo band.

    Attributes:
        tempo_edges: bpm edges of the bands (len + 1 bands); the last row pools all tempi
            (used when the tempo is unknown).
        inner_cdf, last_cdf: (bands + 1, MAX_TICKS) cumulative shares of notes written
            1..MAX_TICKS ticks long (longer ones counted at MAX_TICKS).
        counts: (bands + 1,) last notes each row was learned from.
    """

    tempo_edges: tuple[float, ...]
    inner_cdf: np.ndarray
    last_cdf: np.ndarray
    counts: tuple[int, ...] = ()

    def band(self, tempo: float | None) -> int:
        """The row of a tempo (bpm); None or nonsense -> the pooled row."""
        if tempo is None or not math.isfinite(tempo) or tempo <= 0:
            return len(self.tempo_edges) + 1
        return int(np.searchsorted(np.asarray(self.tempo_edges), tempo, side="right"))

    def last_ticks(self, ticks: int, tempo: float | None, u: float) -> int:
        """The length (ticks) of a phrase's last note decoded as an inner note of `ticks`,
        at the same quantile among last notes; `u` in [0, 1) spreads the discrete steps."""
        b = self.band(tempo)
        k = min(MAX_TICKS, max(1, int(ticks)))
        inner = self.inner_cdf[b]
        lo = float(inner[k - 2]) if k >= 2 else 0.0
        q = lo + min(1.0, max(0.0, u)) * (float(inner[k - 1]) - lo)
        return min(MAX_TICKS, int(np.searchsorted(self.last_cdf[b], q, side="left")) + 1)

    # ------------------------------------------------------------ storage

    def to_dict(self) -> dict:
        return {"about": "written lengths (ticks, 12 a beat) of the inner and last notes of the training "
                         "phrases per tempo band, as cumulative shares; `python -m improv.train.endings DATA`",
                "tempo_edges": list(self.tempo_edges), "counts": list(self.counts),
                "inner_cdf": self.inner_cdf.round(5).tolist(), "last_cdf": self.last_cdf.round(5).tolist()}

    @classmethod
    def from_dict(cls, d: dict, where: str = "phrase endings") -> "PhraseEndings":
        """Inverse of `to_dict`.

        Raises:
            DataError: a missing key or a table that is not rising cumulative shares.
        """
        try:
            edges = tuple(float(x) for x in d["tempo_edges"])
            tables = [np.asarray(d[k], dtype=np.float64) for k in ("inner_cdf", "last_cdf")]
            counts = tuple(int(x) for x in d.get("counts", ()))
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"{where}: malformed ({e!r}); rewrite it with `python -m improv.train.endings DATA`") from None
        rows = len(edges) + 2
        for name, t in zip(("inner_cdf", "last_cdf"), tables):
            if t.shape != (rows, MAX_TICKS) or np.any(np.diff(t, axis=1) < -1e-9) or np.any(t < 0) \
                    or not np.allclose(t[:, -1], 1.0, atol=1e-3):
                raise DataError(f"{where}: {name} must be {rows} rows of {MAX_TICKS} rising shares ending at 1; "
                                "rewrite it with `python -m improv.train.endings DATA`")
        return cls(edges, tables[0], tables[1], counts)

    @classmethod
    def load(cls, path: str | Path = ENDINGS_FILE) -> "PhraseEndings":
        """The table in `path` (default: the one shipped in improv/data).

        Raises:
            DataError: the file cannot be read or is malformed (one line naming it).
        """
        data = read_table(path, "the phrase endings", "python -m improv.train.endings DATA")
        return cls.from_dict(data, str(path))

    @staticmethod
    @functools.cache
    def shipped() -> "PhraseEndings":
        """The table shipped in improv/data, read once per process (see `load`)."""
        return PhraseEndings.load()

    def save(self, path: str | Path) -> None:
        write_table(path, self.to_dict())


def fit(phrases: list[tuple[list[int], float | None]], edges: tuple[float, ...] = TEMPO_EDGES,
        prior: float = 0.5) -> PhraseEndings:
    """The tables from `(written lengths in ticks, tempo)` of phrases (two notes or more).

    Each band's counts get `prior` times the pooled shares added (a band with few phrases
    leans on all of them)."""
    rows = len(edges) + 2
    inner = np.zeros((rows, MAX_TICKS))
    last = np.zeros((rows, MAX_TICKS))
    probe = PhraseEndings(tuple(edges), inner, last)
    for lengths, tempo in phrases:
        if len(lengths) < 2:
            continue
        ks = np.clip(np.asarray(lengths, dtype=np.int64), 1, MAX_TICKS) - 1
        for b in {probe.band(tempo), rows - 1}:
            np.add.at(inner[b], ks[:-1], 1.0)
            last[b, ks[-1]] += 1.0
    if last[-1].sum() == 0:
        raise DataError("no phrase of two notes or more to learn phrase endings from")
    counts = tuple(int(c) for c in last.sum(axis=1))

    def cdf(t: np.ndarray) -> np.ndarray:
        pooled = t[-1] / t[-1].sum()
        smooth = t + prior * pooled[None, :]
        return np.cumsum(smooth, axis=1) / smooth.sum(axis=1, keepdims=True)

    return PhraseEndings(tuple(edges), cdf(inner), cdf(last), counts)

"""Where jazz soloists' onsets fall within the beat, and how far the next one falls: the tempo
follower's picture of a beat.

A soloist's onset lands on the beat (a little behind the rhythm section's beat), on the
swung off-beat eighth, on a sixteenth (1/4, 3/4), on a triplet (1/3, 2/3), or anywhere
(ornaments, rubato, rests ending early). `OnsetTemplate` is that mixture, per tempo band:
the weight of each place, how late the on-beat notes lie (`lag`, beats), where the
swung off-beat falls (`offbeat`, phase 0..1), and how loosely notes are placed, in
*seconds* (`sigma_s`): timing scatter is a matter of milliseconds, so at 300 bpm it
blurs a beat more than at 80 bpm.

`NextOnset` is the rhythm seen from one onset to the next: how many beats on the next onset
comes (in log steps), given where in its beat the last one was, pooled over all tempi.
Swung eighths go long-short from the beat (2/3 + 1/3 of a beat); the same onsets read at
1.5 times the tempo go beat, beat-and-a-half, beat..., a rhythm soloists rarely play, so
this tells the player's beat from a neighbouring level that fits the single onsets as well.

`NoteLength` is what a note's length says about where it began: soloists hold notes that
start on the beat longer (in WJazzD, notes of 0.6-1 beat start on the beat 3 times as often
as on the off-beat), so once a note is released its length weighs its onset's phase.

A drum pad struck in time is not a soloist's note: `hit_density` is where a player's drum hits
fall, set by hand (the shared data has no drums): on the beat itself, not behind it, with
`HIT_SIGMA_S` of scatter; on the soloists' swung off-beat; or anywhere (fills, sixteenths).

The numbers are learned from the Weimar Jazz Database (onsets in seconds against the
annotated beat track) by `fit_band` and written to `improv/data/onset_timing.json` by
`python -m improv.train.timing DATA` (see there). Between band centres they are
interpolated in log tempo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from improv.core.tables import read_table, write_table
from improv.errors import DataError

TEMPLATE_FILE = Path(__file__).resolve().parents[2] / "data" / "onset_timing.json"
PLACES = ("beat", "offbeat", "1/4", "3/4", "1/3", "2/3", "anywhere")
_FIXED = {"1/4": 0.25, "3/4": 0.75, "1/3": 1 / 3, "2/3": 2 / 3}  # offsets from the beat's own place
MAX_SIGMA = 0.25  # beats: wider than this, a peak says nothing about the phase
HIT_SIGMA_S = 0.02  # a drum hit's scatter around its place, seconds
HIT_WEIGHTS = (0.5, 0.2, 0.3)  # a drum hit on the beat, on the swung off-beat, anywhere
NEXT_PHASE_BINS, NEXT_LOG2_MIN, NEXT_LOG2_STEP, NEXT_BINS = 12, -4.0, 0.08, 100  # 1/16 beat .. 16 beats
LENGTH_PHASE_BINS, LENGTH_LOG2_MIN, LENGTH_LOG2_STEP, LENGTH_BINS = 20, -4.0, 0.25, 28  # 1/16 beat .. 8 beats


@dataclass(frozen=True)
class BandFit:
    """The mixture of one tempo band.

    Attributes:
        bpm: the band's centre, bpm.
        weights: the weight of each of `PLACES` (they sum to 1).
        lag: where on-beat onsets lie, in beats after the beat (negative: ahead).
        offbeat: where the swung off-beat eighth lies, phase 0..1.
        sigma_s: timing scatter around each place, seconds.
        swing_sd: extra spread of the off-beat (swing ratios vary), in beats.
        onsets: how many onsets it was fitted on.
    """

    bpm: float
    weights: tuple[float, ...]
    lag: float
    offbeat: float
    sigma_s: float
    swing_sd: float
    onsets: int = 0


def _wrapped_normal(x: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Density on the unit circle [0, 1) of a normal wrapped once (sd well under 0.5)."""
    d = (x - mu + 0.5) % 1.0 - 0.5
    return np.exp(-0.5 * (d / sd) ** 2) / (sd * math.sqrt(2 * math.pi))


class NextOnset:
    """How many beats on the next onset comes, given the phase of the last one.

    Args:
        density: `NEXT_PHASE_BINS` rows (phase of the last onset) of `NEXT_BINS` values:
            the density over log2(beats to the next onset) relative to uniform (mean 1).
    """

    def __init__(self, density: np.ndarray) -> None:
        density = np.asarray(density, dtype=float)
        if density.shape != (NEXT_PHASE_BINS, NEXT_BINS) or not (density > 0).all():
            raise DataError(f"the next-onset table must be {NEXT_PHASE_BINS} x {NEXT_BINS} positive numbers, "
                            f"found shape {density.shape}")
        self.density = density

    @staticmethod
    def bin_of(beats: np.ndarray) -> np.ndarray:
        """The log-step bin of gaps given in beats (clipped to the table)."""
        x = (np.log2(np.maximum(beats, 2.0 ** NEXT_LOG2_MIN)) - NEXT_LOG2_MIN) / NEXT_LOG2_STEP
        return np.clip(x.astype(np.int64), 0, NEXT_BINS - 1)

    @classmethod
    def fit(cls, phases: np.ndarray, gaps: np.ndarray, smooth: float = 0.75) -> "NextOnset":
        """Count (phase of an onset, beats to the next) pairs, smooth, normalise.

        Args:
            phases: the first onset's place in its beat, 0..1.
            gaps: beats to the next onset (> 0).
            smooth: Gaussian blur over the log bins, in bins.
        """
        counts = np.full((NEXT_PHASE_BINS, NEXT_BINS), 0.2)
        rows = (np.asarray(phases) % 1.0 * NEXT_PHASE_BINS).astype(np.int64) % NEXT_PHASE_BINS
        np.add.at(counts, (rows, cls.bin_of(np.asarray(gaps, dtype=float))), 1.0)
        r = max(1, math.ceil(3 * smooth))
        kernel = np.exp(-0.5 * (np.arange(-r, r + 1) / smooth) ** 2)
        padded = np.pad(counts, ((0, 0), (r, r)), mode="edge")
        counts = sum(w * padded[:, i:i + NEXT_BINS] for i, w in enumerate(kernel / kernel.sum()))
        return cls(counts / counts.mean(axis=1, keepdims=True))


class NoteLength:
    """How much more (or less) likely a note of a given length is at each phase than overall.

    Args:
        ratio: `LENGTH_PHASE_BINS` rows (the onset's phase) of `LENGTH_BINS` values:
            p(length | phase) / p(length), lengths in log2 steps of beats.
    """

    def __init__(self, ratio: np.ndarray) -> None:
        ratio = np.asarray(ratio, dtype=float)
        if ratio.shape != (LENGTH_PHASE_BINS, LENGTH_BINS) or not (ratio > 0).all():
            raise DataError(f"the note-length table must be {LENGTH_PHASE_BINS} x {LENGTH_BINS} positive numbers, "
                            f"found shape {ratio.shape}")
        self.ratio = ratio

    @staticmethod
    def bin_of(beats: np.ndarray) -> np.ndarray:
        """The log-step bin of lengths given in beats (clipped to the table)."""
        x = (np.log2(np.maximum(beats, 2.0 ** LENGTH_LOG2_MIN)) - LENGTH_LOG2_MIN) / LENGTH_LOG2_STEP
        return np.clip(x.astype(np.int64), 0, LENGTH_BINS - 1)

    @classmethod
    def fit(cls, phases: np.ndarray, lengths: np.ndarray, prior: float = 20.0) -> "NoteLength":
        """Count (onset phase, length in beats) pairs; each phase row is shrunk towards the
        overall distribution by `prior` pseudo-notes, so thin rows say little."""
        counts = np.zeros((LENGTH_PHASE_BINS, LENGTH_BINS))
        rows = (np.asarray(phases) % 1.0 * LENGTH_PHASE_BINS).astype(np.int64) % LENGTH_PHASE_BINS
        np.add.at(counts, (rows, cls.bin_of(np.asarray(lengths, dtype=float))), 1.0)
        overall = (counts.sum(axis=0) + 1.0) / (counts.sum() + LENGTH_BINS)
        given = (counts + prior * overall) / (counts.sum(axis=1, keepdims=True) + prior)
        return cls(given / overall)


class OnsetTemplate:
    """The learned mixture for every tempo (`density(bpm, phase)`), the rhythm from one
    onset to the next (`next_onset`) and what a note's length says of its phase (`note_length`).

    Args:
        bands: one `BandFit` per tempo band, any order.
        next_onset: the next-onset table.
        note_length: the note-length table.
        source: where the numbers come from (for the model card and messages).
    """

    def __init__(self, bands: list[BandFit], next_onset: NextOnset, note_length: NoteLength, source: str = "") -> None:
        if not bands:
            raise DataError("an onset template needs at least one tempo band")
        self.bands = sorted(bands, key=lambda b: b.bpm)
        self.next_onset = next_onset
        self.note_length = note_length
        self.source = source

    def _param(self, bpm: np.ndarray, values: list[float]) -> np.ndarray:
        centres = np.log([b.bpm for b in self.bands])
        return np.interp(np.log(bpm), centres, values)

    def density(self, bpm: np.ndarray, phase: np.ndarray) -> np.ndarray:
        """Density (per unit phase, mean 1 over a beat) of an onset at `phase` of a beat.

        Args:
            bpm: tempi, shape (K,).
            phase: places within the beat, 0..1, shape (J,).

        Returns:
            Shape (K, J).
        """
        bpm = np.asarray(bpm, dtype=float)
        x = np.asarray(phase, dtype=float)[None, :]
        period = 60.0 / bpm
        w = np.stack([self._param(bpm, [b.weights[i] for b in self.bands]) for i in range(len(PLACES))], axis=1)
        w /= w.sum(axis=1, keepdims=True)
        lag = self._param(bpm, [b.lag for b in self.bands])[:, None]
        off = self._param(bpm, [b.offbeat for b in self.bands])[:, None]
        sd = np.minimum(self._param(bpm, [b.sigma_s for b in self.bands]) / period, MAX_SIGMA)[:, None]
        swing = self._param(bpm, [b.swing_sd for b in self.bands])[:, None]
        out = w[:, 6:7] + w[:, 0:1] * _wrapped_normal(x, lag, sd)
        out = out + w[:, 1:2] * _wrapped_normal(x, off, np.sqrt(sd ** 2 + swing ** 2))
        for i, name in enumerate(PLACES[2:6], start=2):
            out = out + w[:, i:i + 1] * _wrapped_normal(x, lag + _FIXED[name], sd)
        return out

    def hit_density(self, bpm: np.ndarray, phase: np.ndarray) -> np.ndarray:
        """`density` for a drum hit (a pad struck in time, see the module doc): shape (K, J)."""
        bpm = np.asarray(bpm, dtype=float)
        x = np.asarray(phase, dtype=float)[None, :]
        sd = np.minimum(HIT_SIGMA_S * bpm / 60.0, MAX_SIGMA)[:, None]
        off = self._param(bpm, [b.offbeat for b in self.bands])[:, None]
        swing = self._param(bpm, [b.swing_sd for b in self.bands])[:, None]
        on, offbeat, anywhere = HIT_WEIGHTS
        return (anywhere + on * _wrapped_normal(x, 0.0, sd)
                + offbeat * _wrapped_normal(x, off, np.sqrt(sd ** 2 + swing ** 2)))

    def to_dict(self) -> dict:
        return {"source": self.source, "places": list(PLACES),
                "bands": [{"bpm": b.bpm, "onsets": b.onsets, "weights": [round(v, 5) for v in b.weights],
                           "lag": round(b.lag, 5), "offbeat": round(b.offbeat, 5), "sigma_s": round(b.sigma_s, 5),
                           "swing_sd": round(b.swing_sd, 5)} for b in self.bands],
                "next_onset": {"phase_bins": NEXT_PHASE_BINS, "log2_min": NEXT_LOG2_MIN, "log2_step": NEXT_LOG2_STEP,
                               "density": [[round(float(v), 4) for v in row] for row in self.next_onset.density]},
                "note_length": {"phase_bins": LENGTH_PHASE_BINS, "log2_min": LENGTH_LOG2_MIN,
                                "log2_step": LENGTH_LOG2_STEP,
                                "ratio": [[round(float(v), 4) for v in row] for row in self.note_length.ratio]}}

    @classmethod
    def from_dict(cls, data: dict, where: str = "onset template") -> "OnsetTemplate":
        """Read `to_dict`'s output.

        Raises:
            DataError: a key is missing or a value has the wrong shape.
        """
        try:
            if list(data["places"]) != list(PLACES):
                raise DataError(f"{where}: places {data['places']} differ from {list(PLACES)}")
            bands = [BandFit(float(b["bpm"]), tuple(float(v) for v in b["weights"]), float(b["lag"]),
                             float(b["offbeat"]), float(b["sigma_s"]), float(b["swing_sd"]), int(b.get("onsets", 0)))
                     for b in data["bands"]]
            nxt = data["next_onset"]
            if (nxt["phase_bins"], nxt["log2_min"], nxt["log2_step"]) != (NEXT_PHASE_BINS, NEXT_LOG2_MIN, NEXT_LOG2_STEP):
                raise DataError(f"{where}: its next-onset table has another layout than this version reads")
            next_onset = NextOnset(np.array(nxt["density"], dtype=float))
            nl = data["note_length"]
            layout = (LENGTH_PHASE_BINS, LENGTH_LOG2_MIN, LENGTH_LOG2_STEP)
            if (nl["phase_bins"], nl["log2_min"], nl["log2_step"]) != layout:
                raise DataError(f"{where}: its note-length table has another layout than this version reads")
            note_length = NoteLength(np.array(nl["ratio"], dtype=float))
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"{where}: not an onset template ({e}); rewrite it with "
                            "`python -m improv.train.timing DATA`") from None
        if any(len(b.weights) != len(PLACES) or b.sigma_s <= 0 for b in bands):
            raise DataError(f"{where}: every band needs {len(PLACES)} weights and sigma_s > 0")
        return cls(bands, next_onset, note_length, str(data.get("source", "")))

    @classmethod
    def load(cls, path: str | Path = TEMPLATE_FILE) -> "OnsetTemplate":
        """The template in `path` (default: the one shipped in improv/data).

        Raises:
            DataError: the file is missing or unreadable.
        """
        data = read_table(path, "the onset template", "python -m improv.train.timing DATA")
        return cls.from_dict(data, str(path))

    def save(self, path: str | Path) -> None:
        write_table(path, self.to_dict())


def fit_band(phases: np.ndarray, periods: np.ndarray, bpm: float, iterations: int = 60) -> BandFit:
    """Fit one band's mixture by expectation-maximisation.

    Args:
        phases: each onset's place within its beat, 0..1 (from the beat track).
        periods: the local beat period at each onset, seconds.
        bpm: the band's centre (stored, not used in the fit).
        iterations: EM steps.

    Raises:
        ValueError: fewer than 100 onsets (too few to fit).
    """
    x = np.asarray(phases, dtype=float) % 1.0
    period = np.asarray(periods, dtype=float)
    if len(x) < 100 or len(period) != len(x):
        raise ValueError(f"fit_band needs at least 100 onsets with their periods, got {len(x)}")
    w = np.array([0.3, 0.25, 0.08, 0.08, 0.05, 0.05, 0.19])
    lag, off, sigma, swing = 0.03, 0.58, 0.03, 0.05
    fixed = [(0, 0.0)] + [(i, _FIXED[n]) for i, n in enumerate(PLACES[2:6], start=2)]
    for _ in range(iterations):
        sd = np.minimum(sigma / period, MAX_SIGMA)
        comps = [_wrapped_normal(x, lag, sd), _wrapped_normal(x, off, np.sqrt(sd ** 2 + swing ** 2))]
        comps += [_wrapped_normal(x, lag + _FIXED[n], sd) for n in PLACES[2:6]] + [np.ones_like(x)]
        r = np.array([wi * c for wi, c in zip(w, comps)])
        r /= r.sum(axis=0)
        w = r.mean(axis=1)
        lag += float((r[0] * ((x - lag + 0.5) % 1 - 0.5)).sum() / r[0].sum())
        off += float((r[1] * ((x - off + 0.5) % 1 - 0.5)).sum() / r[1].sum())
        num = sum(float((r[i] * (((x - lag - o + 0.5) % 1 - 0.5) * period) ** 2).sum()) for i, o in fixed)
        sigma = math.sqrt(num / sum(float(r[i].sum()) for i, _ in fixed))
        d = (x - off + 0.5) % 1 - 0.5
        swing = math.sqrt(max(1e-4, float((r[1] * (d ** 2 - (sigma / period) ** 2)).sum() / r[1].sum())))
    return BandFit(float(bpm), tuple(float(v) for v in w), lag, off % 1.0, sigma, swing, len(x))

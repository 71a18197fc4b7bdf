"""Learn the time feel (`improv.core.model.feel.FeelModel`) from the solos' played onsets.

Every note of a solo is on the notation grid (`Solo.phrases`) and as played
(`Solo.played`: onsets in seconds against the beat track). Per tempo band and tick of
the beat the fit takes the median offset (played - grid, beats), then what the written
gap to the next note adds to it (the median of what is left, per gap), then per phrase the
median of what is left (its lag) and, on the off-beat eighths, the median beyond that
(its swing; their spread over phrases less what a median of so few notes strays by
itself); what is left of each note after those is its own stray, whose mean absolute
size is the Laplace scale. How much of that stray the notes of one beat share is first
their correlation, then the share whose simulated gaps between notes up to an eighth
apart stray as much as the played ones (log2 of played over written gap, its standard
deviation; the correlation alone leaves them too ragged: the strays' tails differ from a
Laplace's). Consecutive phrases of a solo (call, answer) give how much of
the call's lag and swing the answer takes up (least squares) and the spread around it.
Numpy only; seconds for the 392 solos.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

import numpy as np

from improv.core.formats.wjazzd import Solo, phrase_runs
from improv.core.model.feel import FOLLOW_PHRASES, MIN_CALL_NOTES, NEXT_GAPS, OFFBEAT, TICKS, FeelModel, next_gap_class
from improv.core.theory.notes import Phrase

TEMPO_EDGES = (100.0, 140.0, 180.0, 220.0, 270.0)  # bpm: six bands (the data's tempos run 37-319)
MIN_CELL = 60  # notes: a (band, tick) cell with fewer takes the pooled row's value
MIN_SCALE = 0.01  # beats
MIN_CLASS = 200  # notes: a next-gap class with fewer is not learned


def _next_classes(ticks: np.ndarray) -> np.ndarray:
    """Each note's `next_mean` row: the written gap to the next note of its phrase."""
    gaps = [int(g) for g in np.diff(ticks)] + [None]
    return np.array([next_gap_class(g) for g in gaps], dtype=np.int64)


def _notes(solo: Solo) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per phrase of each run: (grid ticks (absolute ints), offsets in beats); runs in order."""
    out = []
    for grid, played in zip(phrase_runs(solo), phrase_runs(solo, played=True)):
        for g, p in zip(grid, played):
            ticks = np.array([round((g.start + n.start) * TICKS) for n in g.notes], dtype=np.int64)
            xs = np.array([p.start + n.start for n in p.notes])
            out.append((ticks, xs - ticks / TICKS))
        out.append((np.zeros(0, np.int64), np.zeros(0)))  # a run ends: no (call, answer) across it
    return out


def fit_feel(solos: Iterable[Solo]) -> FeelModel:
    """The feel learned from `solos` (use the training split).

    Raises:
        ValueError: no solo has played timing.
    """
    solos = [s for s in solos if s.played]
    if not solos:
        raise ValueError("no solo has played timing to learn a feel from")
    edges = np.asarray(TEMPO_EDGES)
    rows = len(edges) + 2
    pooled = rows - 1
    per = [(int(np.searchsorted(edges, s.tempo, side="right")), _notes(s)) for s in solos]

    # 1. the mean offset of each tick per band (median: the offsets have heavy tails)
    mean, prior = np.zeros((rows, TICKS)), np.zeros((rows, TICKS))
    offsets: dict[tuple[int, int], list[np.ndarray]] = {}
    for b, phrases in per:
        for ticks, offs in phrases:
            cls = ticks % TICKS
            for c in range(TICKS):
                sel = offs[cls == c]
                if len(sel):
                    offsets.setdefault((b, c), []).append(sel)
                    offsets.setdefault((pooled, c), []).append(sel)
    counts = np.zeros((rows, TICKS))
    for (b, c), chunks in offsets.items():
        allo = np.concatenate(chunks)
        counts[b, c] = len(allo)
        mean[b, c] = np.median(allo)
    for b in range(rows):
        thin = counts[b] < MIN_CELL
        mean[b, thin] = mean[pooled, thin]
        prior[b] = (counts[b] + 1.0) / (counts[b].sum() + TICKS)
    next_mean = _next_mean(mean, per)

    # 2. per phrase: lag, swing; per note: its own stray
    strays: dict[tuple[int, int], list[np.ndarray]] = {}
    effects: list[list[tuple[int, float, float, int, int]]] = []  # per solo: (band, lag, swing, n, n_off) per phrase
    for b, phrases in per:
        eff = []
        for ticks, offs in phrases:
            if not len(ticks):
                eff.append((b, np.nan, np.nan, 0, 0))
                continue
            cls = ticks % TICKS
            resid = offs - mean[b, cls] - next_mean[_next_classes(ticks)]
            off = cls == OFFBEAT
            lag = float(np.median(resid[~off])) if np.any(~off) else float(np.median(resid))
            swing = float(np.median(resid[off]) - lag) if off.sum() >= 2 else 0.0
            left = resid - lag - np.where(off, swing, 0.0)
            for c in range(TICKS):
                sel = left[cls == c]
                if len(sel):
                    strays.setdefault((b, c), []).append(sel)
                    strays.setdefault((pooled, c), []).append(sel)
            eff.append((b, lag, swing, len(ticks), int(off.sum())))
        effects.append(eff)
    scale = np.full((rows, TICKS), np.nan)
    for (b, c), chunks in strays.items():
        allr = np.concatenate(chunks)
        if len(allr) >= MIN_CELL or b == pooled:
            scale[b, c] = max(MIN_SCALE, float(np.mean(np.abs(allr - np.median(allr)))))
    scale[pooled] = np.where(np.isfinite(scale[pooled]), scale[pooled], np.nanmedian(scale[pooled]))
    for b in range(rows - 1):
        scale[b] = np.where(np.isfinite(scale[b]), scale[b], scale[pooled])

    # 3. the phrases' spread per band, and what an answer takes up of its call
    lag_sd, swing_sd = np.zeros(rows), np.zeros(rows)
    flat = [e for eff in effects for e in eff if e[3]]
    for b in range(rows):
        # a median of n strays of scale s varies by about s^2 / n of its own: taken out
        s2 = float(np.mean(scale[b])) ** 2
        lags = [(e[1], s2 / e[3]) for e in flat if (e[0] == b or b == pooled) and e[3] >= MIN_CALL_NOTES]
        swings = [(e[2], s2 / e[4] + s2 / max(1, e[3])) for e in flat if (e[0] == b or b == pooled) and e[4] >= 2]
        for out, vals in ((lag_sd, lags), (swing_sd, swings)):
            if len(vals) > 10:
                v = np.asarray(vals)
                out[b] = float(np.sqrt(max(0.0, v[:, 0].var() - v[:, 1].mean())))
    for b in range(rows - 1):
        lag_sd[b] = lag_sd[b] or lag_sd[pooled]
        swing_sd[b] = swing_sd[b] or swing_sd[pooled]
    rho = _rho(mean, next_mean, per)
    dur_q, legato_q = _duration_quantiles(solos)
    model = FeelModel(tuple(float(e) for e in edges), mean, scale, prior, lag_sd, swing_sd, rho=rho, dur_q=dur_q,
                      legato_q=legato_q, next_mean=next_mean)
    model = replace(model, rho=(_match_share(model, solos), rho[1]))
    follow, resid_sd = _follow(model, solos)
    return replace(model, follow=follow, resid_sd=resid_sd)


def _next_mean(mean: np.ndarray, per: list[tuple[int, list[tuple[np.ndarray, np.ndarray]]]]) -> np.ndarray:
    """(NEXT_GAPS,) what the written gap to the next note adds to a note's offset: the
    median of what the tick's mean leaves, per gap, less that of all notes (0 where
    fewer than `MIN_CLASS` notes)."""
    by: list[list[np.ndarray]] = [[] for _ in range(NEXT_GAPS)]
    alls = []
    for b, phrases in per:
        for ticks, offs in phrases:
            if not len(ticks):
                continue
            r = offs - mean[b, ticks % TICKS]
            alls.append(r)
            nc = _next_classes(ticks)
            for c in range(NEXT_GAPS):
                if np.any(nc == c):
                    by[c].append(r[nc == c])
    centre = float(np.median(np.concatenate(alls))) if alls else 0.0
    out = np.zeros(NEXT_GAPS)
    for c, chunks in enumerate(by):
        v = np.concatenate(chunks) if chunks else np.zeros(0)
        if len(v) >= MIN_CLASS:
            out[c] = float(np.median(v)) - centre
    return out


def _rho(mean: np.ndarray, next_mean: np.ndarray,
         per: list[tuple[int, list[tuple[np.ndarray, np.ndarray]]]]) -> tuple[float, float]:
    """(share of the strays' variance that consecutive notes of one beat share: their
    correlation; how much of that carries to the next beat: the correlation of notes in
    consecutive beats over it), each phrase's median taken out first."""
    same: list[np.ndarray] = []
    adjacent: list[np.ndarray] = []
    for b, phrases in per:
        for ticks, offs in phrases:
            if len(ticks) < 3:
                continue
            r = offs - mean[b, ticks % TICKS] - next_mean[_next_classes(ticks)]
            r = r - np.median(r)
            step = np.diff((ticks + 1) // TICKS)  # a note a tick early belongs to the next beat
            xy = np.stack([r[:-1], r[1:]])
            same.append(xy[:, step == 0])
            adjacent.append(xy[:, step == 1])

    def corr(chunks: list[np.ndarray]) -> float:
        xy = np.concatenate(chunks, axis=1) if chunks else np.zeros((2, 0))
        return float(np.corrcoef(xy)[0, 1]) if xy.shape[1] > 10 else 0.0

    share = float(np.clip(corr(same), 0.0, 0.9))
    carry = float(np.clip(corr(adjacent) / share, 0.0, 0.9)) if share > 0 else 0.0
    return share, carry


def _duration_quantiles(solos: list[Solo]) -> tuple[np.ndarray, np.ndarray]:
    """(12, 11) deciles of the played durations (beats) of notes written as 1..12 ticks,
    and (101,) percentiles of played duration / played gap of the notes written to reach
    (within a tick) the next onset."""
    by: list[list[float]] = [[] for _ in range(TICKS)]
    legato: list[float] = []
    for s in solos:
        for g, p in zip(s.phrases, s.played):
            for i, (a, n) in enumerate(zip(g.notes, p.notes)):
                d = int(round(a.duration * TICKS))
                if 1 <= d <= TICKS:
                    by[d - 1].append(n.duration)
                if i + 1 < len(g.notes):
                    gap = int(round((g.notes[i + 1].start - a.start) * TICKS))
                    played_gap = p.notes[i + 1].start - n.start
                    if gap > 0 and d >= gap - 1 and played_gap > 1e-3:
                        legato.append(min(2.0, n.duration / played_gap))
    q = np.zeros((TICKS, 11))
    for d in range(TICKS):
        vals = np.asarray(by[d]) if len(by[d]) >= 50 else (d + 1 + np.linspace(-0.5, 0.5, 11)) / TICKS
        q[d] = np.quantile(vals, np.linspace(0, 1, 11))
    lq = np.quantile(np.asarray(legato), np.linspace(0, 1, 101)) if len(legato) >= 500 else np.full(101, 1.0)
    return q, lq


def _follow(model: FeelModel, solos: list[Solo]) -> tuple[tuple[float, float], tuple[float, float]]:
    """Least squares of each answer's measured (lag, swing) on those of the call and the
    solo's phrases before it (`FOLLOW_PHRASES`, pooled by `FeelModel.measure`, as the
    responder measures a session), and the answer's spread left around it
    (its phrase spread times sqrt(1 - r^2))."""
    xs: tuple[list[float], list[float]] = ([], [])
    ys: tuple[list[float], list[float]] = ([], [])
    for s in solos:
        for run in phrase_runs(s, played=True):
            for i in range(1, len(run)):
                x = model.measure(run[max(0, i - FOLLOW_PHRASES):i], s.tempo)
                y = model.measure(run[i:i + 1], s.tempo)
                if x.n >= MIN_CALL_NOTES and y.n >= MIN_CALL_NOTES:
                    xs[0].append(x.lag)
                    ys[0].append(y.lag)
                if x.n_off >= 2 and y.n_off >= 2:
                    xs[1].append(x.swing)
                    ys[1].append(y.swing)
    beta, sd = [], []
    for k in (0, 1):
        x, y = np.asarray(xs[k]), np.asarray(ys[k])
        b = float(x @ y / (x @ x)) if len(x) > 10 and x @ x > 0 else 0.0
        beta.append(min(1.0, max(0.0, b)))
        # the answer's own spread (measured with the true grid) less what the call explains
        # (the measured answers' spread is smaller: placing them on the grid absorbs some)
        r = float(np.corrcoef(x, y)[0, 1]) if len(x) > 10 else 0.0
        sd.append(float((model.lag_sd, model.swing_sd)[k][-1]) * float(np.sqrt(max(0.0, 1.0 - r * r))))
    return (beta[0], beta[1]), (sd[0], sd[1])


SHARES = tuple(round(0.3 + 0.05 * i, 2) for i in range(14))  # 0.3 .. 0.95


def _gap_spread(pairs: list[tuple[Phrase, Phrase]]) -> float:
    """Standard deviation of log2(played gap / written gap) between notes up to an eighth apart."""
    out = []
    for g, p in pairs:
        gt = np.array([g.start + n.start for n in g.notes])
        pt = np.array([p.start + n.start for n in p.notes])
        gg, pg = np.diff(gt), np.diff(pt)
        sel = (gg > 0) & (gg <= 0.5 + 1e-9) & (pg > 1e-3)
        out.append(np.log2(pg[sel] / gg[sel]))
    allv = np.concatenate(out) if out else np.zeros(0)
    return float(allv.std()) if len(allv) > 10 else float("nan")


def _match_share(model: FeelModel, solos: list[Solo]) -> float:
    """The beat-shared share of the strays whose simulated gaps (a third of the solos,
    seeded) stray as much as the played ones; the measured correlation if none is closer."""
    grid, played, tempos = [], [], []
    for s in solos[::3]:
        for g, p in zip(phrase_runs(s), phrase_runs(s, played=True)):
            grid += g
            played += p
            tempos += [s.tempo] * len(g)
    target = _gap_spread(list(zip(grid, played)))
    if not np.isfinite(target):
        return model.rho[0]
    best, best_err = model.rho[0], np.inf
    for share in (model.rho[0], *SHARES):
        m = replace(model, rho=(share, model.rho[1]))
        sim = []
        for i, (g, t) in enumerate(zip(grid, tempos)):
            rng = np.random.default_rng(i)
            notes = m.play(g.notes, g.start, g.length + 8.0, t, m.phrase_feel(t, None, rng), rng)
            sim.append((g, Phrase(tuple(notes), g.start, g.length + 8.0)))
        err = abs(_gap_spread(sim) - target)
        if err < best_err:
            best, best_err = share, err
    return float(best)

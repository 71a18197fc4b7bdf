"""The two-sample classifier test: can a logistic regression tell generated answers from
real ones?

Each case (a call) has a real answer and a generated one; both get the features of
`improv.core.theory.features`. An L2-regularised logistic regression (standardised
features, NaN filled with the training mean, Newton's method) is cross-validated by case:
the real and the generated answer to one call are always in the same fold, so the
classifier never judges an answer whose twin it trained on. The accuracy on the held-out
folds is the figure: 0.5 = indistinguishable, 1.0 = always told apart. Numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FOLDS = 10
L2 = 1.0  # penalty on the standardised weights (fixed beforehand, not tuned on any split)
NEWTON_STEPS = 25


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2) -> np.ndarray:
    """Weights (bias last) of an L2 logistic regression of y (0/1) on x, by Newton's method."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    reg = np.full(xb.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (p - y) + reg * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return w


@dataclass(frozen=True)
class TwoSampleResult:
    """Held-out accuracy (0..1), its standard error over cases, the per-fold accuracies,
    the number of cases, the features by the size of their standardised weight (fitted on
    all cases), and by how far apart the two means lie (`feature_gaps`)."""

    accuracy: float
    stderr: float
    folds: tuple[float, ...]
    n_cases: int
    top_features: tuple[tuple[str, float], ...]
    gaps: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy, "stderr": self.stderr, "folds": list(self.folds), "n_cases": self.n_cases,
                "top_features": [list(t) for t in self.top_features], "gaps": [list(t) for t in self.gaps]}


def feature_gaps(real: np.ndarray, generated: np.ndarray, names: tuple[str, ...] = (), top: int = 8
                 ) -> tuple[tuple[str, float], ...]:
    """The `top` features whose generated mean lies furthest from the real one, one feature at a
    time: (name, (generated mean - real mean) / pooled standard deviation), largest first; a
    feature's NaNs (nothing to measure) left out, and one that never varies is 0."""
    names = names or tuple(f"f{i}" for i in range(real.shape[1]))
    out = []
    for j, name in enumerate(names):
        r, g = real[:, j], generated[:, j]
        r, g = r[np.isfinite(r)], g[np.isfinite(g)]
        if not (len(r) and len(g)):
            continue
        sd = math.sqrt((float(r.var()) + float(g.var())) / 2.0)
        out.append((name, (float(g.mean()) - float(r.mean())) / sd if sd > 1e-12 else 0.0))
    return tuple(sorted(out, key=lambda t: -abs(t[1]))[:top])


def _prepare(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(train)
    counts = ok.sum(axis=0)
    mu = np.where(counts > 0, np.where(ok, train, 0.0).sum(axis=0) / np.maximum(counts, 1), 0.0)
    tr = np.where(np.isfinite(train), train, mu)
    te = np.where(np.isfinite(test), test, mu)
    sd = tr.std(axis=0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    return (tr - mu) / sd, (te - mu) / sd


def two_sample_test(real: np.ndarray, generated: np.ndarray, names: tuple[str, ...] = (), folds: int = FOLDS,
                    seed: int = 0) -> TwoSampleResult:
    """Cross-validated accuracy of telling `real` (cases x features) from `generated` (the
    same cases, row for row).

    Raises:
        ValueError: the two matrices differ in shape, or there are fewer cases than folds.
    """
    if real.shape != generated.shape:
        raise ValueError(f"real {real.shape} and generated {generated.shape} features differ in shape")
    n = len(real)
    if n < folds:
        raise ValueError(f"{n} cases are too few for {folds} folds")
    order = np.random.default_rng(seed).permutation(n)
    fold_of = np.empty(n, dtype=np.int64)
    fold_of[order] = np.arange(n) % folds
    correct = np.zeros(n)  # per case: share of its two answers told right
    accs = []
    for k in range(folds):
        tr, te = fold_of != k, fold_of == k
        xtr = np.vstack([real[tr], generated[tr]])
        ytr = np.r_[np.ones(tr.sum()), np.zeros(tr.sum())]
        xte = np.vstack([real[te], generated[te]])
        a, b = _prepare(xtr, xte)
        w = fit_logistic(a, ytr)
        pred = (np.hstack([b, np.ones((len(b), 1))]) @ w) > 0
        m = int(te.sum())
        hit = np.r_[pred[:m], ~pred[m:]].astype(float)
        correct[te] = 0.5 * (hit[:m] + hit[m:])
        accs.append(float(hit.mean()))
    acc = float(correct.mean())
    stderr = float(correct.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    a, _ = _prepare(np.vstack([real, generated]), real[:1])
    w = fit_logistic(a, np.r_[np.ones(n), np.zeros(n)])[:-1]
    names = names or tuple(f"f{i}" for i in range(real.shape[1]))
    top = tuple(sorted(((nm, float(v)) for nm, v in zip(names, w)), key=lambda t: -abs(t[1]))[:8])
    return TwoSampleResult(acc, stderr, tuple(accs), n, top, feature_gaps(real, generated, names))

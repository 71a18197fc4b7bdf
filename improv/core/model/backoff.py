"""A back-off table: p(target | context columns) by interpolated absolute discounting.

The context is a row of small ints ordered from the most to the least telling column;
level k reads the first k columns, and each level's estimate is interpolated with the
one below it, with modified absolute discounts (Chen & Goodman 1998): p_k(y | c) =
max(n(c, y) - D(n), 0) / n(c) + gamma(c) * p_(k-1)(y | c'), three discounts D1, D2, D3+
per level from its count-of-counts, gamma(c) = (D1 N1(c) + D2 N2(c) + D3 N3+(c)) / n(c),
down to an add-one unigram over the targets. Contexts are hashed into
uint64 keys; counts are sorted arrays searched with numpy, so a table over half a million
events builds in about a second. Saved as plain arrays (no pickles).
"""

from __future__ import annotations

import numpy as np

_MUL = np.uint64(0x9E3779B97F4A7C15)
_SEED = np.uint64(0x632BE59BD9B4E019)


def _keys(ctx: np.ndarray, k: int) -> np.ndarray:
    """uint64 hash of the first k columns of each row (k = 0: one empty context)."""
    key = np.full(len(ctx), _SEED, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            key = (key ^ (ctx[:, j].astype(np.uint64) + np.uint64(j * 1000003 + 1))) * _MUL
    return key


def _pair(c: np.ndarray, y: np.ndarray) -> np.ndarray:
    """uint64 hash of (context key, target)."""
    with np.errstate(over="ignore"):
        return (c ^ (y.astype(np.uint64) * np.uint64(0xBF58476D1CE4E5B9) + np.uint64(7))) * _MUL


class BackoffTable:
    """Counts of (context prefix, target) for every prefix length (see the module docstring).

    Args:
        n_targets: the targets are 0 .. n_targets - 1.
        n_columns: context columns (each row of `fit` and `prob` has this many).
    """

    def __init__(self, n_targets: int, n_columns: int) -> None:
        self.v, self.m = int(n_targets), int(n_columns)
        self.unigram = np.full(self.v, 1.0 / self.v)
        self.levels: list[dict[str, np.ndarray]] = []
        self.depth = self.m  # how many context columns `prob` reads (a choice made on held-out data)

    def fit(self, ctx: np.ndarray, y: np.ndarray) -> "BackoffTable":
        """Count (N, n_columns) contexts and their (N,) targets."""
        ctx = np.asarray(ctx, dtype=np.int64).reshape(len(y), self.m)
        y = np.asarray(y, dtype=np.int64)
        self.unigram = (np.bincount(y, minlength=self.v)[:self.v] + 1.0) / (len(y) + self.v)
        self.levels = []
        for k in range(1, self.m + 1):
            c = _keys(ctx, k)
            pair_keys, counts = np.unique(_pair(c, y), return_counts=True)
            counts = counts.astype(np.float64)
            nn = [float(np.sum(counts == i)) for i in range(1, 5)]
            yy = nn[0] / (nn[0] + 2 * nn[1]) if nn[0] + nn[1] > 0 else 0.5
            disc = np.array([min(max(i - (i + 1) * yy * nn[i] / nn[i - 1], 0.05), i - 0.05) if nn[i - 1] > 0
                             else 0.5 * i for i in (1, 2, 3)])
            # per context: its total count and the mass its discounts hand down
            pairs = np.unique(np.stack([c, y.astype(np.uint64)], 1), axis=0, return_counts=True)
            pc, pn = pairs[0][:, 0], pairs[1]
            ctx_keys = np.unique(pc)
            where = np.searchsorted(ctx_keys, pc)
            totals = np.bincount(where, weights=pn.astype(np.float64), minlength=len(ctx_keys))
            handed = np.bincount(where, weights=disc[np.minimum(pn, 3) - 1], minlength=len(ctx_keys))
            self.levels.append({"pair": pair_keys, "count": counts, "ctx": ctx_keys, "total": totals,
                                "types": handed, "disc": disc})
        return self

    def prob(self, ctx: np.ndarray, y: np.ndarray) -> np.ndarray:
        """p(y | ctx) for rows of contexts (N, n_columns) and targets (N,), reading the
        first `depth` columns."""
        ctx = np.asarray(ctx, dtype=np.int64).reshape(len(y), self.m)
        y = np.asarray(y, dtype=np.int64)
        p = self.unigram[y]
        for k, lv in enumerate(self.levels[:self.depth], start=1):
            c = _keys(ctx, k)
            i = np.searchsorted(lv["ctx"], c)
            i = np.minimum(i, max(0, len(lv["ctx"]) - 1))
            seen = (lv["ctx"][i] == c) if len(lv["ctx"]) else np.zeros(len(c), bool)
            total = np.where(seen, lv["total"][i] if len(lv["total"]) else 0.0, 1.0)
            handed = np.where(seen, lv["types"][i] if len(lv["types"]) else 0.0, 0.0)
            n = self._pair_counts(lv, c, y)
            d = np.where(n > 0, lv["disc"][np.clip(n, 1, 3).astype(np.int64) - 1], 0.0)
            p = np.where(seen, np.maximum(n - d, 0.0) / total + handed / total * p, p)
        return p

    def distribution(self, ctx: np.ndarray) -> np.ndarray:
        """p(. | ctx) over all targets for one context row (sums to 1)."""
        rows = np.repeat(np.asarray(ctx, dtype=np.int64).reshape(1, self.m), self.v, axis=0)
        p = self.prob(rows, np.arange(self.v))
        return p / p.sum()

    @staticmethod
    def _pair_counts(lv: dict[str, np.ndarray], c: np.ndarray, y: np.ndarray) -> np.ndarray:
        keys = lv["pair"]
        if not len(keys):
            return np.zeros(len(c))
        q = _pair(c, y)
        i = np.minimum(np.searchsorted(keys, q), len(keys) - 1)
        return np.where(keys[i] == q, lv["count"][i], 0.0)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The table as named arrays (for `np.savez`)."""
        out = {f"{prefix}.unigram": self.unigram, f"{prefix}.shape": np.array([self.v, self.m, self.depth])}
        for k, lv in enumerate(self.levels, start=1):
            out.update({f"{prefix}.{k}.{name}": arr for name, arr in lv.items()})
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> "BackoffTable":
        """Inverse of `to_arrays` (KeyError if a piece is missing)."""
        v, m, depth = (int(x) for x in arrays[f"{prefix}.shape"])
        t = cls(v, m)
        t.depth = depth
        t.unigram = np.asarray(arrays[f"{prefix}.unigram"], dtype=np.float64)
        names = ("pair", "count", "ctx", "total", "types", "disc")
        t.levels = [{n: np.asarray(arrays[f"{prefix}.{k}.{n}"]) for n in names} for k in range(1, m + 1)]
        return t

"""The n-gram baseline: an interpolated Kneser-Ney model over the phrase model's flat tokens.

It reads exactly the token sequences of `improv.core.model.tokens.pair_tokens`:
`[BOS] call [SEP] answer [EOS]`, four tokens a note (shift, pitch, dur, vel), and scores
an answer by the NLL of its tokens given everything before them, so its per-note NLL
compares one to one with the model's. It does not see the chords (the tokens hold none).

Smoothing is interpolated modified Kneser-Ney (Chen & Goodman 1998): three absolute
discounts per order (for counts 1, 2, 3+) estimated from that order's count-of-counts;
the top order uses raw counts,
the lower orders continuation counts, and the unigram is interpolated with a uniform
distribution so that no token has probability 0. Every position admits only one kind
of token (a note's shift or the end, then pitch, dur, vel), so probabilities are
renormalized over that kind, as the phrase model's four heads are.

N-grams are packed into uint64 keys, 9 bits a token (the vocabulary has < 512 tokens),
so the longest order is 7 (six tokens of context: one and a half notes). Counting is
vectorized with numpy; a model over the 12-key augmented training set builds in seconds.
Saved as a compressed `.npz` with no pickled objects. Its order and augmentation are chosen
on the validation pairs by `improv.core.model.ngram_train`.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from improv.core.theory.notes import Phrase
from improv.core.respond.base import AnswerSettings, fit_answer
from improv.core.model.tokens import (
    DUR0, EOS, N_PITCH, PAD, PITCH0, SHIFT0, TICKS_PER_BEAT, TOKENS_PER_NOTE, VEL0, VOCAB_SIZE,
    decode, lead_ticks, pair_tokens,
)
from improv.errors import ModelError

BITS = 9
MAX_ORDER = 7
assert VOCAB_SIZE <= 1 << BITS
_MASK = np.uint64((1 << BITS) - 1)
FORMAT = "improv-ngram-1"

# token kinds: what may stand at a position
K_SHIFT, K_PITCH, K_DUR, K_VEL, K_OTHER = range(5)
N_KINDS = 5


def token_kind(tok: np.ndarray | int) -> np.ndarray:
    """Kind of each token: shift or EOS (what may start a note), pitch, dur, vel, other."""
    t = np.asarray(tok)
    kind = np.full(t.shape, K_OTHER, dtype=np.int64)
    kind[(t >= SHIFT0) & (t < PITCH0)] = K_SHIFT
    kind[t == EOS] = K_SHIFT
    kind[(t >= PITCH0) & (t < DUR0)] = K_PITCH
    kind[(t >= DUR0) & (t < VEL0)] = K_DUR
    kind[(t >= VEL0) & (t < VOCAB_SIZE)] = K_VEL
    return kind


_KIND_OF = token_kind(np.arange(VOCAB_SIZE))


def _pack(history: np.ndarray, order: int) -> np.ndarray:
    """Rows of (order-1 context tokens, target) -> keys: target in the low 9 bits, the
    nearest context token next, and so on. `history[:, -1]` is the target."""
    key = np.zeros(history.shape[0], dtype=np.uint64)
    for j in range(order):
        key |= history[:, -1 - j].astype(np.uint64) << np.uint64(BITS * j)
    return key


@dataclass(frozen=True)
class Level:
    """One order's counts, sorted for binary search (modified Kneser-Ney discounts).

    Attributes:
        keys: sorted unique n-gram keys (context << 9 | token).
        counts: their counts (raw for the top order, continuation counts below).
        ctx: sorted unique contexts (keys >> 9).
        ctx_total: total count per context.
        ctx_backoff: per context, the discounted mass sum(D(count)) handed to the lower order.
        ctx_kind_mass: per context and token kind, sum of count - D(count).
        discounts: D1, D2, D3+ (Chen & Goodman's estimates from the count-of-counts).
    """

    keys: np.ndarray
    counts: np.ndarray
    ctx: np.ndarray
    ctx_total: np.ndarray
    ctx_backoff: np.ndarray
    ctx_kind_mass: np.ndarray
    discounts: tuple[float, float, float]

    @classmethod
    def build(cls, keys: np.ndarray, counts: np.ndarray) -> "Level":
        counts = counts.astype(np.float64)
        n = [float(np.sum(counts == i)) for i in range(1, 5)]
        y = n[0] / (n[0] + 2 * n[1]) if n[0] + n[1] > 0 else 0.5
        ds = [i - (i + 1) * y * n[i] / n[i - 1] if n[i - 1] > 0 else 0.5 * i for i in (1, 2, 3)]
        ds = [min(max(d, 0.05), i - 0.05) for i, d in zip((1, 2, 3), ds)]
        disc = np.where(counts >= 3, ds[2], np.where(counts >= 2, ds[1], ds[0]))
        disc = np.minimum(disc, counts)
        ctx_all = keys >> np.uint64(BITS)
        starts = np.flatnonzero(np.r_[True, ctx_all[1:] != ctx_all[:-1]]) if len(keys) else np.zeros(0, np.int64)
        sizes = np.diff(np.r_[starts, len(keys)])
        ctx = ctx_all[starts]
        total = np.add.reduceat(counts, starts) if len(keys) else np.zeros(0)
        backoff = np.add.reduceat(disc, starts) if len(keys) else np.zeros(0)
        group = np.repeat(np.arange(len(starts)), sizes)
        kinds = _KIND_OF[(keys & _MASK).astype(np.int64)]
        mass = np.bincount(group * N_KINDS + kinds, weights=counts - disc,
                           minlength=len(starts) * N_KINDS).reshape(len(starts), N_KINDS)
        return cls(keys, counts, ctx, total, backoff, mass, (ds[0], ds[1], ds[2]))

    def discount(self, counts: np.ndarray) -> np.ndarray:
        """D(count) for counts >= 0 (0 for unseen)."""
        d1, d2, d3 = self.discounts
        return np.minimum(np.where(counts >= 3, d3, np.where(counts >= 2, d2, d1)), counts)

    def find_ctx(self, ctx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(index, found) of each context in `self.ctx`."""
        i = np.searchsorted(self.ctx, ctx)
        i = np.minimum(i, max(len(self.ctx) - 1, 0))
        found = (self.ctx[i] == ctx) if len(self.ctx) else np.zeros(len(ctx), bool)
        return i, found

    def count(self, keys: np.ndarray) -> np.ndarray:
        j = np.searchsorted(self.keys, keys)
        j = np.minimum(j, max(len(self.keys) - 1, 0))
        hit = (self.keys[j] == keys) if len(self.keys) else np.zeros(len(keys), bool)
        return np.where(hit, self.counts[j] if len(self.keys) else 0.0, 0.0)


def _unique_counts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keys = np.sort(keys)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return keys[starts], np.diff(np.r_[starts, len(keys)])


@dataclass(frozen=True)
class NgramCounts:
    """Raw and continuation counts for every order 1..max_order (a model of any order
    up to max_order is made from them without recounting)."""

    raw: list[tuple[np.ndarray, np.ndarray]]
    cont: list[tuple[np.ndarray, np.ndarray]]
    max_order: int
    n_tokens: int

    def model(self, order: int, meta: dict | None = None) -> "NgramModel":
        """The KN model of `order`: raw counts at the top, continuation counts below."""
        if not 1 <= order <= self.max_order:
            raise ValueError(f"order must be 1..{self.max_order}, got {order}")
        levels = [Level.build(*self.cont[k - 1]) for k in range(1, order)]
        levels.append(Level.build(*self.raw[order - 1]))
        return NgramModel(levels, dict(meta or {}, order=order, n_tokens=self.n_tokens))


def _histories(seqs: Sequence[Sequence[int]], order: int, first_target: Sequence[int] | None = None) -> np.ndarray:
    """All (order-1 context, target) rows of the sequences, contexts padded with PAD.

    Targets are every token after index 0 (BOS is given), or from `first_target[i]` on.
    """
    rows = []
    for i, s in enumerate(seqs):
        arr = np.concatenate([np.full(order - 1, PAD, dtype=np.int64), np.asarray(s, dtype=np.int64)])
        begin = 1 if first_target is None else first_target[i]
        idx = np.arange(begin, len(s)) + order - 1
        if len(idx):
            offs = np.arange(-(order - 1), 1)
            rows.append(arr[idx[:, None] + offs[None, :]])
    return np.concatenate(rows) if rows else np.zeros((0, order), dtype=np.int64)


def transpose_tokens(seq: np.ndarray, semitones: int) -> np.ndarray:
    """Flat tokens with every pitch moved by `semitones` (by octaves back into 0-127,
    like `Phrase.transpose`)."""
    out = seq.copy()
    is_p = (seq >= PITCH0) & (seq < DUR0)
    p = seq[is_p] - PITCH0 + semitones
    p = np.where(p > 127, p - 12 * ((p - 116) // 12), p)
    p = np.where(p < 0, p + 12 * ((11 - p) // 12), p)
    out[is_p] = p + PITCH0
    return out


def count_ngrams(seqs: Iterable[Sequence[int]], max_order: int = MAX_ORDER,
                 transpositions: Sequence[int] = (0,)) -> NgramCounts:
    """Count n-grams of order 1..max_order over token sequences (each starting with BOS),
    each sequence taken at every transposition given (e.g. range(-6, 6) for 12 keys)."""
    if not 1 <= max_order <= MAX_ORDER:
        raise ValueError(f"max_order must be 1..{MAX_ORDER}, got {max_order}")
    base = [np.asarray(s, dtype=np.int64) for s in seqs]
    all_seqs = [transpose_tokens(s, k) if k else s for k in transpositions for s in base]
    hist = _histories(all_seqs, max_order)
    raw, cont = [], []
    for k in range(1, max_order + 1):
        raw.append(_unique_counts(_pack(hist[:, max_order - k:], k)))
    for k in range(1, max_order + 1):
        if k < max_order:
            # N1+(. h w): distinct one-longer n-grams that end in (h, w)
            higher = raw[k][0]
            cont.append(_unique_counts(higher & np.uint64((1 << (BITS * k)) - 1)))
        else:
            cont.append(raw[k - 1])
    return NgramCounts(raw, cont, max_order, int(hist.shape[0]))


class NgramModel:
    """An interpolated Kneser-Ney model over flat tokens; a `Responder` too.

    Args:
        levels: one `Level` per order, unigram first.
        meta: what it was trained on (order, data, augmentation, ...), saved with it.
    """

    name = "ngram"

    def __init__(self, levels: list[Level], meta: dict) -> None:
        self.levels = levels
        self.order = len(levels)
        self.meta = meta
        uni = levels[0]
        probs = np.full(VOCAB_SIZE, float(uni.ctx_backoff[0]) if len(uni.ctx) else 0.0, dtype=np.float64)
        tot = float(uni.ctx_total[0]) if len(uni.ctx) else 0.0
        if tot > 0:
            probs /= tot * VOCAB_SIZE
            w = (uni.keys & _MASK).astype(np.int64)
            probs[w] += (uni.counts - uni.discount(uni.counts)) / tot
        else:
            probs[:] = 1.0 / VOCAB_SIZE
        self._unigram = probs
        self._unigram_kind = np.bincount(_KIND_OF, weights=probs, minlength=N_KINDS)

    # ------------------------------------------------------------- probabilities

    def _prob(self, hist: np.ndarray) -> np.ndarray:
        """P(target | context), renormalized over the target's kind, for rows of
        (order-1 context tokens, target)."""
        target = hist[:, -1]
        kind = _KIND_OF[target]
        p = self._unigram[target]
        mass = self._unigram_kind[kind]
        for k in range(2, self.order + 1):
            lv = self.levels[k - 1]
            key = _pack(hist[:, self.order - k:], k)
            idx, found = lv.find_ctx(key >> np.uint64(BITS))
            c = np.where(found, lv.ctx_total[idx], 1.0)
            back = lv.ctx_backoff[idx] / c
            cw = lv.count(key)
            p = np.where(found, (cw - lv.discount(cw)) / c + back * p, p)
            mass = np.where(found, lv.ctx_kind_mass[idx, kind] / c + back * mass, mass)
        return p / mass

    def distribution(self, context: Sequence[int]) -> np.ndarray:
        """P(next token | context) over the whole vocabulary (not renormalized by kind)."""
        ctx = [PAD] * max(0, self.order - 1 - len(context)) + list(context[-(self.order - 1):] if self.order > 1 else [])
        p = self._unigram.copy()
        for k in range(2, self.order + 1):
            lv = self.levels[k - 1]
            h = ctx[len(ctx) - (k - 1):]
            c_key = np.uint64(0)
            for j, tok in enumerate(reversed(h)):
                c_key |= np.uint64(tok) << np.uint64(BITS * j)
            idx, found = lv.find_ctx(np.array([c_key], dtype=np.uint64))
            if not found[0]:
                continue
            i = int(idx[0])
            c = float(lv.ctx_total[i])
            lo = np.searchsorted(lv.keys, c_key << np.uint64(BITS))
            hi = np.searchsorted(lv.keys, (c_key + np.uint64(1)) << np.uint64(BITS))
            p = p * (float(lv.ctx_backoff[i]) / c)
            w = (lv.keys[lo:hi] & _MASK).astype(np.int64)
            cw = lv.counts[lo:hi]
            p[w] += (cw - lv.discount(cw)) / c
        return p

    def token_nll(self, contexts: Sequence[Sequence[int]], targets: Sequence[Sequence[int]]) -> list[np.ndarray]:
        """NLL (nats) of each target token given its context and the targets before it."""
        seqs = [list(c) + list(t) for c, t in zip(contexts, targets)]
        first = [len(c) for c in contexts]
        hist = _histories(seqs, self.order, first)
        nll = -np.log(np.maximum(self._prob(hist), 1e-300))
        out, at = [], 0
        for t in targets:
            out.append(nll[at:at + len(t)])
            at += len(t)
        return out

    def score(self, call: Phrase, answer: Phrase, chart: object = None, include_eos: bool = False) -> tuple[float, int]:
        """(total NLL in nats of the answer's tokens given the call's, answer notes).

        The chart is accepted for the model's signature and ignored (the tokens carry no
        chords). The EOS token is left out unless `include_eos` (a note's NLL is its four
        tokens')."""
        return self.score_many([(call, answer)], include_eos)[0]

    def score_many(self, pairs: Sequence[tuple[Phrase, Phrase]], include_eos: bool = False) -> list[tuple[float, int]]:
        """`score` for many (call, answer) pairs at once (vectorized)."""
        ctxs, tgts = zip(*(pair_tokens(c, a) for c, a in pairs)) if pairs else ((), ())
        out = []
        for nll, (_, a) in zip(self.token_nll(ctxs, tgts), pairs):
            total = float(nll.sum() if include_eos else nll[:-1].sum())
            out.append((total, len(a)))
        return out

    # ------------------------------------------------------------- generation

    def learn(self, call: Phrase, harmony: object, tempo: float | None = None) -> None:
        """The baseline does not learn during a session."""

    def answer(self, call: Phrase, harmony: object, settings: AnswerSettings) -> Phrase:
        """Sample an answer token by token (seeded), within the settings' span and range."""
        rng = np.random.default_rng(settings.seed)
        context, _ = pair_tokens(call, Phrase())
        lead = lead_ticks(settings.start)
        span_ticks = int(round(settings.length * TICKS_PER_BEAT))
        pitch_ok = np.zeros(VOCAB_SIZE, bool)
        pitch_ok[PITCH0 + max(0, settings.low):PITCH0 + min(N_PITCH - 1, settings.high) + 1] = True
        vocab = np.arange(VOCAB_SIZE)
        is_shift = (vocab >= SHIFT0) & (vocab < PITCH0)
        out: list[int] = []
        onset = -lead
        for _ in range(max(1, span_ticks) * TOKENS_PER_NOTE):  # one note a tick at most
            slot = len(out) % TOKENS_PER_NOTE
            allowed = _KIND_OF == slot
            if slot == K_PITCH:
                allowed = allowed & pitch_ok
            if slot == K_SHIFT:
                if not out:
                    allowed = allowed & (vocab != EOS)  # an answer has at least one note
                room = span_ticks - 1 - onset  # the next onset must fall inside the span
                allowed = allowed & ~(is_shift & (vocab - SHIFT0 > room))
                if not out:  # and not before the answer's start (inside its first beat)
                    allowed = allowed & ~(is_shift & (vocab - SHIFT0 < lead))
            p = self.distribution(context + out) * allowed
            tok = _sample(p, rng, settings.temperature, settings.top_p)
            if tok is None or tok == EOS:
                break
            if slot == K_SHIFT:
                onset += tok - SHIFT0
            out.append(tok)
        out = out[:len(out) - len(out) % TOKENS_PER_NOTE]
        notes = list(decode(out, start=settings.start).notes) if out else []
        return fit_answer(notes, settings)

    # ------------------------------------------------------------- files

    def save(self, path: str | Path) -> Path:
        """Write the model as a compressed .npz (arrays and a JSON header, no pickles)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"header": np.array(json.dumps({"format": FORMAT, **self.meta}))}
        for k, lv in enumerate(self.levels, start=1):
            arrays[f"keys{k}"] = lv.keys
            arrays[f"counts{k}"] = lv.counts.astype(np.uint32)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "NgramModel":
        """Read a model written by `save`.

        Raises:
            ModelError: missing, unreadable or not an n-gram file (names the file).
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["header"]))
                if meta.get("format") != FORMAT:
                    raise ModelError(f"{path} is not an improv n-gram model (format {meta.get('format')!r})")
                levels = [Level.build(z[f"keys{k}"], z[f"counts{k}"]) for k in range(1, int(meta["order"]) + 1)]
        except FileNotFoundError:
            raise ModelError(f"n-gram model {path} not found") from None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as e:
            raise ModelError(f"n-gram model {path} is unreadable ({e}); delete it and it will be rebuilt") from None
        return cls(levels, meta)


def _sample(p: np.ndarray, rng: np.random.Generator, temperature: float, top_p: float) -> int | None:
    """One token from weights `p` (not normalized) with temperature and nucleus sampling."""
    total = p.sum()
    if not total > 0:
        return None
    if temperature <= 0:
        return int(np.argmax(p))
    q = np.power(p / total, 1.0 / temperature) if temperature != 1.0 else p / total
    q = q / q.sum()
    order = np.argsort(-q, kind="stable")
    cum = np.cumsum(q[order])
    keep = order[: int(np.searchsorted(cum, min(max(top_p, 1e-9), 1.0) - 1e-12)) + 1]
    w = q[keep] / q[keep].sum()
    return int(keep[rng.choice(len(keep), p=w)])


def pair_sequences(pairs: Iterable[tuple[Phrase, Phrase]]) -> list[list[int]]:
    """Training sequences `[BOS] call [SEP] answer [EOS]` of (call, answer) pairs."""
    out = []
    for c, a in pairs:
        ctx, tgt = pair_tokens(c, a)
        out.append(ctx + tgt)
    return out

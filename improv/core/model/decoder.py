"""A numpy copy of the phrase model's per-note step, for fast batch-1 CPU decoding.

At batch size 1 a torch call costs more in dispatch than in arithmetic, so decoding
runs on numpy arrays of the trained weights (`ModelWeights`): the layer-0 GRU input
gates are precomputed per embedding row (the step embedding is a sum of rows, so its
gate pre-activation is the sum of the rows' projections), chord projections are
cached per chord, and each head is two mat-vecs. A context is read layer by layer (all
input gates at once, then the recurrence), and the attention readout keeps its keys and
values in a `KVCache`. With a tempo input its gate term joins every step's; with copy
cells (`improv.core.model.copying`) the heads take the gated cells the responder builds.
`tests/test_model.py` and `tests/test_model_context.py` check it against the torch model.
"""

from __future__ import annotations

import math

import numpy as np

from improv.core.model.config import LAYER_NORM_EPS, MAX_INTERVAL
from improv.core.model.inputs import NONE_PITCH
from improv.core.model.tokens import N_SHIFT
from improv.core.model.weights import ModelWeights, as_weights

_SQRT_2_PI = math.sqrt(2.0 / math.pi)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class _Head:
    """A `Head` with its LayerNorm folded into the first layer (the centring into the weights,
    the affine into weights and bias); several heads that read the same input share one
    normalisation and one stacked product. Weights are kept transposed: a row vector times
    a C-ordered (in, out) matrix is the fastest product numpy's BLAS offers at batch 1."""

    def __init__(self, w: ModelWeights, *names: str) -> None:
        self.eps = LAYER_NORM_EPS
        w1s, b1s = [], []
        for name in names:
            w1, nw, nb = w[f"{name}.fc.weight"], w[f"{name}.norm.weight"], w[f"{name}.norm.bias"]
            w1s.append(w1 * nw[None, :])
            b1s.append(w1 @ nb + w[f"{name}.fc.bias"])
        w1 = np.concatenate(w1s)
        # w1 @ (x - mean(x)) == (w1 - each row's mean) @ x: the centring costs nothing per step
        self.w1t = np.ascontiguousarray((w1 - w1.mean(1, keepdims=True)).T)
        self.b1 = np.concatenate(b1s)
        self.split = np.cumsum([x.shape[0] for x in w1s])[:-1]
        self.w2t = [np.ascontiguousarray(0.5 * w[f"{name}.out.weight"].T) for name in names]  # GELU's 0.5 folded in
        self.b2 = [w[f"{name}.out.bias"] for name in names]

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        n = len(x)
        m = float(x.sum()) / n
        y = x @ self.w1t
        y *= 1.0 / math.sqrt(max(0.0, float(x @ x) / n - m * m) + self.eps)
        y += self.b1
        t = y * y  # GELU (tanh form) in place: y * (1 + tanh(c (y + 0.044715 y^3))), 0.5 in w2
        t *= 0.044715 * _SQRT_2_PI
        t += _SQRT_2_PI
        t *= y
        np.tanh(t, out=t)
        t += 1.0
        y *= t
        if len(self.w2t) == 1:
            out = y @ self.w2t[0]
            out += self.b2[0]
            return [out]
        cut = [0, *self.split, len(y)]
        return [y[a:b] @ w2t + b2 for w2t, b2, a, b in zip(self.w2t, self.b2, cut, cut[1:])]


class KVCache:
    """The attention's keys and values of the steps read so far (rows 0..n-1 of each
    head's (capacity, head width) block), with room to grow; `fork` gives a private copy
    to extend (a primed context is shared)."""

    def __init__(self, heads: int, dh: int, capacity: int = 64) -> None:
        self.k = np.empty((heads, max(1, capacity), dh), dtype=np.float32)
        self.v = np.empty_like(self.k)
        self.n = 0

    def fork(self, extra: int) -> "KVCache":
        h, _, dh = self.k.shape
        c = KVCache(h, dh, self.n + extra)
        c.k[:, :self.n], c.v[:, :self.n], c.n = self.k[:, :self.n], self.v[:, :self.n], self.n
        return c

    def extend(self, k: np.ndarray, v: np.ndarray) -> None:
        """k, v: (heads, T, head width) of T more steps."""
        m = self.n + k.shape[1]
        if m > self.k.shape[1]:
            grown = self.fork(max(m - self.n, self.k.shape[1]))
            self.k, self.v = grown.k, grown.v
        self.k[:, self.n:m], self.v[:, self.n:m] = k, v
        self.n = m


class NumpyDecoder:
    """The trained model's decoding step in numpy (float32)."""

    def __init__(self, weights: ModelWeights | object) -> None:
        w = as_weights(weights)  # (a trained torch module is read into arrays)
        cfg = w.cfg
        self.d = cfg.d_model
        self.layers = []
        for i in range(cfg.n_layers):  # (weights transposed, as `_Head` keeps them)
            w_ih, w_hh, b_ih, b_hh = (w[f"rnn.{n}_l{i}"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
            self.layers.append((np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T), b_ih, b_hh))
        w_ih0, b_ih0 = w["rnn.weight_ih_l0"], w["rnn.bias_ih_l0"]
        tables = [w[f"{e}.weight"] @ w_ih0.T for e in (
            "e_kind", "e_shift", "e_pitch", "e_dur", "e_vel", "e_pos", "e_dens", "e_center", "e_bars")]
        self.table = np.ascontiguousarray(np.concatenate(tables))  # one table, rows offset per field
        self.offsets = np.cumsum([0] + [len(t) for t in tables[:-1]])
        self.chord_w = w_ih0 @ w["chord_in.weight"]
        self.chord_b = w_ih0 @ w["chord_in.bias"] + b_ih0
        self.o_shift, self.o_pitch = _Head(w, "o_shift"), _Head(w, "o_pitch", "o_interval")
        self.o_dur, self.o_vel = _Head(w, "o_dur"), _Head(w, "o_vel")
        self.t_shift, self.t_pos, self.t_pitch, self.t_dur = (w[f"{e}.weight"] for e in ("t_shift", "t_pos", "t_pitch",
                                                                                         "t_dur"))
        self.t_chord_w, self.t_chord_b = w["t_chord.weight"], w["t_chord.bias"]
        self.pcw_w, self.pcw_b = w["o_pcw.weight"], w["o_pcw.bias"]
        far = 2 * MAX_INTERVAL + 1
        rel = np.arange(128)[None, :] - np.arange(129)[:, None] + MAX_INTERVAL
        self.iv_index = np.where((rel >= 0) & (rel <= 2 * MAX_INTERVAL), rel, far)
        self.iv_index[NONE_PITCH] = far
        self.pc_index = np.arange(128) % 12
        self.degrees = cfg.chord_degrees
        if self.degrees:
            self.e_deg = w["e_deg.weight"] @ w_ih0.T
            self.deg_w, self.deg_b = w["o_deg.weight"], w["o_deg.bias"]
        self._chords: dict[tuple, tuple] = {}
        self.tempo_gate = w["e_tempo.weight"] @ w_ih0.T if cfg.tempo_edges else None
        self.copy_p = (w["o_copy_pitch.weight"], w["o_copy_pitch.bias"]) if cfg.copy_pitch else None
        self.copy_s = (w["o_copy_shift.weight"], w["o_copy_shift.bias"]) if cfg.copy_shift else None
        self.attn = None
        if cfg.attention_heads:
            qw, nw, nb = w["attn.qkv.weight"], w["attn.norm.weight"], w["attn.norm.bias"]
            qb = qw @ nb + w["attn.qkv.bias"]
            qw = qw * nw[None, :]
            qw = qw - qw.mean(1, keepdims=True)  # the LayerNorm's centring folded in, as in `_Head`
            scale = 1.0 / math.sqrt(self.d // cfg.attention_heads)  # the queries' 1 / sqrt(head width) too
            qw[:self.d] *= scale
            qb[:self.d] *= scale
            self.attn = (np.ascontiguousarray(qw.T), qb,
                         np.ascontiguousarray(w["attn.proj.weight"].T), w["attn.proj.bias"], cfg.attention_heads,
                         LAYER_NORM_EPS)

    def chord(self, feats: tuple[float, ...]) -> tuple:
        """(layer-0 gate input, g1 term, pitch-class blocks (3, 128), root or -1, degree per pitch) for a
        chord, cached."""
        c = self._chords.get(feats)
        if c is None:
            f = np.asarray(feats, dtype=np.float32)
            blocks = f[:36].reshape(3, 12)[:, self.pc_index]
            root = int(np.argmax(f[:12])) if f[:12].sum() > 0 else -1
            deg = (self.pc_index - root) % 12 if root >= 0 else None
            c = self._chords[feats] = (self.chord_w @ f + self.chord_b, self.t_chord_w @ f + self.t_chord_b, blocks,
                                       root, deg)
        return c

    def step(self, ints, feats: tuple[float, ...], h: list[np.ndarray], tempo: int | None = None
             ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Feed one step (9 ints + chord features; `tempo`: the tempo band, with a tempo
        input) -> (GRU output, new state per layer)."""
        c = self.chord(feats)
        gi = self.table[self.offsets + np.asarray(ints)].sum(0) + c[0]
        if self.tempo_gate is not None and tempo is not None:
            gi = gi + self.tempo_gate[tempo]
        if self.degrees:
            p = ints[2]
            gi = gi + self.e_deg[(p - c[3]) % 12 if c[3] >= 0 and p < NONE_PITCH else 12]
        d = self.d
        new = []
        x = None
        for li, (w_iht, w_hht, b_ih, b_hh) in enumerate(self.layers):
            if li:
                gi = x @ w_iht
                gi += b_ih
            hp = h[li]
            gh = hp @ w_hht
            gh += b_hh
            rz = _sigmoid(gi[:2 * d] + gh[:2 * d])  # reset and update gates together
            z = rz[d:]
            n = np.tanh(gi[2 * d:] + rz[:d] * gh[2 * d:])
            x = n + z * (hp - n)  # (1 - z) * n + z * h
            new.append(x)
        return x, new

    def new_cache(self, capacity: int = 64) -> KVCache | None:
        if self.attn is None:
            return None
        heads = self.attn[4]
        return KVCache(heads, self.d // heads, capacity)

    def attend(self, xs: np.ndarray, cache: KVCache | None) -> np.ndarray:
        """GRU outputs (T, d) of the next T steps -> the output heads' input for the last
        one (its GRU output plus the attention over all steps so far); the steps' keys
        and values join `cache`. Without attention: the last GRU output."""
        if self.attn is None or cache is None:
            return xs[-1]
        w, b, wp, bp, heads, eps = self.attn
        xs = np.atleast_2d(xs)
        d, T = self.d, len(xs)
        dh = d // heads
        if T == 1 and cache.n < cache.k.shape[1]:  # one decoding step: the cheapest path
            x = xs[0]
            m = float(x.sum()) / d
            qkv = x @ w
            qkv *= 1.0 / math.sqrt(max(0.0, float(x @ x) / d - m * m) + eps)
            qkv += b
            cache.k[:, cache.n] = qkv[d:2 * d].reshape(heads, dh)
            cache.v[:, cache.n] = qkv[2 * d:].reshape(heads, dh)
            cache.n += 1
            q = qkv[:d].reshape(heads, dh, 1)
        else:
            xc = xs - xs.mean(-1, keepdims=True)
            xn = xc / np.sqrt((xc * xc).mean(-1, keepdims=True) + eps)
            qkv = (xn @ w + b).reshape(T, 3, heads, dh)
            cache.extend(qkv[:, 1].transpose(1, 0, 2), qkv[:, 2].transpose(1, 0, 2))
            q = qkv[-1, 0][:, :, None]  # (heads, dh, 1)
        n = cache.n
        att = np.matmul(cache.k[:, :n], q)[:, :, 0]  # (heads, n)
        att -= att.max(-1, keepdims=True)
        np.exp(att, out=att)
        att /= att.sum(-1, keepdims=True)
        y = np.matmul(att[:, None, :], cache.v[:, :n])  # (heads, 1, dh)
        out = y.reshape(d) @ wp
        out += bp
        out += xs[-1]
        return out

    def read(self, steps, h: list[np.ndarray], tempo: int | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """Feed many steps (each 9 ints + chord features; `tempo` as in `step`) -> (the top
        layer's GRU output at every step (T, d), new state).

        The same as `step` on each in turn, but every layer's input gates are computed
        for all steps at once, so only the recurrent mat-vec runs per step."""
        ints = np.asarray([s[:9] for s in steps], dtype=np.int64)
        gi = self.table[ints + self.offsets].sum(1) + np.stack([self.chord(s[9])[0] for s in steps])
        if self.tempo_gate is not None and tempo is not None:
            gi += self.tempo_gate[tempo]
        if self.degrees:
            roots = np.asarray([self.chord(s[9])[3] for s in steps])
            p = ints[:, 2]
            idx = np.where((roots >= 0) & (p < NONE_PITCH), (p - roots) % 12, 12)
            gi = gi + self.e_deg[idx]
        d = self.d
        new = []
        xs = np.empty((0, d), dtype=np.float32)
        for li, (w_iht, w_hht, b_ih, b_hh) in enumerate(self.layers):
            if li:
                gi = xs @ w_iht + b_ih  # the layer below's outputs
            hp = h[li]
            xs = np.empty((len(steps), d), dtype=np.float32)
            for t in range(len(steps)):
                g = gi[t]
                gh = hp @ w_hht
                gh += b_hh
                rz = _sigmoid(g[:2 * d] + gh[:2 * d])
                n = np.tanh(g[2 * d:] + rz[:d] * gh[2 * d:])
                hp = n + rz[d:] * (hp - n)
                xs[t] = hp
            new.append(hp)
        return xs, new

    def shift_logits(self, out: np.ndarray, cells: np.ndarray | None = None) -> np.ndarray:
        """The next gap or END; `cells`: the gap copy cells (k, N_SHIFT), with copy_shift."""
        logits = self.o_shift(out)[0]
        if self.copy_s is not None and cells is not None:
            w, b = self.copy_s
            logits[:N_SHIFT] += (w @ out + b) @ cells
        return logits

    def g1(self, out: np.ndarray, shift: int, pos: int, feats: tuple[float, ...]) -> np.ndarray:
        return out + self.t_shift[shift] + self.t_pos[pos] + self.chord(feats)[1]

    def pitch_logits(self, g1: np.ndarray, prev_pitch: int, feats: tuple[float, ...],
                     cells: np.ndarray | None = None) -> np.ndarray:
        """The next pitch; `cells`: the interval copy cells (k, 49), with copy_pitch."""
        pitch, iv = self.o_pitch(g1)
        if self.copy_p is not None and cells is not None:
            w, b = self.copy_p
            iv[:2 * MAX_INTERVAL + 1] += (w @ g1 + b) @ cells
        w = self.pcw_w @ g1 + self.pcw_b
        c = self.chord(feats)
        logits = pitch + iv[self.iv_index[prev_pitch]] + w @ c[2]
        if self.degrees and c[4] is not None:
            logits = logits + (self.deg_w @ g1 + self.deg_b)[c[4]]
        return logits

    def dur_logits(self, g2: np.ndarray) -> np.ndarray:
        return self.o_dur(g2)[0]

    def vel_logits(self, g3: np.ndarray) -> np.ndarray:
        return self.o_vel(g3)[0]

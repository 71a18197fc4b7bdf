"""Is the model's decoding step at numpy's floor? The shipped decoder's parts against
rewrites of them, per call, on the shipped weights. Written as JSON; run from the
repository root (no JACK needed):

    python3 figures/decode_floor.py > figures/decode-floor.json

The numba arms need numba (`pip install numba`; not one of improv's dependencies: it and
llvmlite are about 210 MB). Without it they are left out and the JSON says so.

Arms (microseconds a call; each the median of `--repeats` timings of `--number` calls,
with the lowest and highest; the arms of one part taken in turn within each repeat):

- `step`: the GRU's two layers for one note: as shipped (`NumpyDecoder.step`); with layer
  1's two products fused into one (x and h side by side against one (384, 768) matrix);
  in numba loops (the rewrites gather layer 0's input gates as `step` does, in numpy).
- `attend`: the attention for one note over 250 earlier steps (a call and its history):
  as shipped (`NumpyDecoder.attend`, keys per head); with the keys and values one row a
  step, so the scores and the read-out are two matrix products; in numba loops.
- `head`: the shift head (`_Head`: LayerNorm, GELU layer, output layer): as shipped; in
  numba loops.
- `matvec`: one (192) x (192, 576) product alone, numpy's BLAS: the arithmetic floor of one
  of the step's three products.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import subprocess
import sys
import timeit
from pathlib import Path
from statistics import median

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from improv.core.model.decoder import NumpyDecoder, _sigmoid  # noqa: E402
from improv.core.model.weights import load_weights  # noqa: E402

MODEL = Path(__file__).resolve().parents[1] / "models" / "improv-phrase-v2.npz"
CONTEXT = 250  # steps the attention reads over: up to 192 of history and call, the answer's so far

try:
    import numba as nb
except ImportError:  # the numba arms are left out
    nb = None


def _numba_kernels():
    jit = nb.njit(fastmath=True, cache=False)

    @jit
    def matvec(x, wt, b, out):
        for j in range(wt.shape[1]):
            out[j] = b[j]
        for i in range(wt.shape[0]):
            xi = x[i]
            for j in range(wt.shape[1]):
                out[j] += xi * wt[i, j]

    @jit
    def gru_layer(gi, hp, w_hht, b_hh, gh, out):
        d = hp.shape[0]
        matvec(hp, w_hht, b_hh, gh)
        for j in range(d):
            r = 1.0 / (1.0 + math.exp(-(gi[j] + gh[j])))
            z = 1.0 / (1.0 + math.exp(-(gi[d + j] + gh[d + j])))
            n = math.tanh(gi[2 * d + j] + r * gh[2 * d + j])
            out[j] = n + z * (hp[j] - n)

    @jit
    def step(gi0, h0, h1, w_hh0, b_hh0, w_ih1, b_ih1, w_hh1, b_hh1, gh, gi1, o0, o1):
        gru_layer(gi0, h0, w_hh0, b_hh0, gh, o0)
        matvec(o0, w_ih1, b_ih1, gi1)
        gru_layer(gi1, h1, w_hh1, b_hh1, gh, o1)

    @jit
    def attend(x, w, b, wp, bp, K, V, n, heads, eps, qkv, att, y, out):
        d = x.shape[0]
        dh = d // heads
        m = 0.0
        for i in range(d):
            m += x[i]
        m /= d
        v2 = 0.0
        for i in range(d):
            v2 += (x[i] - m) * (x[i] - m)
        rs = 1.0 / math.sqrt(v2 / d + eps)
        matvec(x, w, b, qkv)
        for j in range(qkv.shape[0]):
            qkv[j] = (qkv[j] - b[j]) * rs + b[j]
        for j in range(d):
            K[n, j] = qkv[d + j]
            V[n, j] = qkv[2 * d + j]
        for hh in range(heads):
            mx = -1e30
            for t in range(n + 1):
                s = 0.0
                for k in range(dh):
                    s += K[t, hh * dh + k] * qkv[hh * dh + k]
                att[t] = s
                mx = max(mx, s)
            tot = 0.0
            for t in range(n + 1):
                att[t] = math.exp(att[t] - mx)
                tot += att[t]
            for k in range(dh):
                y[hh * dh + k] = 0.0
            for t in range(n + 1):
                a = att[t] / tot
                for k in range(dh):
                    y[hh * dh + k] += a * V[t, hh * dh + k]
        matvec(y, wp, bp, out)
        for j in range(d):
            out[j] += x[j]

    @jit
    def head(x, w1t, b1, w2t, b2, eps, hid, out):
        n = x.shape[0]
        m = 0.0
        s2 = 0.0
        for i in range(n):
            m += x[i]
            s2 += x[i] * x[i]
        m /= n
        rs = 1.0 / math.sqrt(max(0.0, s2 / n - m * m) + eps)
        for j in range(w1t.shape[1]):
            hid[j] = 0.0
        for i in range(n):
            for j in range(w1t.shape[1]):
                hid[j] += x[i] * w1t[i, j]
        c = math.sqrt(2.0 / math.pi)
        for j in range(w1t.shape[1]):
            v = hid[j] * rs + b1[j]
            hid[j] = v * (1.0 + math.tanh(c * (v + 0.044715 * v * v * v)))  # (w2t holds GELU's 0.5)
        matvec(hid, w2t, b2, out)

    return step, attend, head


def arms(dec: NumpyDecoder, rng: np.random.Generator) -> dict[str, dict[str, tuple]]:
    """{part: {arm: (callable, its output for the check)}}."""
    d = dec.d
    f32 = np.float32
    h = [(0.5 * rng.standard_normal(d)).astype(f32) for _ in range(2)]
    ints = np.array([1, 8, 60, 5, 4, 3, 2, 2, 2])  # a note step's tokens (kind, shift, pitch, ...)
    feats = tuple(float(v) for v in rng.integers(0, 2, dec.chord_w.shape[1]))  # the chord's features
    band = 3  # a tempo band
    (_, w_hh0, _, b_hh0), (w_ih1, w_hh1, b_ih1, b_hh1) = dec.layers

    def gates0():  # layer 0's input gates, as `NumpyDecoder.step` gathers them, for the rewrites
        gi = dec.table[dec.offsets + ints].sum(0) + dec.chord(feats)[0] + dec.tempo_gate[band]
        if dec.degrees:
            gi = gi + dec.e_deg[(ints[2] - dec.chord(feats)[3]) % 12 if dec.chord(feats)[3] >= 0 else 12]
        return gi

    def step_shipped():
        return dec.step(ints, feats, h, band)[0]

    fused = np.zeros((2 * d, 4 * d), dtype=f32)  # [x, h] -> r and z summed, x's n, h's n
    fused[:d, :2 * d], fused[d:, :2 * d] = w_ih1[:, :2 * d], w_hh1[:, :2 * d]
    fused[:d, 2 * d:3 * d], fused[d:, 3 * d:] = w_ih1[:, 2 * d:], w_hh1[:, 2 * d:]
    fused_b = np.concatenate([b_ih1[:2 * d] + b_hh1[:2 * d], b_ih1[2 * d:], b_hh1[2 * d:]])
    xh = np.empty(2 * d, dtype=f32)

    def step_fused():
        gi0 = gates0()
        gh = h[0] @ w_hh0
        gh += b_hh0
        rz = _sigmoid(gi0[:2 * d] + gh[:2 * d])
        n = np.tanh(gi0[2 * d:] + rz[:d] * gh[2 * d:])
        xh[:d] = n + rz[d:] * (h[0] - n)
        xh[d:] = h[1]
        g = xh @ fused
        g += fused_b
        rz = _sigmoid(g[:2 * d])
        n = np.tanh(g[2 * d:3 * d] + rz[:d] * g[3 * d:])
        return n + rz[d:] * (h[1] - n)

    x = rng.standard_normal(d).astype(f32)
    w, b, wp, bp, heads, eps = dec.attn
    dh = d // heads
    keys, values = rng.standard_normal((2, CONTEXT, d)).astype(f32)
    cache = dec.new_cache(CONTEXT + 1)
    cache.k[:, :CONTEXT] = keys.reshape(CONTEXT, heads, dh).transpose(1, 0, 2)
    cache.v[:, :CONTEXT] = values.reshape(CONTEXT, heads, dh).transpose(1, 0, 2)

    def attend_shipped():
        cache.n = CONTEXT
        return dec.attend(x[None], cache)

    K, V = np.zeros((2, CONTEXT + 1, d), dtype=f32)
    K[:CONTEXT], V[:CONTEXT] = keys, values
    mask = np.kron(np.eye(heads, dtype=f32), np.ones((1, dh), dtype=f32))  # (heads, d): each head's block

    def attend_rows():
        m = float(x.sum()) / d
        qkv = x @ w
        qkv *= 1.0 / math.sqrt(max(0.0, float(x @ x) / d - m * m) + eps)
        qkv += b
        K[CONTEXT], V[CONTEXT] = qkv[d:2 * d], qkv[2 * d:]
        att = K @ (mask * qkv[:d]).T  # (steps, heads)
        att -= att.max(0)
        np.exp(att, out=att)
        att /= att.sum(0)
        y = ((att.T @ V) * mask).sum(0)
        out = y @ wp
        out += bp
        out += x
        return out

    hd = dec.o_shift
    out = {
        "step": {"shipped": (step_shipped, step_shipped()), "layer 1 fused": (step_fused, step_fused())},
        "attend": {"shipped": (attend_shipped, attend_shipped()), "rows, two products": (attend_rows, attend_rows())},
        "head": {"shipped": (lambda: hd(x), hd(x)[0])},
        "matvec": {"numpy BLAS (192) x (192, 576)": (lambda: h[0] @ w_hh0, None)},
    }
    if nb is not None:
        step, attend, head = _numba_kernels()
        gh, gi1 = np.empty(3 * d, dtype=f32), np.empty(3 * d, dtype=f32)
        o0, o1 = np.empty(d, dtype=f32), np.empty(d, dtype=f32)
        qkv, att, y, ao = np.empty(3 * d, f32), np.empty(CONTEXT + 1, f32), np.empty(d, f32), np.empty(d, f32)
        hid, ho = np.empty(hd.w1t.shape[1], f32), np.empty(hd.w2t[0].shape[1], f32)

        def step_nb():
            step(gates0(), h[0], h[1], w_hh0, b_hh0, w_ih1, b_ih1, w_hh1, b_hh1, gh, gi1, o0, o1)
            return o1

        def attend_nb():
            attend(x, w, b, wp, bp, K, V, CONTEXT, heads, eps, qkv, att, y, ao)
            return ao

        def head_nb():
            head(x, hd.w1t, hd.b1, hd.w2t[0], hd.b2[0], hd.eps, hid, ho)
            return ho

        out["step"]["numba"] = (step_nb, step_nb().copy())
        out["attend"]["numba"] = (attend_nb, attend_nb().copy())
        out["head"]["numba"] = (head_nb, head_nb().copy())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--number", type=int, default=2000, help="calls a timing")
    a = ap.parse_args()
    weights, _ = load_weights(MODEL)
    dec = NumpyDecoder(weights)
    parts = arms(dec, np.random.default_rng(0))
    result: dict = {}
    for part, by_arm in parts.items():
        ref = by_arm["shipped"][1] if "shipped" in by_arm else None
        times: dict[str, list[float]] = {name: [] for name in by_arm}
        for _ in range(a.repeats):
            for name, (fn, _) in by_arm.items():
                times[name].append(timeit.timeit(fn, number=a.number) / a.number * 1e6)
        result[part] = {name: {"median_us": round(median(t), 2), "low_us": round(min(t), 2), "high_us": round(max(t), 2),
                               "max_abs_diff_from_shipped": None if ref is None or got is None
                               else float(np.abs(np.asarray(got) - ref).max())}
                        for name, (_, got), t in zip(by_arm, by_arm.values(), times.values())}
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    json.dump({"what": "the decoder's parts per call, as shipped and rewritten (figures/decode_floor.py's docstring)",
               "command": "python3 figures/decode_floor.py > figures/decode-floor.json",
               "repeats": a.repeats, "calls_a_timing": a.number, "context_steps": CONTEXT,
               "numba": nb.__version__ if nb is not None else "not installed: its arms left out",
               "numpy": np.__version__, "python": platform.python_version(), "machine": platform.processor() or
               platform.machine(), "commit": commit, "parts": result}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()

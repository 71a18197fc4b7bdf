"""`improv eval`'s report as targets met or not, and as tables (`improv.train.evaluate`)."""

from __future__ import annotations

import math


def _get(d: dict | None, *keys: str) -> float:
    for k in keys:
        if not isinstance(d, dict):
            return math.nan
        d = d.get(k)
    return float(d) if isinstance(d, (int, float)) and not isinstance(d, bool) else math.nan


def _ratio(a: float, b: float) -> float:
    return a / b if b and math.isfinite(a) and math.isfinite(b) else math.nan


def targets(report: dict) -> dict:
    """The issue's targets, measured on one split's report: NLL per note at least 20 %
    below the 5-gram's; the classifier at most 60 % on all features and on rhythm alone;
    4-note call cells reused 3-8 %, 3-note 12-22 %; notes per beat, strong-beat chord
    tones and notes under 0.1 beat within 10 % of the real answers'."""
    out: dict = {}
    red = report.get("model", {}).get("nll_reduction_vs_baseline")
    if red is not None:
        out["nll_20pct_below_5gram"] = {"value": red, "met": bool(red >= 0.20)}
    gen, real = report.get("generated"), report.get("real")
    if not (gen and real):
        return out
    for key, name in (("classifier_all", "classifier_all_at_most_60pct"),
                      ("classifier_rhythm", "classifier_rhythm_at_most_60pct")):
        acc = _get(gen, key, "accuracy")
        if math.isfinite(acc):
            out[name] = {"value": acc, "met": bool(acc <= 0.60)}
    for key, lo, hi, name in (("cell_reuse_4", 0.03, 0.08, "cells_4_reused_3_to_8pct"),
                              ("cell_reuse_3", 0.12, 0.22, "cells_3_reused_12_to_22pct")):
        v = _get(gen, key)
        out[name] = {"value": v, "met": bool(math.isfinite(v) and lo <= v <= hi)}
    for path, name in ((("notes_per_beat",), "notes_per_beat_within_10pct"),
                       (("strong_beat_chord_tone_share",), "chord_tones_within_10pct"),
                       (("time", "short_share"), "short_notes_within_10pct")):
        r = _ratio(_get(gen, *path), _get(real, *path))
        out[name] = {"value": r, "met": bool(math.isfinite(r) and abs(r - 1.0) <= 0.10)}
    return out


ROWS = (
    ("NLL per note (nats)", ("nll_per_note",), "{:.3f}"),
    ("classifier, all features", ("classifier_all", "accuracy"), "{:.3f}"),
    ("classifier, rhythm alone", ("classifier_rhythm", "accuracy"), "{:.3f}"),
    ("4-note call cells reused", ("cell_reuse_4",), "{:.3f}"),
    ("3-note call cells reused", ("cell_reuse_3",), "{:.3f}"),
    ("chord tones on strong beats", ("strong_beat_chord_tone_share",), "{:.3f}"),
    ("notes in chord or tension", ("in_harmony_share",), "{:.3f}"),
    ("pitch-class entropy (bits)", ("pc_entropy_bits",), "{:.3f}"),
    ("notes per beat", ("notes_per_beat",), "{:.3f}"),
    ("notes under 0.1 beat", ("time", "short_share"), "{:.3f}"),
    ("onsets together (share)", ("time", "together_share"), "{:.4f}"),
    ("onset-gap hist JS to real", ("time", "gap_js"), "{:.4f}"),
    ("duration hist JS to real", ("time", "dur_js"), "{:.4f}"),
    ("interval hist JS to real", ("interval_hist_js_to_real",), "{:.4f}"),
    ("density r with call", ("density", "density_call_corr"), "{:.3f}"),
    ("density r with tempo", ("density", "density_tempo_corr"), "{:.3f}"),
    ("most notes in an answer", ("density", "max_notes"), "{:.0f}"),
    ("  on tunes under 120 bpm", ("density", "max_notes_under_120_bpm"), "{:.0f}"),
    ("answers with notes together", ("density", "answers_with_notes_together"), "{:.0f}"),
    ("notes", ("n_notes",), "{:.0f}"),
)
COLUMNS = (("real", "real", None), ("model", "generated", "model"), ("5-gram", "baseline_generated", "baseline"),
           ("chord n-gram", "chordgram_generated", "chordgram"))


def _get_gaps(gen: dict | None, top: int = 5) -> str:
    """The model's answers' largest feature gaps, as `name +0.24, ...` ('' without a classifier)."""
    gaps = (gen or {}).get("classifier_all", {}).get("gaps") or []
    return ", ".join(f"{name} {g:+.2f}" for name, g in gaps[:top])


def split_table(report: dict) -> str:
    """One split's figures: real answers, the model's, the two baselines'."""
    lines = [f"{report.get('split')} split: {report.get('n_pairs')} pairs from {report.get('n_solos')} solos",
             f"{'':<30}" + "".join(f"{c:>13}" for c, _, _ in COLUMNS)]
    for label, path, fmt in ROWS:
        cells = []
        for _, gen_key, nll_key in COLUMNS:
            src = report.get(nll_key) if path == ("nll_per_note",) else report.get(gen_key)
            v = _get(src, *path) if src is not None else math.nan
            cells.append(f"{fmt.format(v) if math.isfinite(v) else '-':>13}")
        lines.append(f"{label:<30}" + "".join(cells))
    gaps = _get_gaps(report.get("generated"))
    if gaps:
        lines.append("model against real, feature by feature (mean apart in pooled deviations): " + gaps)
    for name, t in report.get("targets", {}).items():
        v = t["value"]
        shown = f"{v:.3f}" if isinstance(v, float) and math.isfinite(v) else str(v)
        lines.append(f"target {name}: {shown} -> {'met' if t['met'] else 'NOT met'}")
    return "\n".join(lines)


def format_table(report: dict) -> str:
    """The report as tables (the valid split first when the test split is beside it)."""
    parts = [split_table(r) for r in report.get("beside", {}).values()] + [split_table(report)]
    b, c = report.get("baseline", {}), report.get("chordgram", {})
    notes = [f"5-gram: order {b.get('order')}, {b.get('smoothing')}, 12-key augmentation "
             f"{'on' if b.get('augment_12_keys') else 'off'}, {b.get('n_train_pairs')} training pairs; no chords",
             f"chord n-gram: chords and up to four notes back, orders {c.get('orders')}"]
    model = report.get("model", {})
    if "error" in model:
        notes.append(f"model: not evaluated ({model['error']})")
    elif model.get("path"):
        notes.append(f"model: {model['path']} (scored with its controls unknown)")
    notes.append(f"data: {report.get('data')}; answers generated over the real answers' spans (seed "
                 f"{report.get('options', {}).get('seed')} + pair index); real answers as played")
    return "\n\n".join(parts) + "\n\n" + "\n".join(notes)

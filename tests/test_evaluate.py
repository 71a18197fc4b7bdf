"""`improv eval` on a tiny WJazzD-format fixture (tests/data/eval, made by its make_fixture.py)."""

import importlib.util
import json
import math
import shutil
from pathlib import Path

import pytest

from improv.cli import main
from improv.commands.common import TRAIN_INSTALL
from improv.core.theory.notes import Phrase
from improv.core.respond.base import fit_answer
from improv.train.evaluate import EvalOptions, answer_span, evaluate, format_table, real_on_span, select_pairs

DATA = Path(__file__).resolve().parent / "data" / "eval"
# `improv eval` scores the model with torch and says how to install it when absent (test_cli.py)
needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                 reason=f"`improv eval` needs torch (the train extra): {TRAIN_INSTALL}")


class EchoModel:
    """A fake model: every answer note costs 2 nats; it answers by echoing the call."""

    def score(self, call, answer, chart, history=(), tempo=None):
        return 2.0 * len(answer), len(answer)

    def answer(self, call, chart, settings):
        return fit_answer(list(call.notes), settings)


@pytest.fixture(scope="module")
def baseline_file(tmp_path_factory):
    return tmp_path_factory.mktemp("cache") / "ngram.npz"


def quiet(_msg):
    pass


@pytest.mark.parametrize(
    "start, notes, span",
    [
        (8.0, [(60, 0, 1), (62, 1, 2)], (8.0, 3.0)),
        (11.5, [(60, 0, 0.25), (62, 0.25, 0.25)], (11.0, 1.0)),  # starts off the beat: its beat
        (11.5, [(60, 0, 1)], (11.0, 2.0)),  # ends at 12.5 -> 13
        (3.0, [(60, 0, 40)], (3.0, 32.0)),  # at most 8 bars
    ],
)
def test_answer_span(start, notes, span):
    assert answer_span(Phrase.of(notes, start=start)) == span


def test_real_on_span_keeps_the_timeline():
    ph = Phrase.of([(60, 0, 0.5), (62, 0.5, 0.5), (64, 3.5, 2)], start=11.5)
    r = real_on_span(ph, 11.0, 4.0)
    assert r.start == 11.0 and r.length == 4.0
    # the note at 3.5 + 0.5 = 4.0 lies past the span's end
    assert [(n.start, n.pitch, n.duration) for n in r.notes] == [(0.5, 60, 0.5), (1.0, 62, 0.5)]
    cut = real_on_span(Phrase.of([(60, 0, 3)], start=8.0), 8.0, 2.0)
    assert cut.notes[0].duration == 2.0  # held past the end: cut there
    assert [n.start + r.start for n in r.notes] == [11.5, 12.0]


def test_select_pairs_spreads_evenly():
    assert select_pairs(list(range(10)), 3) == [0, 3, 6]
    assert select_pairs(list(range(4)), 10) == [0, 1, 2, 3]
    assert select_pairs(list(range(4)), None) == [0, 1, 2, 3]


def test_evaluate_on_the_training_archive_uses_its_validation_split(baseline_file):
    report = evaluate(DATA, options=EvalOptions(seed=1), train_data=DATA, baseline_path=baseline_file,
                      log=quiet, model=EchoModel())
    assert baseline_file.exists() and baseline_file.with_name("ngram-chordgram.npz").exists()  # trained once, cached
    assert report["split"] == "valid" and report["n_solos"] == 2 and report["n_pairs"] == 29
    assert report["train_solos_evaluated"] == 0 and "beside" not in report
    assert report["model"]["nll_per_note"] == pytest.approx(2.0)
    b, c = report["baseline"], report["chordgram"]
    assert math.isfinite(b["nll_per_note"]) and b["nll_per_note"] > 0 and b["n_notes"] == report["model"]["n_notes"]
    assert math.isfinite(c["nll_per_note"]) and c["nll_per_note"] > 0
    assert report["model"]["nll_reduction_vs_baseline"] == pytest.approx(1 - 2.0 / b["nll_per_note"])
    for key in ("real", "generated", "baseline_generated", "chordgram_generated"):
        s = report[key]
        assert s["n_phrases"] == 29
        assert 0 <= s["strong_beat_chord_tone_share"] <= 1 and s["notes_per_beat"] > 0
        assert 0 <= s["cell_reuse_4"] <= 1 and s["time"]["gap_quantiles"]
    # the echo answers reuse every cell of their calls; real answers are random lines
    assert report["generated"]["interval_related"] == 1.0 and report["generated"]["cell_reuse_4"] > 0.5
    assert report["real"]["interval_related"] < 1.0
    assert report["generated"]["interval_hist_js_to_real"] >= 0
    for key in ("classifier_all", "classifier_rhythm"):
        got = report["chordgram_generated"][key]
        assert 0 <= got["accuracy"] <= 1 and got["n_cases"] == 29
    # the fixture's real answers are played behind the beat, swung; the grid baselines are not
    assert report["baseline_generated"]["classifier_rhythm"]["accuracy"] > 0.8
    t = report["targets"]
    assert set(t) == {"nll_20pct_below_5gram", "classifier_all_at_most_60pct", "classifier_rhythm_at_most_60pct",
                      "cells_4_reused_3_to_8pct", "cells_3_reused_12_to_22pct", "notes_per_beat_within_10pct",
                      "chord_tones_within_10pct", "short_notes_within_10pct"}
    gaps = report["generated"]["classifier_all"]["gaps"]
    assert len(gaps) == 8 and abs(gaps[0][1]) >= abs(gaps[-1][1])
    table = format_table(report)
    assert "NLL per note" in table and "5-gram" in table and "chord n-gram" in table and "target" in table
    assert f"feature by feature (mean apart in pooled deviations): {gaps[0][0]} {gaps[0][1]:+.2f}" in table


def test_split_test_reports_the_valid_split_beside(baseline_file):
    report = evaluate(DATA, options=EvalOptions(split="test", limit=12, generate=False), train_data=DATA,
                      baseline_path=baseline_file, log=quiet, model=EchoModel())
    assert report["split"] == "test" and report["n_solos"] == 2 and report["n_pairs"] == 12
    assert report["beside"]["valid"]["split"] == "valid" and report["beside"]["valid"]["n_pairs"] == 12
    assert "targets" in report["beside"]["valid"]
    table = format_table(report)
    assert table.index("valid split") < table.index("test split")


def test_generation_is_seeded(baseline_file):
    kw = dict(train_data=DATA, baseline_path=baseline_file, log=quiet, model=EchoModel())
    a = evaluate(DATA, options=EvalOptions(seed=3, limit=6), **kw)
    b = evaluate(DATA, options=EvalOptions(seed=3, limit=6), **kw)
    c = evaluate(DATA, options=EvalOptions(seed=4, limit=6), **kw)
    assert a["n_pairs"] == 6
    assert a["baseline_generated"] == b["baseline_generated"] and a["chordgram_generated"] == b["chordgram_generated"]
    assert a["baseline_generated"] != c["baseline_generated"]


def test_other_data_is_evaluated_whole(tmp_path, baseline_file):
    other = tmp_path / "heldout"
    for sub in ("melody", "beats"):
        (other / sub).mkdir(parents=True)
    for src in sorted((DATA / "melody").glob("*.csv"))[:2]:
        name = src.name.replace("Fixture_", "Held_")
        shutil.copy(src, other / "melody" / name)
        beat = src.name.replace("_FINAL.csv", "_FINAL_beattrack.csv")
        shutil.copy(DATA / "beats" / beat, other / "beats" / name.replace("_FINAL.csv", "_FINAL_beattrack.csv"))
    report = evaluate(other, options=EvalOptions(generate=False), train_data=DATA, baseline_path=baseline_file,
                      log=quiet, model=EchoModel())
    assert report["split"] == "all" and report["n_solos"] == 2
    assert "generated" not in report and "real" in report


@needs_torch
def test_cli_writes_json(tmp_path, baseline_file, capsys, monkeypatch):
    from improv.train import export

    def unavailable(path=None):
        raise ImportError("no model here")

    monkeypatch.setattr(export, "load_responder", unavailable)  # the default model, unavailable: said, not fatal
    out = tmp_path / "eval.json"
    rc = main(["eval", str(DATA), "--json", str(out), "--limit", "5", "--train-data", str(DATA),
               "--baseline", str(baseline_file)])
    assert rc == 0
    report = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert report["n_pairs"] == 5 and "error" in report["model"]
    assert report["baseline"]["nll_per_note"] > 0
    assert set(report) >= {"model", "baseline", "chordgram", "real", "baseline_generated", "chordgram_generated"}
    assert len(report["engine"].get("commit", "0" * 40)) == 40  # which code evaluated (none outside a checkout)
    text = capsys.readouterr().out
    assert "NLL per note" in text and "model: not evaluated" in text


@needs_torch
def test_a_model_named_that_cannot_be_read_stops_before_the_baselines(tmp_path, capsys):
    """A typo in --model ran the whole evaluation of the baselines (minutes on the full
    split), then said "model: not evaluated" and exited 0."""
    rc = main(["eval", str(DATA), "--train-data", str(DATA), "--baseline", str(tmp_path / "new.npz"),
               "--model", str(tmp_path / "missing.pt")])
    err = capsys.readouterr().err
    assert rc == 2 and "--model" in err and "missing.pt" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "new.npz").exists()  # nothing trained


@needs_torch
def test_a_baseline_path_that_is_not_a_baseline_is_never_written_over(tmp_path, capsys):
    """`--baseline mymodel.npz` (the user's own weights) said "rebuilding a baseline", trained
    one and wrote it over their file."""
    theirs = tmp_path / "mymodel.npz"
    theirs.write_bytes(b"PK\x03\x04 not a baseline")
    rc = main(["eval", str(DATA), "--train-data", str(DATA), "--baseline", str(theirs), "--limit", "2",
               "--no-generate"])
    err = capsys.readouterr().err
    assert rc == 2 and "is not a baseline improv eval made" in err and len(err.strip().splitlines()) == 1, err
    assert theirs.read_bytes() == b"PK\x03\x04 not a baseline"
    rc = main(["eval", str(DATA), "--train-data", str(DATA), "--baseline", str(tmp_path), "--limit", "2"])
    assert rc == 2 and "is a folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [theirs]


@pytest.mark.parametrize(
    "argv, match",
    [
        pytest.param(["eval", "/nonexistent/data.tar.gz"], "not found", marks=needs_torch),
        (["eval", str(DATA), "--limit", "0"], "--limit"),
    ],
)
def test_cli_bad_input_is_one_line(argv, match, capsys, tmp_path):
    rc = main(argv + ["--baseline", str(tmp_path / "b.npz"), "--train-data", str(DATA)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and match in err and len(err.splitlines()) == 1


@needs_torch
def test_bad_archive_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tar")
    rc = main(["eval", str(bad), "--train-data", str(DATA), "--baseline", str(tmp_path / "b.npz")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "bad.tar.gz" in err and len(err.splitlines()) == 1


@needs_torch
def test_json_is_never_written_over_an_input_and_a_negative_seed_is_refused_up_front(tmp_path, capsys):
    """`--json W.npz` replaced the model's weights with the report (and `--json B.npz` the
    baseline), exit 0; `--seed -5` ran the slow part, then ended in a traceback."""
    weights = tmp_path / "w.npz"
    weights.write_bytes(b"PK weights")
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    info = (data / "solo_info.csv").read_bytes()
    for argv in (["--model", str(weights), "--json", str(weights)],
                 ["--baseline", str(weights), "--json", str(weights)],
                 ["--json", str(data / "solo_info.csv")],  # (a file of the data folder: it was written over)
                 ["--seed", "-5"]):
        rc = main(["eval", str(data), "--train-data", str(data), "--limit", "1", "--no-generate", *argv])
        err = capsys.readouterr().err
        assert rc == 2 and len(err.strip().splitlines()) == 1, (argv, err)
        assert any(says in err for says in ("that is the input file", "that is a file of the data",
                                            "--seed must be 0 or more")), err
    assert weights.read_bytes() == b"PK weights" and (data / "solo_info.csv").read_bytes() == info


# --- the model card's tables are the committed eval JSON ------------------------------------
ROOT = Path(__file__).resolve().parents[1]
CARD_COLUMNS = {"real": "real", "v2": "generated", "5-gram": "baseline_generated", "chord n-gram": "chordgram_generated"}


def _card_table(heading: str) -> tuple[list[str], dict[str, list[str]]]:
    """The columns and rows (label -> cells) of the model card's table under `heading`."""
    text = (ROOT / "models" / "README.md").read_text(encoding="utf-8")
    lines = text[text.index(heading):].splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("|"))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    rows = lines[start:end]
    cols = [c.strip().strip("*") for c in rows[0].strip("|").split("|")]
    return cols, {r.strip("|").split("|")[0].strip(): [c.strip() for c in r.strip("|").split("|")] for r in rows[2:]}


def _first_number(cell: str) -> float | None:
    import re

    m = re.search(r"-?\d+\.\d+", cell.replace("**", ""))
    return float(m.group()) if m else None


def _card_figures(d: dict, part: str) -> dict[str, float]:
    g = d[part]
    out = {"chord tones on strong beats": g["strong_beat_chord_tone_share"], "notes per beat": g["notes_per_beat"],
           "notes under 0.1 beat": g["time"]["short_share"]}
    if part != "real":
        out["classifier, all features"] = g["classifier_all"]["accuracy"]
        out["classifier, rhythm alone"] = g["classifier_rhythm"]["accuracy"]
    return out


@pytest.mark.parametrize("heading, split", [("### Test split (", "test"), ("### Valid split (", "valid")])
def test_model_card_tables_are_the_committed_eval_json(heading, split):
    """The card says `eval/v2-test.json` holds every figure of its test and valid tables; the
    5-gram's and chord n-gram's classifier accuracies there were v1's run's (`v1-test.json`:
    test 0.916 / 0.882 and 0.900 / 0.903 against 0.914 / 0.882 and 0.897 / 0.899 in
    v2-test.json; valid 0.929 / 0.893 and 0.914 / 0.912 against 0.929 / 0.889 and 0.913 / 0.908),
    and no test compared the card with the JSON."""
    report = json.loads((ROOT / "models" / "eval" / "v2-test.json").read_text())
    d = report if split == "test" else report["beside"]["valid"]
    cols, rows = _card_table(heading)
    checked = 0
    for col, part in CARD_COLUMNS.items():
        i = cols.index(col)
        want = _card_figures(d, part)
        for label, cells in rows.items():
            if label in want:
                assert _first_number(cells[i]) == pytest.approx(round(want[label], 3), abs=5e-4), (split, col, label)
                checked += 1
            elif label.startswith("classifier, all / rhythm") and part != "real":
                got = [float(x) for x in cells[i].replace("*", "").split("(")[0].split("/")]
                assert got == pytest.approx([round(want["classifier, all features"], 3),
                                             round(want["classifier, rhythm alone"], 3)], abs=5e-4), (split, col)
                checked += 1
    if split == "test":  # v1's column is its own run of the same evaluation
        v1 = json.loads((ROOT / "models" / "eval" / "v1-test.json").read_text())
        i, want = cols.index("v1 (as shipped)"), _card_figures(v1, "generated")
        for label, value in want.items():
            assert _first_number(rows[label][i]) == pytest.approx(round(value, 3), abs=5e-4), ("v1", label)
            checked += 1
    assert checked >= (23 if split == "test" else 10)

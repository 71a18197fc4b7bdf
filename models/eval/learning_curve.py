"""The learning curve behind models/eval/learning-curve-valid.json (models/README.md,
"Training"): would more solos take the model to 20 % below the 5-gram? The shipped recipe
is trained on a share of the training solos (whole solos, a seeded draw) for as many steps
as on all of them (its epochs scaled up: the learning rate at each step is the full run's;
stopped at step 1,800, past where the full run was best), and the model and the 5-gram
trained on the same solos are scored on the valid pairs (and the n-gram whose order and
12-key augmentation `improv eval`'s way of choosing would pick on those solos). Run from the
repository root with the train extra installed:

    python3 models/eval/learning_curve.py train 0.5 runs/lc50      # about 20 minutes on one thread
    python3 models/eval/learning_curve.py score --json OUT runs/lc50 runs/lc75 ... [--full MODEL ...]

`train` writes RUN/best.pt and RUN.solos (the solos it trained on); `score` reads them
back. `--full` names models trained on every training solo (the shipped recipe's seeds),
scored beside the 5-gram on every training solo. Only the valid split is read."""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wjazzd-solos.tar.gz"
CONFIG = Path(__file__).resolve().parents[2] / "configs" / "train" / "shipped.toml"
DRAW_SEED = 12345
MAX_STEPS = 1800


def share_of(solos: list, fraction: float) -> list:
    """The training solos a run of `fraction` trains on: a seeded draw of whole solos."""
    solos = sorted(solos, key=lambda s: s.name)
    return random.Random(DRAW_SEED).sample(solos, round(fraction * len(solos)))


def train(fraction: float, out: str, data: Path) -> int:
    import improv.train.data as D
    from improv.cli import main
    from improv.core.formats.wjazzd import call_answer_pairs, phrase_runs

    whole = D.PairData.__init__

    def on_a_share(self, data_path, log=print) -> None:  # noqa: ANN001
        whole(self, data_path, log)
        keep = share_of(self.train_solos, fraction)
        log(f"learning curve: {len(keep)} of {len(self.train_solos)} training solos ({fraction:.2f})")
        self.train_solos = keep
        self.train = [p for s in keep for p in call_answer_pairs(s)]
        self.train_runs = [(r, s.chart, s.name, s.tempo) for s in keep for r in phrase_runs(s) if len(r) > 1]
        Path(out + ".solos").write_text("\n".join(s.name for s in keep) + "\n", encoding="utf-8")

    D.PairData.__init__ = on_a_share
    epochs = round(60 / fraction)  # the shipped recipe's 60 epochs of every solo, in steps
    text = CONFIG.read_text(encoding="utf-8")
    for key, value in (("schedule_epochs", epochs), ("max_epochs", epochs), ("max_steps", MAX_STEPS)):
        text, n = re.subn(rf"^{key} = \S+", f"{key} = {value}", text, flags=re.M)
        assert n == 1, key
    config = Path(out + ".toml")
    config.write_text(text, encoding="utf-8")
    return main(["train", "--data", str(data), "--config", str(config), "--out", out])


def score(runs: list[str], full: list[str], data: Path, out: str | None) -> int:
    from improv.core.formats.wjazzd import call_answer_pairs, load_corpus
    from improv.core.model.ngram_train import per_note_nll, train_baseline
    from improv.train.export import load_responder
    from improv.train.scoring import score as model_score

    corpus = load_corpus(data)
    train_solos = corpus.split("train")
    valid = [p for s in corpus.split("valid") for p in call_answer_pairs(s) if p.answer.notes]
    valid_ca = [(p.call, p.answer) for p in valid]

    def five_gram(solos: list) -> tuple[float, dict]:
        """The 5-gram with the 12 keys (what `improv eval` chose on every training solo), and
        the best of orders 2-5 with and without the 12 keys on these solos (as it chooses)."""
        pairs = [(p.call, p.answer) for s in solos for p in call_answer_pairs(s)]
        _, table = train_baseline(pairs, valid_ca)
        five = next(r for r in table if r["order"] == 5 and r["augment"])
        return five["valid_nll_per_note"], min(table, key=lambda r: r["valid_nll_per_note"])

    def nll_of(path: str) -> float:
        m = load_responder(path)
        m.cache_runs = 0  # the network alone, as measured before the session cache (cache_sweep.py)
        return per_note_nll(model_score(m, p.call, p.answer, p.harmony, history=p.history, tempo=p.tempo)
                            for p in valid)

    def best_of(path: str) -> dict | None:
        """A checkpoint's step and window-valid NLL (the training's own validation), if it is one."""
        if not path.endswith(".pt"):
            return None
        import torch

        state = torch.load(path, map_location="cpu", weights_only=True)["train_state"]
        return {"step": state["step"], "window_valid_nll": state["best_valid"]}

    rows = []
    for r in runs:
        keep = set(Path(r + ".solos").read_text(encoding="utf-8").split())
        solos = [s for s in train_solos if s.name in keep]
        rows.append({"runs": [r], "solos": len(solos), "pairs": sum(len(call_answer_pairs(s)) for s in solos),
                     "five_gram": five_gram(solos), "model_nll": [nll_of(r + "/best.pt")],
                     "best": [best_of(r + "/best.pt")]})
    if full:
        rows.append({"runs": full, "solos": len(train_solos),
                     "pairs": sum(len(call_answer_pairs(s)) for s in train_solos),
                     "five_gram": five_gram(train_solos), "model_nll": [nll_of(r) for r in full],
                     "best": [best_of(r) for r in full]})
    for r in rows:
        (five, chosen), r["five_gram"] = r["five_gram"], None
        r.update(five_gram_nll=five, chosen_ngram=chosen,
                 below_5gram=[1.0 - m / five for m in r["model_nll"]],
                 below_chosen_ngram=[1.0 - m / chosen["valid_nll_per_note"] for m in r["model_nll"]])
        del r["five_gram"]
        print(f"{r['solos']:4d} solos ({r['pairs']} pairs): 5-gram {five:.4f}, chosen n-gram (order {chosen['order']}, "
              f"12 keys {chosen['augment']}) {chosen['valid_nll_per_note']:.4f}; model "
              + ", ".join(f"{m:.4f} ({100 * b:.1f} % below the 5-gram, {100 * c:.1f} % below the chosen)"
                          for m, b, c in zip(r["model_nll"], r["below_5gram"], r["below_chosen_ngram"])))
    if out:
        from improv.bench.parts import engine

        doc = {"split": "valid", "valid_pairs": len(valid), "draw_seed": DRAW_SEED, "config": str(CONFIG.name),
               "points": rows, "engine": engine()}
        Path(out).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    t = sub.add_parser("train")
    t.add_argument("fraction", type=float)
    t.add_argument("out")
    s = sub.add_parser("score")
    s.add_argument("runs", nargs="*")
    s.add_argument("--full", nargs="*", default=[])
    s.add_argument("--json")
    for p in (t, s):
        p.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args(argv)
    if args.what == "train":
        return train(args.fraction, args.out, args.data)
    return score(args.runs, args.full, args.data, args.json)


if __name__ == "__main__":
    sys.exit(main())

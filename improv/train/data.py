"""Training data for the phrase model: the solos' (call, answer) pairs and windows, each
epoch in a random key with its controls shown or hidden at random, and batches of
similar length (`improv.train.trainer` runs the loop).

A sequence is `(steps, complete, tempo)`: the model's input steps
(`improv.core.model.inputs`), whether it ends with a phrase's END to predict, and the
solo's average tempo in bpm (hidden, None, with `TrainConfig.tempo_dropout`).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

class PairData:
    """Training / validation pairs and turning them into batches."""

    def __init__(self, data_path: str | Path, log: Any = print) -> None:
        from improv.core.formats.wjazzd import call_answer_pairs, load_corpus, phrase_runs

        corpus = load_corpus(data_path)
        if not corpus.solos:
            from improv.errors import DataError

            raise DataError(f"{data_path}: no usable 4/4 solos found")
        for what, n in sorted(corpus.warnings.items()):
            log(f"data: {n} {what}")
        train, valid = corpus.split("train"), corpus.split("valid")
        self.train_solos = train
        self.train = [p for s in train for p in call_answer_pairs(s)]
        self.valid = [p for s in valid for p in call_answer_pairs(s)]
        # for window training: (runs of consecutive phrases, chart, solo name, tempo) per split
        self.train_runs = [(r, s.chart, s.name, s.tempo) for s in train for r in phrase_runs(s) if len(r) > 1]
        self.valid_runs = [(r, s.chart, s.name, s.tempo) for s in valid for r in phrase_runs(s) if len(r) > 1]
        log(f"data: {len(corpus.solos)} solos, {len(self.train)} training pairs from {len(train)} solos, "
            f"{len(self.valid)} validation pairs from {len(valid)} ({len(corpus.split('test'))} test solos left out)")
        self._charts: dict = {}

    def _chart(self, solo: str, chart, k: int):
        key = (solo, k)
        c = self._charts.get(key)
        if c is None:
            c = self._charts[key] = chart.transpose(k) if k else chart
        return c

    def training_sequences(self, cfg: Any, tcfg: Any, rng: random.Random | None, split: str = "train") -> list:
        """One epoch's sequences: windows of consecutive phrases when `window_notes` is set,
        else single (call, answer) pairs. `rng` None = no augmentation, controls hidden."""
        if tcfg.window_notes <= 0:
            pairs = self.train if split == "train" else self.valid
            if split != "train" and tcfg.valid_limit:
                pairs = pairs[:tcfg.valid_limit]
            return self.sequences(pairs, cfg, tcfg, rng)
        runs = self.train_runs if split == "train" else self.valid_runs
        return self.windows(runs, cfg, tcfg, rng)

    def windows(self, runs: list, cfg: Any, tcfg: Any, rng: random.Random | None) -> list:
        """Each run of phrases cut into windows of at most `window_notes` notes (a random
        size from half that up, so boundaries move between epochs). Each window begins with
        the last phrase of the one before as its call; every later phrase is an answer to
        all the phrases before it in the window."""
        from improv.core.model.inputs import Controls, window_steps

        wrng = rng or random.Random(1)  # validation: the same windows every time
        out = []
        for run, chart, solo, tempo in runs:
            i = 0
            while i < len(run) - 1:
                size = wrng.randint(tcfg.window_notes // 2, tcfg.window_notes)
                j, n = i + 1, len(run[i]) + len(run[i + 1])
                while j + 1 < len(run) and n + len(run[j + 1]) <= size:
                    j += 1
                    n += len(run[j])
                phrases, harmony = run[i:j + 1], chart
                i = j
                if rng is None:
                    out.append((*window_steps(phrases, harmony, [Controls()] * len(phrases), cfg.max_answer,
                                              max_call=cfg.max_call), tempo))
                    continue
                if tcfg.augment and not (tcfg.written_key and rng.random() < tcfg.written_key):
                    k = rng.randrange(-6, 6)
                    if k:
                        phrases, harmony = [p.transpose(k) for p in phrases], self._chart(solo, chart, k)
                first_is_call = rng.random() >= tcfg.call_dropout  # else: answer from the chords alone
                hide_all = rng.random() < tcfg.controls_hidden
                ctrls = [self._controls(p, tcfg, rng, hide_all) for p in phrases]
                shown = None if rng.random() < tcfg.tempo_dropout else tempo
                out.append((*window_steps(phrases, harmony, ctrls, cfg.max_answer, first_is_call, cfg.max_call), shown))
        return out

    @staticmethod
    def _controls(answer: Any, tcfg: Any, rng: random.Random, hide_all: bool = False) -> Any:
        from improv.core.model.inputs import Controls, answer_controls

        full = answer_controls(answer)
        drop = 1.0 if hide_all else tcfg.control_dropout
        return Controls(None if rng.random() < drop else full.density,
                        None if rng.random() < drop else full.center,
                        None if rng.random() < drop else full.bars)

    def sequences(self, pairs: list, cfg: Any, tcfg: Any, rng: random.Random | None) -> list:
        """(steps, complete) per pair; `rng` None = no augmentation, controls hidden."""
        from improv.core.model.inputs import Controls, pair_steps
        from improv.core.theory.notes import Phrase

        out = []
        for p in pairs:
            call, answer, harmony = p.call, p.answer, p.harmony
            ctrl, tempo = Controls(), p.tempo
            if rng is not None:
                if tcfg.augment:
                    k = rng.randrange(-6, 6)
                    if k:
                        call, answer = call.transpose(k), answer.transpose(k)
                        harmony = self._chart(p.solo, p.harmony, k)
                if rng.random() < tcfg.call_dropout:  # sometimes no call: answer from the chords alone
                    call = Phrase((), call.start, 0.0)
                ctrl = self._controls(answer, tcfg, rng, rng.random() < tcfg.controls_hidden)
                tempo = None if rng.random() < tcfg.tempo_dropout else tempo
            out.append((*pair_steps(call, answer, harmony, ctrl, cfg.max_call, cfg.max_answer), tempo))
        return out


def batches(seqs: list, batch_size: int, rng: random.Random) -> list[list]:
    """Similar-length sequences together (less padding), batches in random order."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i][0]) + rng.random() * 8)
    groups = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(groups)
    return [[seqs[i] for i in g] for g in groups]

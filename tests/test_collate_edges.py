"""Training batches a mutation audit found untested: END and its weight, the call weight through the collating workers, padding, START then SEP, the unknown tempo band."""

import numpy as np
import pytest
torch = pytest.importorskip("torch")
from improv.train.model import END
from improv.train.trainer import load_train_config
from improv.train.data import PairData
from improv.train.model import collate
from improv.train.trainer import _Collating
from tests.test_model_cells import CELLS
from tests.test_train import MINI, TINY

def _seqs():
    cfg, tcfg = load_train_config(TINY)
    return cfg, PairData(MINI, lambda msg: None).training_sequences(cfg, tcfg, None, "train")

def test_a_complete_sequence_predicts_END_with_weight_one():
    _, seqs = _seqs()
    steps, complete = next((s[0], s[1]) for s in seqs if s[1])
    b = collate([(steps, True)], call_weight=0.5)
    assert b.ints[0, len(steps), 0] == END and b.weight[0, len(steps) - 1] == 1.0
    b = collate([(steps, False), (steps + steps[:1], False)], call_weight=0.5)
    assert END not in b.ints[0, :, 0].tolist()

@pytest.mark.parametrize("cfg", ["tiny", "cells"])
def test_collating_passes_call_weight_and_cfg(cfg):
    base, seqs = _seqs()
    cfg = base if cfg == "tiny" else CELLS
    share = [s[:2] + ((140.0,) if len(s) < 3 else s[2:]) for s in seqs[:4]]
    c = _Collating(0, 0.25, cfg)
    (got,) = list(c.batches([share], "cpu"))
    want = collate(share, 0.25, "cpu", cfg)
    assert all((x is None and y is None) or (x is not None and y is not None and torch.equal(x, y))
               for x, y in zip(want, got))
    assert (got.weight == 0.25).any()

def test_the_first_steps_chord_is_kept():
    _, seqs = _seqs()
    steps = seqs[0][0]
    b = collate([seqs[0][:2]])
    assert np.allclose(b.chords[0, 0].numpy(), np.asarray(steps[0][9], dtype=np.float32))

def test_start_then_sep_predicts_nothing():
    from improv.core.model.inputs import Controls, window_steps
    from tests.test_model_context import A, B, CHART, kinds
    from improv.core.model.inputs import SEP, START
    steps, complete = window_steps([A, B], CHART, [Controls()] * 2, 32, first_is_call=False)
    assert kinds(steps)[:2] == [START, SEP]
    b = collate([(steps, complete)], call_weight=0.5)
    assert b.weight[0, 0] == 0.0

def test_a_sequence_without_tempo_is_the_unknown_band():
    from tests.test_model_cells import CELLS
    _, seqs = _seqs()
    b = collate([seqs[0][:2], (seqs[0][0], seqs[0][1], 200.0)], cfg=CELLS)
    assert b.tempo.tolist() == [len(CELLS.tempo_edges) + 1, 2]  # (None -> 4, as (steps, True, None))

def test_padding_weighs_nothing():
    _, seqs = _seqs()
    by_len = sorted((s[:2] for s in seqs), key=lambda s: len(s[0]))
    short, long_ = by_len[0], by_len[-1]
    assert len(short[0]) < len(long_[0])
    b = collate([long_, short])
    n = len(short[0]) + (1 if short[1] else 0)
    assert (b.weight[1, n - 1:] == 0).all() and (b.weight[1, :n - 1] > 0).any()

"""Scoring answers with the phrase model (`improv eval`): the NLL of a real answer given
its call, the session before it and the chords, teacher-forced through the torch model
built from the responder's own weights."""

from __future__ import annotations

import weakref

import numpy as np
import torch

from improv.core.model.inputs import Controls, answer_steps
from improv.core.model.responder import ModelResponder
from improv.core.theory.chart import Chart
from improv.core.theory.notes import Phrase
from improv.train.model import PhraseModel, collate, from_weights

_MODELS: "weakref.WeakKeyDictionary[ModelResponder, PhraseModel]" = weakref.WeakKeyDictionary()


def torch_model(responder: ModelResponder) -> PhraseModel:
    """The responder's weights as a torch `PhraseModel` (built once per responder)."""
    model = _MODELS.get(responder)
    if model is None:
        model = _MODELS[responder] = from_weights(responder.weights)
    return model


def score(responder: ModelResponder, call: Phrase, answer: Phrase, harmony: Chart | None,
          history: tuple[Phrase, ...] = (), tempo: float | None = None) -> tuple[float, int]:
    """(total NLL in nats of the answer's notes given the call (after `history`) and the
    chords, number of notes).

    Controls are left unknown (the real answer's density / register / length are not
    given away), so the figure compares fairly with a model that has no controls. The
    phrases are read as given (on the grid: no `FeelModel.to_grid`); `tempo` (bpm) is
    the model's tempo input, if it has one.
    """
    parts = score_parts(responder, call, answer, harmony, history, tempo)
    return float(parts.sum()), len(parts)


def score_parts(responder: ModelResponder, call: Phrase, answer: Phrase, harmony: Chart | None,
                history: tuple[Phrase, ...] = (), tempo: float | None = None) -> np.ndarray:
    """The NLL (nats) of each of the answer's notes by part, as `score` reads them: shape
    (notes, 4), the columns shift, pitch, duration, velocity. The pitch is scored as
    decoding draws it (before its biases and temperatures): the pitch head's distribution
    mixed with the session cache's (`ModelResponder.cache_runs`), which reads the history
    and the call (the notes the model reads, and those before them) and the answer's so far."""
    if not answer.notes:
        return np.zeros((0, 4))
    context, before = responder._session(call, harmony, history, to_grid=False)
    tail, complete = answer_steps(answer, harmony, Controls(), 10**9)
    steps, sep = context + tail, len(context)
    with torch.inference_mode():
        batch = collate([(steps, complete, tempo)], call_weight=0.0, cfg=responder.cfg)
        parts = torch_model(responder)(*batch)["parts"][0]
    # positions sep .. sep+n-1 (the SEP step, then each answer note) predict the answer's notes
    n = len(answer.notes)
    out = parts[sep:sep + n].double().numpy()
    index = responder.new_index(before)
    if index is not None and index.rk:  # the pitch as decoding draws it: mixed with the session cache
        index.read(context)
        for i, s in enumerate(tail[1:n + 1]):
            out[i, 1] = -np.log(index.mixed_prob(float(np.exp(-out[i, 1])), s[2]))
            index.push(s[2], s[1])
    return out

"""The `Responder` protocol (improv/core/respond/base.py): every partner hears a call with the
tempo it was played at, and the partner process hands it on by a plain call."""

from __future__ import annotations

import pytest

from improv.core.embrace.strategies import EmbraceSettings
from improv.core.model.chordgram import ChordGram
from improv.core.model.ngram import count_ngrams
from improv.core.model.responder import DEFAULT_CHECKPOINT, ModelResponder
from improv.core.model.tokens import BOS, SHIFT0
from improv.core.respond.base import AnswerSettings, Responder
from improv.core.respond.markov import MarkovResponder
from improv.core.theory.chart import parse_chart
from improv.core.theory.notes import Phrase
from improv.partner.core import PartnerCore
from improv.partner.protocol import Job, Setup, packed

CHART = parse_chart("Dm7 | G7 | Cmaj7 | %")
CALL = Phrase.of([(62, 0, .5), (65, .5, .5), (69, 1, .5), (72, 1.5, 1)], start=0.0, length=4.0)


def _partners() -> list:
    partners = [MarkovResponder(), ChordGram(), count_ngrams([[BOS, SHIFT0 + 1, SHIFT0 + 2]], max_order=2).model(2)]
    if DEFAULT_CHECKPOINT.exists():
        partners.append(ModelResponder.load())
    return partners


def test_every_partner_hears_a_call_with_its_tempo_or_without():
    """The protocol's `learn` takes the tempo (bpm, None: not known); the model and the two
    baselines did not, so the partner process asked each one's signature whether to pass it."""
    for partner in _partners():
        assert isinstance(partner, Responder), type(partner).__name__
        partner.learn(CALL, CHART, tempo=250.0)
        partner.learn(CALL, CHART, None)
        partner.learn(CALL, CHART)


class Delegating:
    """A responder that hands everything to another one (a logging wrapper, say)."""

    name = "delegating"

    def __init__(self, inner: MarkovResponder) -> None:
        self.inner = inner

    def learn(self, *args, **kwargs) -> None:
        self.inner.learn(*args, **kwargs)

    def answer(self, call: Phrase, harmony, settings: AnswerSettings) -> Phrase:  # noqa: ANN001
        return self.inner.answer(call, harmony, settings)


@pytest.mark.parametrize("how", ["answer", "setup"])
def test_a_responder_whose_learn_passes_its_arguments_on_hears_the_tempo(how):
    """Asked by its signature whether `learn` takes a tempo, a wrapper whose `learn` takes
    `*args, **kwargs` said no: at 250 bpm the Markov partner inside it read a legato line with
    no tempo and learned its first note of eight (an overlap of 0.3 beats a voicing's note)."""
    line = Phrase.of([(79 - 2 * k, 0.5 * k, 0.8) for k in range(8)], start=0.0, length=4.0)
    inner = MarkovResponder(3, 0)
    core = PartnerCore(Delegating(inner))
    if how == "answer":
        core.answer(Job(1, line, CHART, AnswerSettings(start=4.0, length=4.0, tempo=250.0), EmbraceSettings(mode="off")))
    else:
        core.setup(Setup("delegating", calls=(packed(line, CHART, 250.0),)))
    assert inner.session_notes == 8


class Listening:
    """A responder that answers with one note and keeps the history each answer was given."""

    name = "listening"

    def __init__(self) -> None:
        self.histories: list[tuple[Phrase, ...]] = []

    def learn(self, call: Phrase, harmony, tempo=None) -> None:  # noqa: ANN001
        pass

    def answer(self, call: Phrase, harmony, settings: AnswerSettings) -> Phrase:  # noqa: ANN001
        self.histories.append(settings.history)
        return Phrase.of([(60, 0.0, 1.0)], length=settings.length)


def test_the_partner_hands_on_more_of_the_session_than_the_model_reads():
    """The model reads its window of the session (`max_call` notes), however short the
    phrases; its cache of licks keeps every phrase that left the window. The partner hands
    on its last `SESSION_PHRASES` phrases, not only the last 16 (the window's phrases were
    not all there when they were short)."""
    from improv.core.respond.base import SESSION_PHRASES

    listening = Listening()
    core = PartnerCore(listening)
    jobs = SESSION_PHRASES // 2 + 10
    for k in range(jobs):
        call = Phrase.of([(62 + k % 5, 0.0, 1.0), (65, 1.0, 1.0)], start=8.0 * k, length=4.0)
        core.answer(Job(k + 1, call, CHART, AnswerSettings(start=8.0 * k + 4, length=4.0), EmbraceSettings(mode="off")))
    assert [len(h) for h in listening.histories[:3]] == [0, 2, 4]
    last = listening.histories[-1]
    assert len(last) == SESSION_PHRASES >= 128 and last[-2].notes[0].pitch == 62 + (jobs - 2) % 5

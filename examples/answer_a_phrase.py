"""Answer one phrase with the Markov responder, using the Python API (no ports, no clock).

    python3 examples/answer_a_phrase.py

A call is a `Phrase` of notes in beats, written as readable (pitch, start, duration)
tuples; the chart says what harmony it is over; `AnswerSettings` says where the answer goes
on the timeline and how long it lasts. The same seed gives the same answer.
"""

from improv.core.theory.chart import parse_chart
from improv.core.respond.markov import MarkovResponder
from improv.core.theory.notes import Phrase, pitch_name
from improv.core.respond.base import AnswerSettings

chart = parse_chart("Dm7 G7 | Cmaj7 | %")  # a ii-V-I, looping

# A one-bar call over Dm7 G7: up the Dm7 arpeggio, down through G7's b9 to the third of C.
call = Phrase.of([(62, 0.0, 0.5), (65, 0.5, 0.5), (69, 1.0, 0.5), (72, 1.5, 0.5),
                  (71, 2.0, 0.5), (68, 2.5, 0.5), (65, 3.0, 0.5), (64, 3.5, 0.5)], start=0.0)

partner = MarkovResponder(order=3, seed=1)
partner.learn(call, chart)  # it learns every call it hears (transposition-aware)
answer = partner.answer(call, chart, AnswerSettings(start=4.0, length=4.0, seed=1))

print(f"call:   {' '.join(pitch_name(p, flats=True) for p in call.pitches())}")
print(f"answer: starts at beat {answer.start:g}, {answer.length:g} beats, over {chart.chord_at(answer.start)}")
for n in answer.notes:  # a note's start is counted from the answer's; the chart's beat is answer.start + n.start
    at = answer.start + n.start
    print(f"  beat {at:5.2f}  {pitch_name(n.pitch, flats=True):<4} {n.duration:.2f} beats  "
          f"velocity {n.velocity:<3}  over {chart.chord_at(at)}")

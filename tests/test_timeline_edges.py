"""PlayerTimeline edge cases a mutation audit found untested: before the first anchor, a new tempo on the same beat, a zero tempo."""

import pytest
from improv.core.listen.tempo import BeatEstimate
from improv.core.listen.timeline import PlayerTimeline

def test_before_the_first_anchor_reads_the_first_line():
    tl = PlayerTimeline(2.0, 120.0)
    tl.follow(BeatEstimate(150.0, 3.9, 0.8), 4.0)
    assert tl.beat_at(1.0) == pytest.approx(-2.0)
    assert tl.time_of(-1.5) == pytest.approx(1.25)

def test_same_phase_new_tempo_is_followed():
    tl = PlayerTimeline(0.0, 120.0)
    tl.follow(BeatEstimate(130.0, 3.0, 0.9), 3.0)  # on their beat, at another tempo
    assert tl.tempo == pytest.approx(130.0)
    tl2 = PlayerTimeline(0.0, 120.0)
    tl2.follow(BeatEstimate(121.0, 3.0, 0.9), 3.0)  # 0.8 % faster
    assert tl2.tempo == pytest.approx(121.0)

def test_zero_tempo_rejected():
    with pytest.raises(ValueError):
        PlayerTimeline(0.0, 0.0)

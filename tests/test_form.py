import pytest

from improv.core.theory.chart import load_tune, parse_chart
from improv.core.theory.form import COUNT_IN, PARTNER, PLAYER, TradingForm, count_in_bars
from improv.tunefiles import find_tune

BLUES_TEXT = "F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | D7 | Gm7 | C7 | F7 D7 | Gm7 C7"
BLUES = parse_chart(BLUES_TEXT)


def test_count_in_is_one_bar_or_two_when_slow():
    assert count_in_bars(200) == 1 and count_in_bars(120) == 1 and count_in_bars(70) == 2
    f = TradingForm(BLUES, 4, count_in=2)
    assert f.start == -8 and f.count_in_beats() == [-8, -7, -6, -5, -4, -3, -2, -1]
    p = f.position(-3)
    assert (p.owner, p.bar, p.beat, p.chorus) == (COUNT_IN, 2, 2, 0) and f.turn_at(-0.01) is None
    assert p.label() == "count-in  bar 2  beat 2"


def test_turns_alternate_and_start_on_downbeats():
    f = TradingForm(BLUES, 4)
    assert [(t.owner, t.start, t.end) for t in map(f.turn, range(4))] == [
        (PLAYER, 0, 16), (PARTNER, 16, 32), (PLAYER, 32, 48), (PARTNER, 48, 64)]
    assert f.turn_at(15.99).owner == PLAYER and f.turn_at(16).owner == PARTNER
    assert f.next_turn(0.5, PARTNER).start == 16 and f.next_turn(16, PARTNER).start == 16
    assert f.next_turn(17, PARTNER).start == 48
    assert f.turn(1).compute_by == 15.0  # during the player's last beat at the latest
    assert TradingForm(BLUES, 2, player_first=False).turn(0).owner == PARTNER


def test_three_choruses_of_blues_in_fours():
    f = TradingForm(BLUES, 4)
    bars = BLUES_TEXT.split(" | ")
    partner_bars = []
    for beat in range(0, 3 * 48, 4):  # each bar's downbeat for three choruses
        p = f.position(beat)
        assert p.chorus == beat // 48 + 1 and p.bar == (beat % 48) // 4 + 1 and p.beat == 1
        if p.owner == PARTNER:
            partner_bars.append((p.chorus, p.bar))
    # 12 bars / 4 = 3 turns a chorus: P-A-P | A-P-A | P-A-P
    assert partner_bars == [(1, b) for b in range(5, 9)] + [(2, b) for b in (1, 2, 3, 4, 9, 10, 11, 12)] + [
        (3, b) for b in range(5, 9)]
    # the partner's chords are the form's chords in those bars
    for turn in (f.turn(i) for i in range(9)):
        if turn.owner != PARTNER:
            continue
        spans = f.chords(turn)
        first_bar = int(turn.start % 48) // 4
        want = " | ".join(bars[first_bar:first_bar + 4])
        got_bars = []
        for k in range(4):
            b0 = turn.start + 4 * k
            got_bars.append(" ".join(str(s.chord) for s in spans if b0 <= s.start < b0 + 4))
        assert " | ".join(got_bars) == want, turn


def test_eight_bar_trades_run_across_choruses_and_sections_show():
    chart = load_tune(find_tune("rhythm-changes-bb"))
    f = TradingForm(chart, 8)
    assert [f.position(b).section for b in (0, 32, 64, 96, 128)] == ["A1", "A2", "B", "A2", "A1"]
    p = f.position(70.0)
    assert (p.chorus, p.bar, p.beat, p.section, p.owner, p.turn, p.turn_bar) == (1, 18, 3, "B", PLAYER, 2, 2)
    assert p.label() == "chorus 1  bar 18 [B]  beat 3  player's bar 2"
    blues8 = TradingForm(BLUES, 8)
    assert blues8.turn(1).start == 32 and blues8.position(48).chorus == 2 and blues8.position(48).owner == PARTNER


@pytest.mark.parametrize("n", [0, -2])
def test_bad_trade_bars(n):
    with pytest.raises(ValueError, match="trade_bars"):
        TradingForm(BLUES, n)


def test_the_count_in_is_two_bars_up_to_80_bpm_inclusive():
    """At exactly 80 bpm the player gets two bars of clicks to feel the pulse, from 81 one."""
    assert count_in_bars(80) == 2 and count_in_bars(80.0) == 2
    assert count_in_bars(80.5) == 1 and count_in_bars(81) == 1


def test_a_waltz_counts_in_with_bars_of_three():
    """A 3/4 tune counts in with three clicks a bar: four a bar put bar 1 on the wrong beat."""
    waltz = parse_chart("C | G7 | G7 | C", 3)
    f = TradingForm(waltz, 2, count_in=2)
    assert f.start == -6 and f.count_in_beats() == [-6, -5, -4, -3, -2, -1]
    assert (f.position(-6).bar, f.position(-6).beat) == (1, 1) and (f.position(-3).bar, f.position(-3).beat) == (2, 1)
    assert TradingForm(waltz, 2, count_in=1).start == -3

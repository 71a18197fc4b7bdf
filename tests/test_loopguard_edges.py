"""LoopGuard edge cases a mutation audit found untested (each test fails under its mutation): a loop is not gone while a note just sent may still come back, nor after less than `CLEAR_S` of notes without an echo."""

from improv.live.loopguard import LoopGuard

NOTE = [0x91, 60, 90]


def looping_guard():
    """A guard that has heard eight note echoes in 0.35 s (a loop); the last echo at 0.352 s."""
    g = LoopGuard()
    for i in range(8):
        t = i * 0.05
        g.sent(bytes(NOTE), t)
        assert g.take_echo(NOTE, t + 0.002)
        g.echo_heard(NOTE, t + 0.002)
    assert g.looping
    return g


def test_a_note_sent_after_a_quiet_spell_does_not_end_the_loop_before_its_echo_could_return():
    """Catches the echo's grace left out of gone(): after the partner rested, its next note made the guard say "loop gone" at once, then the echo came back round."""
    g = looping_guard()
    g.sent(bytes(NOTE), 5.0)
    assert not g.gone(5.001)
    assert g.take_echo(NOTE, 5.002) and not g.gone(5.1)


def test_half_a_second_of_notes_without_an_echo_does_not_end_the_loop():
    """Catches CLEAR_S shortened: one echo missing for a moment ended the loop and its echoes were passed through again."""
    g = looping_guard()
    g.sent(bytes(NOTE), 0.85)  # 0.5 s after the last echo; its own echo is late
    assert not g.gone(0.9)
    g.sent(bytes(NOTE), 1.5)  # over a second of notes with none back: gone
    assert g.gone(1.6) and not g.looping

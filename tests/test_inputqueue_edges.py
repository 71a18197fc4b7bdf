"""InputQueue edge cases a mutation audit found untested (each test fails under its mutation): a release stamped alike with the note-on before it, passthrough order after the conductor took some, and a velocity-0 note-on not being a key played."""

from improv.live.clock import ManualClock
from improv.live.inputqueue import InputQueue, is_note_on


def test_a_release_stamped_like_its_note_on_comes_after_it():
    """Catches a tie between the queue and the releases' side queue going to the release: a flicked note's note-off (same stamp, queue full) came before its note-on and the note hung."""
    q = InputQueue(ManualClock(1.0), maxsize=1)
    q.push([0x90, 60, 100])
    q.push([0x80, 60, 0])  # the queue is full: it waits beside it, stamped alike
    assert [q.get_nowait()[1], q.get_nowait()[1]] == [[0x90, 60, 100], [0x80, 60, 0]]


def test_passthrough_sends_what_waits_in_arrival_order_across_both_queues():
    """Catches start_thru sending the queue before the releases: a key pressed again after its release waited was passed through pressed, then released, and went silent while held."""
    clock = ManualClock(1.0)
    q = InputQueue(clock, maxsize=2)
    q.push([0x90, 60, 100]); clock.set(2.0)
    q.push([0x90, 62, 100]); clock.set(3.0)
    q.push([0x80, 60, 0]); clock.set(4.0)  # the queue is full: the release waits beside it
    assert q.get_nowait() == (1.0, [0x90, 60, 100])
    q.push([0x90, 60, 100])  # the key again, into the room the conductor made
    sent = []
    q.start_thru(lambda data, t: sent.append((t, data)))
    assert sent == [(2.0, [0x90, 62, 100]), (3.0, [0x80, 60, 0]), (4.0, [0x90, 60, 100])]


def test_a_velocity_0_note_on_is_not_a_key_played():
    """Catches is_note_on counting velocity 0: a key let go while the partner warmed up set bar 1 as if played."""
    assert is_note_on([0x90, 60, 1]) and not is_note_on([0x90, 60, 0]) and not is_note_on([0x80, 60, 64])


def test_releases_beyond_the_side_queue_are_counted_and_the_rest_kept_in_order():
    """The side queue was as long as the queue and let its oldest release go uncounted (a
    note hung in the recording with `dropped` 0): it now keeps eight times as many, and one
    let go is counted."""
    from improv.live.inputqueue import RELEASES_KEPT

    q = InputQueue(ManualClock(0.0), maxsize=2)
    for p in (60, 62):
        q.push([0x90, p, 100])
    offs = [[0x80, 40 + k, 0] for k in range(RELEASES_KEPT * 2 + 1)]
    for data in offs:
        q.push(data)
    assert q.dropped == 1
    got = []
    q.drain(lambda t, data: got.append(data))
    assert got == [[0x90, 60, 100], [0x90, 62, 100]] + offs[1:]

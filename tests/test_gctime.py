"""Python's collector kept off the timed paths (improv/gctime.py)."""

import gc
import weakref

import pytest

from improv import gctime


class Node:
    def __init__(self):
        self.me = self  # a cycle: only the collector frees it


@pytest.fixture
def collector_state():
    was = gc.isenabled()
    yield
    gc.unfreeze()
    gc.enable() if was else gc.disable()


def collections():
    """Generations of the collections run from now on (a list that fills as they run)."""
    seen = []

    def note(phase, info):
        if phase == "stop":
            seen.append(info["generation"])

    gc.callbacks.append(note)
    return seen, lambda: gc.callbacks.remove(note)


def test_settle_frees_the_set_ups_cycles_then_freezes_the_rest_and_release_gives_it_back(collector_state):
    kept, dropped = Node(), Node()
    gone = weakref.ref(dropped)
    del dropped
    gctime.settle()
    assert gone() is None, "garbage of the set-up must be collected before the freeze, not frozen with it"
    assert gc.get_freeze_count() > 0
    seen, stop = collections()
    try:
        gc.collect()
    finally:
        stop()
    assert seen == [2]
    gctime.release()
    assert gc.get_freeze_count() == 0
    assert kept.me is kept


def test_an_idle_collector_turns_automatic_collection_off_and_collects_when_idle_once_due(collector_state):
    c = gctime.IdleCollector()
    assert not gc.isenabled()
    gc.collect()  # (counts from zero)
    seen, stop = collections()
    try:
        c.idle()
        assert seen == [], "nothing made since the last collection: nothing to do"
        hold = [Node() for _ in range(gc.get_threshold()[0] + 10)]
        assert seen == [], "no automatic collection while work is under way"
        c.busy()
        assert seen == [], "a little overdue with work waiting: the work goes first"
        c.idle()
        assert seen == [1], "idle and due: the young generations"
        hold += [Node() for _ in range(gctime.IdleCollector.BACKLOG * gc.get_threshold()[0] + 10)]
        c.busy()
        assert seen == [1, 1], "far overdue: collected even with work waiting, so nothing grows unbounded"
    finally:
        stop()
    del hold


def test_every_tenth_collection_of_an_idle_collector_is_a_full_one(collector_state):
    c = gctime.IdleCollector()
    seen, stop = collections()
    try:
        for _ in range(gctime.IdleCollector.FULL_EVERY):
            [Node() for _ in range(gc.get_threshold()[0] + 10)]  # (garbage: counted until collected)
            c.idle()
    finally:
        stop()
    assert seen == [1] * (gctime.IdleCollector.FULL_EVERY - 1) + [2]


def test_a_dropped_cycle_is_freed_by_the_idle_collection(collector_state):
    c = gctime.IdleCollector()
    gone = weakref.ref(Node())
    assert gone() is not None, "automatic collection is off: the cycle waits"
    [Node() for _ in range(gc.get_threshold()[0] + 10)]
    c.idle()
    assert gone() is None

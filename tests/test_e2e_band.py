"""End to end over a real JACK server: an external MIDI clock (100 bpm, then 140), sent from
another process as a DAW's is, drives `improv jam` trading with the band and the default
partner; the band's onsets land on the clock's beat grid, the partner plays in its own bars
only; Stop silences at once."""

import os
import re
import time

import pytest

from improv.core.listen.midiclock import tick_time
from improv.bench.jackprobe import jack_unavailable
from jackutil import note_dropped

pytestmark = pytest.mark.jack

CHORDS = "F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | D7 | Gm7 | C7 | F7 D7 | Gm7 C7"


def beat_grid(sent, due, ticks):
    """When each song beat of the clock reached the listener: its beat tick's due time (the
    clock's schedule, as a DAW's, not when this test's busy sender got each tick out) plus
    the median of the ticks' arrival after their due time (transport, and how late this
    sender runs on a busy machine).

    Each arrival is matched to the sent tick nearest in time (ticks are 18 ms or more apart,
    transport takes a period or two). None if over 5 % of the ticks are lost.
    """
    sent_t = [t for t, d in sent if d[0] == 0xF8]
    if not sent_t or len(ticks) < 0.95 * len(sent_t):
        return None
    arrived, j = {}, 0
    for t in ticks:
        while j + 1 < len(sent_t) and abs(sent_t[j + 1] - t) < abs(sent_t[j] - t):
            j += 1
        arrived[j] = t
    delays = sorted(t - due[i] for i, t in arrived.items())  # transport, and the sender's own lateness
    delay = delays[len(delays) // 2]
    return [due[k] + delay for k in range(0, len(due), 24)]


@pytest.fixture
def jack():
    why = jack_unavailable()
    if why:
        pytest.skip(why)


def test_external_clock_grid_tempo_change_and_stop(jack, tmp_path):
    """`improv jam` as a user runs it (its own process, the default partner) follows a clock
    sent from another process, as a DAW's is."""
    from improv.bench.jackprobe import Listener, Player
    from improv.bench.jamprocess import JamProcess

    tag = f"{os.getpid()}-{time.monotonic_ns() % 100000}"  # unique names: stale JACK clients happen
    src, listen = Player(f"e2e-clock-{tag}", f"clk-{tag}"), Listener(f"e2e-listen-{tag}", f"lis-{tag}")
    # the DAW's bar 1 is the tune's (the player's bar, 4 beats), then the partner's bar (4) at
    # 100 -> change -> 140 (no count-in of improv's own: the DAW counts in itself)
    # Start, then the first tick (the downbeat) 1 ms later, the least MIDI asks and what DAWs send:
    # improv plays bar 1's downbeat at the Start (see ClockFollower._guess_line)
    events = [(0.0, [0xFA])]
    t_change = tick_time(0.001, 100, 24 * 10)
    events += [(tick_time(0.001, 100, k), [0xF8]) for k in range(24 * 10)]
    events += [(tick_time(t_change, 140, k), [0xF8]) for k in range(24 * 9)]
    t_stop = tick_time(t_change, 140, 24 * 9) - 0.02
    events += [(t_stop, [0xFC])]
    extra = ["--chords", CHORDS, "--trade-bars", "1", "--bass", "--comp", "--clock", "external",
             "--clock-in", f"clk-{tag}"]
    try:
        with JamProcess(tmp_path, duration=t_stop + 30, extra=extra, record=False) as jam:
            pb = jam.patchbay
            period_ms = pb.period_ms
            pb.connect(f"e2e-clock-{tag}:clk-{tag}", f"e2e-listen-{tag}:lis-{tag}")
            pb.connect(jam.jam_out, f"e2e-listen-{tag}:lis-{tag}")
            deadline = time.monotonic() + 30
            while "following MIDI clock" not in jam.stderr() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert "following MIDI clock" in jam.stderr(), jam.stderr()[-2000:]
            time.sleep(0.5)  # the jam's partner and band are up once it listens for the clock
            start = time.perf_counter() + 0.3
            src.play(events, start=start)
            listen.wait_quiet(0.3, timeout=3)
            assert jam.stop(timeout=10) == 0, jam.stderr()[-2000:]
            summary = jam.stderr()
    finally:
        src.close()
    # the partner drafts its turn in the player's: on a DAW's clock too (its tempo, fitted again on
    # every tick, made a turn's job differ from its draft, and every answer was decoded again)
    drafted = re.search(r"\((\d+) drafted in your rests\)", summary)
    assert drafted and int(drafted.group(1)) >= 1, summary[-2000:]
    ticks = sum(d[0] == 0xF8 for _, d in src.sent)
    heard = sum(a.data[0] == 0xF8 for a in listen.arrivals)
    listen.close()
    if heard != ticks:
        note_dropped(f"the listener got {heard} of {ticks} clock ticks")
    arrivals = listen.arrivals
    due = [start + t for t, d in events if d[0] == 0xF8]
    beat_times = beat_grid(src.sent, due, [a.t for a in arrivals if a.data[0] == 0xF8])
    if beat_times is None:  # the reference grid itself is broken: nothing can be measured against it
        pytest.skip("JACK lost more than 5 % of the clock ticks on the way to the listener "
                    "(server overloaded); the beat grid cannot be measured")
    stop_t = next(a.t for a in arrivals if a.data[0] == 0xFC)
    errors, partner, bass = [], [], 0
    for a in arrivals:
        if a.data[0] & 0xF0 != 0x90 or a.data[2] == 0:
            continue
        ch = a.data[0] & 0x0F
        assert a.t <= stop_t + period_ms / 1000 + 0.003  # nothing starts after Stop
        if ch == 1:  # the partner: where in the song it plays (beats, between the clock's beats)
            i = max(0, min(len(beat_times) - 2, next((j for j, t in enumerate(beat_times) if t > a.t),
                                                      len(beat_times) - 1) - 1))
            partner.append(i + (a.t - beat_times[i]) / (beat_times[i + 1] - beat_times[i]))
        elif ch == 3:  # the bass: on the clock's beats
            k = min(range(len(beat_times)), key=lambda i: abs(beat_times[i] - a.t))
            errors.append(abs(a.t - beat_times[k]) * 1000.0)
            bass += 1
    assert bass >= 12 and partner, (bass, partner)
    # the partner plays only in its own bars: song beats 4-7 and 12-15 (the player's 0-3, 8-11, 16-19)
    assert all(3.95 <= b < 8.0 or 11.95 <= b < 16.0 for b in partner), partner
    errors.sort()
    median, p90 = errors[len(errors) // 2], errors[int(0.9 * (len(errors) - 1))]
    print(f"onset error vs the clock's beats: median {median:.2f} ms, p90 {p90:.2f} ms, max {errors[-1]:.2f} ms, "
          f"{len(errors)} onsets, JACK period {period_ms:.2f} ms")
    # The typical onset within a JACK period (plus 2 ms) of the clock's beat: a band off the
    # clock by a tick (18-25 ms at these tempos) or drifting fails that. A busy shared machine
    # (CI is one) makes a few onsets late by a scheduling slice: 2 of 14 were 6 ms late in a
    # CI run whose median was 2.8 ms, so 9 in 10 are held to half a tick at 140 bpm (8.9 ms)
    # and every one to well under a tick.
    half_tick_ms = 0.5 * 60_000.0 / (140 * 24)
    assert median <= 2.0 + period_ms, (median, p90, errors[-5:])
    assert p90 <= half_tick_ms, (median, p90, errors[-5:])
    assert errors[-1] <= 15.0, errors[-5:]
    sounding = set()  # Stop left nothing hanging
    for a in arrivals:
        kind = a.data[0] & 0xF0
        if kind == 0x90 and a.data[2] > 0:
            sounding.add((a.data[0] & 0x0F, a.data[1]))
        elif kind in (0x80, 0x90):
            sounding.discard((a.data[0] & 0x0F, a.data[1]))
    assert not sounding


def test_a_daw_that_quits_and_comes_back_is_followed_again(jack, tmp_path):
    """The DAW quit mid-song and was relaunched: improv said only "clock stopped: silence",
    never connected to the new DAW's port, and stayed silent after its Play. Now it says the
    clock input is gone, connects again when it is back, and the band plays on its Play."""
    from improv.bench.jackprobe import Player
    from improv.bench.jamprocess import JamProcess

    tag = f"{os.getpid()}-{time.monotonic_ns() % 100000}"
    client, port = f"e2e-daw-{tag}", f"clk-{tag}"

    def song(beats):
        return [(0.0, [0xFA])] + [(tick_time(0.001, 120, k), [0xF8]) for k in range(24 * beats)]

    def wait_log(jam, text, timeout=10.0):
        deadline = time.monotonic() + timeout
        while text not in jam.stderr() and time.monotonic() < deadline:
            time.sleep(0.05)
        return text in jam.stderr()

    extra = ["--chords", "F7 | Bb7", "--bass", "--no-record", "--clock", "external", "--clock-in", port]
    daw = Player(client, port)
    try:
        with JamProcess(tmp_path, duration=60, extra=extra, record=False) as jam:
            assert wait_log(jam, "following MIDI clock", 30), jam.stderr()[-2000:]
            time.sleep(0.5)
            daw.play(song(4))
            daw.close()  # the DAW quits
            daw = None  # (a closed client is not closed again: rtmidi crashes)
            assert wait_log(jam, "is gone"), jam.stderr()[-2000:]
            daw = Player(client, port)  # and comes back
            assert wait_log(jam, "is back: press play"), jam.stderr()[-2000:]
            back = time.perf_counter()
            daw.play(song(4))
            jam.listener.wait_quiet(0.3, timeout=3)
            bass_after = [a for a in jam.listener.arrivals if a.t > back and a.channel == 4 and a.is_note_on]
            assert jam.stop(timeout=10) == 0, jam.stderr()[-2000:]
            log = jam.stderr()
    finally:
        if daw is not None:
            daw.close()
    assert len(bass_after) >= 3, log[-2000:]  # the band plays again on the new DAW's Play

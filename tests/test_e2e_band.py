"""End to end over a real JACK server: an external MIDI clock (100 bpm, then 140) drives
trading with the band and the default partner in its worker process; the band's onsets land
on the clock's beat grid, the partner plays in its own bars only; Stop silences at once."""

import os
import threading
import time
from dataclasses import replace

import pytest

from improv.config import Config
from improv.core.theory.chart import parse_chart
from improv.core.listen.midiclock import tick_time
from improv.bench.jackprobe import jack_unavailable
from jackutil import note_dropped

pytestmark = pytest.mark.jack

BLUES = parse_chart("F7 | Bb7 | F7 | Cm7 F7 | Bb7 | Bdim7 | F7 | D7 | Gm7 | C7 | F7 D7 | Gm7 C7")


def beat_grid(sent, ticks):
    """When each song beat reached the listener: tick 24k of the clock source's ticks.

    Each tick that arrived is matched to the sent tick nearest in time (ticks are 18 ms
    or more apart, transport takes a period or two); a beat tick lost on the way is put at
    its send time plus the median transport time. None if over 5 % of the ticks are lost.
    """
    sent_t = [t for t, d in sent if d[0] == 0xF8]
    if not sent_t or len(ticks) < 0.95 * len(sent_t):
        return None
    arrived, j = {}, 0
    for t in ticks:
        while j + 1 < len(sent_t) and abs(sent_t[j + 1] - t) < abs(sent_t[j] - t):
            j += 1
        arrived[j] = t
    delays = sorted(t - sent_t[i] for i, t in arrived.items())
    delay = delays[len(delays) // 2]
    return [arrived.get(k, sent_t[k] + delay) for k in range(0, len(sent_t), 24)]


@pytest.fixture
def jack():
    why = jack_unavailable()
    if why:
        pytest.skip(why)


@pytest.mark.xfail(strict=False, reason=(
    "a known gap: ticks held up and delivered together (a JACK period run late) read as a tempo "
    "change in ClockFollower (two off-line ticks in a row restart the tempo fit from the burst), "
    "so the band's notes go out late and are dropped; on the CI VM that happens in most runs"))
def test_external_clock_grid_tempo_change_and_stop(jack):
    from improv.live.clock import RealClock
    from improv.bench.jackprobe import Listener, Patchbay, Player
    from improv.live.midisync import open_clock_input
    from improv.live.ports import InputQueue, open_output
    from improv.live.session import Session

    clock = RealClock(1.0)
    cfg = Config()
    cfg = replace(cfg, band=replace(cfg.band, trade_bars=1, bass=True, comp=True, clock="external"),
                  record=replace(cfg.record, enabled=False), midi=replace(cfg.midi, api="jack"))
    tag = f"{os.getpid()}-{time.monotonic_ns() % 100000}"  # unique names: stale JACK clients happen
    ext = open_clock_input(clock, "jack", "", virtual=f"clock-in-{tag}")
    sink = open_output("jack", virtual=f"e2e-band-{tag}")
    src, listen = Player(f"e2e-clock-{tag}", f"clk-{tag}"), Listener(f"e2e-listen-{tag}", f"lis-{tag}")
    from improv.partner.process import ProcessPartner

    partner = ProcessPartner(cfg.responder.name)  # the partner a user gets
    session = Session(cfg, clock, InputQueue(clock), [sink], partner, chart=BLUES, external=ext, seed=4)
    try:
        with Patchbay("e2e-patch") as pb:
            period_ms = pb.period_ms
            clock_in = pb.wait_for(f"clock-in-{tag}", inputs=True, timeout=5)
            band_out = pb.wait_for(f"e2e-band-{tag}", inputs=False, timeout=5)
            clk = pb.wait_for(f"clk-{tag}", inputs=False, timeout=5)
            lis = pb.wait_for(f"lis-{tag}", inputs=True, timeout=5)
            pb.connect(clk, clock_in)
            pb.connect(clk, lis)
            pb.connect(band_out, lis)
            time.sleep(0.2)
            # count-in 1 bar (4 beats), player bar (4), partner bar (4) at 100 -> change -> 140
            events = [(0.0, [0xFA])]
            t_change = tick_time(0.05, 100, 24 * 10)
            events += [(tick_time(0.05, 100, k), [0xF8]) for k in range(24 * 10)]
            events += [(tick_time(t_change, 140, k), [0xF8]) for k in range(24 * 9)]
            t_stop = tick_time(t_change, 140, 24 * 9) - 0.02
            events += [(t_stop, [0xFC])]
            runner = threading.Thread(target=session.run, kwargs={"duration": t_stop + 1.0}, daemon=True)
            runner.start()
            start = time.perf_counter() + 0.3
            src.play(events, start=start)
            listen.wait_quiet(0.3, timeout=3)
            session.stop_reason = "done"
            runner.join(timeout=5)
    finally:
        session.close()
        ext.close()
        src.close()
    ticks = sum(d[0] == 0xF8 for _, d in src.sent)
    heard = sum(a.data[0] == 0xF8 for a in listen.arrivals)
    if ext.ticks != ticks or ext.follower.lost or heard != ticks:
        # (the follower places a lost tick once it has a tempo line, and a burst of late ones
        # can read as lost: either moves the beat by a tick, as a lost tick at the listener
        # moves the grid it is measured on)
        note_dropped(f"the session's clock input got {ext.ticks} of {ticks} ticks (and inferred "
                     f"{ext.follower.lost} lost), the listener {heard}")
    arrivals = listen.arrivals
    beat_times = beat_grid(src.sent, [a.t for a in arrivals if a.data[0] == 0xF8])
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
    # the partner plays only in its own bars: song beats 8-11 and 16-19 (count-in 0-3, player 4-7, 12-15)
    assert all(7.95 <= b < 12.0 or 15.95 <= b < 20.0 for b in partner), partner
    errors.sort()
    median, p90 = errors[len(errors) // 2], errors[int(0.9 * (len(errors) - 1))]
    print(f"onset error vs the clock's beats: median {median:.2f} ms, p90 {p90:.2f} ms, max {errors[-1]:.2f} ms, "
          f"{len(errors)} onsets, JACK period {period_ms:.2f} ms")
    # Within a JACK period (plus 2 ms) for 9 onsets in 10: a partner off the clock by a tick
    # (18-25 ms at these tempos) or drifting fails that. The rest may meet a busy shared
    # machine's hiccup (CI is one), so they are only held to well under a tick.
    assert p90 <= 2.0 + period_ms, (median, p90, errors[-5:])
    assert errors[-1] <= 15.0, errors[-5:]
    sounding = set()  # Stop left nothing hanging
    for a in arrivals:
        kind = a.data[0] & 0xF0
        if kind == 0x90 and a.data[2] > 0:
            sounding.add((a.data[0] & 0x0F, a.data[1]))
        elif kind in (0x80, 0x90):
            sounding.discard((a.data[0] & 0x0F, a.data[1]))
    assert not sounding

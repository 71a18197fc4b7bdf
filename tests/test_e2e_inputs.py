"""Two MIDI devices at once, end to end over JACK with the partner a user gets: a keyboard
and a pad controller beside it, each given with `--in` (improv/live/playerinputs.py). The
keys play a soloist's phrase as recorded while the pads keep time on channel 10; the call
is answered, both reach the synth and the recording; the pad controller unplugged mid-set
is said, and the keyboard plays on and is answered again. Two keyboards holding one key sound
it until the last lets go (improv/live/keymerge.py). A groove on the pads sets the tempo the
answer runs at."""

from __future__ import annotations

import signal
import time

import pytest

from improv.bench.jackprobe import Player, sleep_until, sounding_notes, unique
from jackutil import Jam, _notes, _track, check_transport, require_jam, wired
from test_drum_pads import groove_under_held_notes
from test_e2e_human import ANSWER, CALLS, events, level, pad_hits
from test_e2e_jack import wait_for_log

pytestmark = pytest.mark.jack


def play_both(keys: Player, pads: Player, key_events, pad_events, start: float) -> None:
    """Send each device's `(seconds, bytes)` at `start + seconds`, in one time order."""
    for offset, who, data in sorted([(t, keys, d) for t, d in key_events] + [(t, pads, d) for t, d in pad_events],
                                    key=lambda e: e[0]):
        sleep_until(start + offset)
        who.send(data)


def wire_all(jam: Jam, devices: list[Player]) -> None:
    """Wait until a probe from each device comes through the jam: all are wired."""
    deadline = time.monotonic() + 10
    for dev in devices:
        while time.monotonic() < deadline:
            mark = dev.send([0xB0, 7, 100])
            if jam.listener.wait(lambda a: any(x.t > mark and x.data == (0xB0, 7, 100) for x in a), 0.2):
                break


def answered_after(jam: Jam, t: float, timeout: float) -> bool:
    """A partner note (channel 2) reached the synth after `t`."""
    return jam.listener.wait(lambda a: any(x.t > t and x.channel == 2 and x.is_note_on for x in a), timeout=timeout)


def test_a_keyboard_and_a_pad_controller_play_at_once_and_one_unplugged_leaves_the_other(tmp_path):
    require_jam()
    call = CALLS["medium"]
    phrase = events(call["notes"])
    length = phrase[-1][0]
    hits = pad_hits(length)
    keys, pads = Player(unique("keys")), Player(unique("pads"))
    unplugged = False
    try:
        with Jam(tmp_path, duration=length * 2 + 40, in_port=None,
                 extra=["--seed", "5", "--in", keys.client, "--in", pads.client]) as jam:
            wait_for_log(jam, "jamming", timeout=30)
            wire_all(jam, [keys, pads])
            start = time.perf_counter() + 0.5
            play_both(keys, pads, phrase, hits, start)
            first = answered_after(jam, start + length, timeout=length + 10)
            time.sleep(2.0)  # (its answer plays on)
            pads.close()  # the pad controller unplugged
            unplugged = True
            gone = wait_for_log(jam, "is gone", timeout=10)
            time.sleep(max(0.0, gone + 2.0 - time.perf_counter()))
            again = time.perf_counter() + 0.3
            short = events([n for n in call["notes"] if n[0] < 3.0])  # (its first three seconds)
            keys.play(short, start=again)
            second = answered_after(jam, again + short[-1][0], timeout=20)
            time.sleep(2.0)
            rc = jam.stop(signal.SIGTERM, timeout=10)
            jam.listener.wait_quiet(0.2, timeout=2)
            arrivals = list(jam.listener.arrivals)
            recs, log = jam.recordings(), jam.stderr()
            sent = sorted(keys.sent + pads.sent, key=lambda s: s[0])
    finally:
        keys.close()
        if not unplugged:  # (a client is closed once)
            pads.close()
    assert rc == 0 and len(recs) == 1, log[-3000:]
    assert f"listening on MIDI inputs '{keys.client}:out' and '{pads.client}:out'" in log, log[-3000:]
    check_transport(sent, recs[0], arrivals)  # (each device's keys and pads came through and were recorded)
    assert first, f"the call played on two devices was not answered:\n{log[-3000:]}"
    drums = [a.data[1] for a in arrivals if a.channel == 10 and a.is_note_on]
    assert drums == [d[1] for _, d in hits if d[0] == 0x99], drums  # (from the pads, on the drum channel)
    assert f"MIDI input '{pads.client}:out' is gone" in log, log[-3000:]
    assert second, f"the keyboard was not answered after the pads were unplugged:\n{log[-3000:]}"
    assert not sounding_notes(arrivals), sounding_notes(arrivals)


def test_two_keyboards_holding_one_key_sound_it_until_the_last_lets_go(tmp_path):
    """Two keyboards, each given with --in, both hold middle C: the second strikes it again
    (its note-off first, so a synth that stacks voices hangs none), the first's release is
    held back, and the note sounds on the synth and in the recording until the second lets
    go. Before the merge, the first release ended it for both."""
    require_jam()
    one, two = Player(unique("keys")), Player(unique("keys"))
    try:
        extra = ["--seed", "5", "--in", one.client, "--in", two.client]
        with Jam(tmp_path, duration=40, in_port=None, extra=extra) as jam:
            wait_for_log(jam, "jamming", timeout=30)
            wire_all(jam, [one, two])
            start = time.perf_counter() + 0.3
            play_both(one, two, [(0.0, [0x90, 60, 90]), (1.0, [0x80, 60, 0])],
                      [(0.5, [0x90, 60, 70]), (2.0, [0x80, 60, 0])], start)
            jam.listener.wait(lambda a: any(x.t > start + 1.9 and x.is_note_off and x.data[1] == 60 for x in a), 3)
            time.sleep(0.5)
            rc = jam.stop(signal.SIGTERM, timeout=10)
            jam.listener.wait_quiet(0.2, timeout=2)
            arrivals = list(jam.listener.arrivals)
            recs, log = jam.recordings(), jam.stderr()
    finally:
        one.close()
        two.close()
    assert rc == 0 and len(recs) == 1, log[-3000:]
    c = [a for a in arrivals if a.channel == 1 and (a.is_note_on or a.is_note_off) and a.data[1] == 60
         and a.t > start - 0.1]
    kinds = ["on" if a.is_note_on else "off" for a in c]
    assert kinds == ["on", "off", "on", "off"], [(k, round(a.t - start, 3)) for k, a in zip(kinds, c)]
    assert c[1].t - start == pytest.approx(0.5, abs=0.1) and c[3].t - start == pytest.approx(2.0, abs=0.1), \
        [(k, round(a.t - start, 3)) for k, a in zip(kinds, c)]  # (struck again at 0.5, sounding on past 1.0 to 2.0)
    assert [kind for kind, key in _notes(_track(recs[0], "player")) if key == 60] == ["on", "off", "on", "off"]
    assert not sounding_notes(arrivals), sounding_notes(arrivals)


def test_a_groove_on_the_drum_pads_sets_the_tempo_the_answer_runs_at(tmp_path):
    """One keyboard with pads, as most have: a kick and snare groove at 84 bpm on the pads
    (channel 10, played with a human's scatter) under three whole notes on the keys, which
    alone say little of a tempo. The jam, told no tempo, answers at 84 bpm (or half or double
    it): the pads are the player's time. Before they were heard, it answered at 120."""
    require_jam()
    bpm, period = 84.0, 60.0 / 84.0
    events = groove_under_held_notes(bpm, seed=4, beats=22)
    with Jam(tmp_path, duration=40, extra=["--seed", "5"]) as jam:
        wait_for_log(jam, "jamming", timeout=30)
        wired(jam)
        start = time.perf_counter() + 0.5
        jam.player.play(events, start=start)
        end = start + 16 * period
        answered = answered_after(jam, end, timeout=15)
        time.sleep(2.0)
        rc = jam.stop(signal.SIGTERM, timeout=10)
        jam.listener.wait_quiet(0.2, timeout=2)
        arrivals, log = list(jam.listener.arrivals), jam.stderr()
    assert rc == 0 and answered, log[-3000:]
    said = ANSWER.findall(log)
    assert said, log[-3000:]
    heard = float(said[0][2])
    assert level(heard, bpm) is not None, f"the answer ran at {heard} bpm, the pads kept {bpm:g}:\n{log[-3000:]}"
    assert "the time you keep on them is followed" in log, log[-3000:]
    assert not sounding_notes(arrivals), sounding_notes(arrivals)

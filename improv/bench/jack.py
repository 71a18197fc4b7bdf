"""`improv bench`'s sections over a real `improv jam` (a subprocess) on JACK.

- passthrough: a player client plays into the jam; the same port also feeds a "direct"
  listener. Added latency = arrival through the jam's thru minus arrival over the direct
  JACK connection, message by message; the target is <= 1 ms p99 beyond one JACK period
  (the jam's output is written in the next process cycle at worst).
- flood: 2,000 messages a second for 60 s into the jam; its memory, what came through,
  what it dropped, whether it still answers, whether any note hangs. Run in a child
  process, so that a crash of the measuring clients costs that section only.
"""

from __future__ import annotations

import random
import re
import tempfile
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any, Callable

from improv.bench import jackprobe
from improv.bench.parts import TEMPO, summary
from improv.bench.jackprobe import Arrival, Listener, sleep_until, sounding_notes, unique
from improv.bench.jamprocess import JamProcess


# --- passthrough over a real jam -----------------------------------------------------------
def bench_passthrough(messages: int, responder: str, period_ms: float, phrase: int = 12,
                      rest_s: float = 0.8) -> dict[str, Any]:
    """Player -> jam thru -> listener, minus player -> listener direct, per message (ms).

    The player plays phrases of `phrase` notes with a rest of `rest_s` after each (more than
    the call-ending gap at the bench's tempo), so the partner reads each call, answers it,
    and yields when the player comes back: its work happens while the player plays."""
    with tempfile.TemporaryDirectory(prefix="improv-bench-") as tmp:
        seconds = messages * 0.03 + (messages // (2 * phrase) + 1) * rest_s + 10
        with JamProcess(Path(tmp), duration=seconds, record=False,
                        extra=["--tempo", f"{TEMPO:g}", "--responder", responder, "--seed", "1"]) as jam:
            direct = Listener(unique("bench-direct"))
            try:
                jam.patchbay.connect(f"{jam.player.client}:{jam.player.port_name}",
                                     f"{direct.client}:{direct.port_name}")
                time.sleep(0.5)
                rng = random.Random(5)
                sent = 0
                for i in range(messages // 2):
                    pitch, vel = 36 + i % 60, 1 + (i // 60) % 127  # unique for 7,620 notes
                    jam.player.send([0x90, pitch, vel])
                    time.sleep(0.008 + rng.random() * 0.01)
                    jam.player.send([0x80, pitch, vel])  # (release velocity: tells the offs apart)
                    time.sleep(0.008 + rng.random() * 0.01)
                    sent += 2
                    if (i + 1) % phrase == 0:
                        time.sleep(rest_s)  # the call ends: the partner answers
                jam.listener.wait(lambda a: sum(x.channel == 1 for x in a) >= sent, 3.0)
                direct.wait(lambda a: len(a) >= sent, 3.0)
                thru = [a for a in jam.arrivals(1) if a.kind in (0x80, 0x90)]
                sends = [Arrival(t, data) for t, data in jam.player.sent]
                added = pair_latency(direct.arrivals, thru)
                via_jam = pair_latency(sends, thru)
                via_direct = pair_latency(sends, direct.arrivals)
            finally:
                direct.close()
            rc = jam.stop()
            jam.listener.wait_quiet(0.3, 3.0)
            left = sounding_notes(jam.listener.arrivals)
            own = re.findall(r"passthrough p99 ([\d.]+) ms", jam.stderr())
            answers = re.findall(r"(\d+) answers?\b", jam.stderr())
    stats = summary(added)
    return {"sent": sent, "through": len(thru), "added_ms": stats,
            "beyond_period_p99_ms": (stats["p99"] - period_ms) if stats.get("n") else None,
            "send_to_arrival_via_jam_ms": summary(via_jam), "send_to_arrival_direct_ms": summary(via_direct),
            "jam_thru_in_process_p99_ms": float(own[-1]) if own else None,
            "partner": responder, "partner_answers": int(answers[-1]) if answers else None,
            "jam_exit": rc, "left_sounding": len(left)}


def pair_latency(earlier: list[Arrival], later: list[Arrival]) -> list[float]:
    """Match each note message of `later` to the same message in `earlier` (by kind, note
    and velocity, first come first served; a note-on with velocity 0 counts as a note-off);
    the differences in ms. The bench sends every (note, velocity) pair once, so a message
    lost on one path costs one sample, not a shifted pairing."""
    def key(a: Arrival) -> tuple[int, int, int]:
        return (0x90, a.data[1], a.data[2]) if a.is_note_on else (0x80, a.data[1], a.data[2])

    queues: dict[tuple[int, int, int], deque[float]] = defaultdict(deque)
    for a in earlier:
        if a.is_note_on or a.is_note_off:
            queues[key(a)].append(a.t)
    out = []
    for a in later:
        q = queues.get(key(a)) if (a.is_note_on or a.is_note_off) else None
        if q:
            out.append((a.t - q.popleft()) * 1000.0)
    return out


# --- flood -----------------------------------------------------------------------------------
def flood_messages(i: int, malformed: bool = False) -> list[list[int]]:
    """The i-th group of 10 flood messages: a note pair, controllers, bend, pressure, clock,
    active sensing, now and then a 256-byte sysex; with `malformed`, truncated and bad bytes."""
    pitch = 36 + i % 48
    group = [[0x90, pitch, 64], [0xB0, 1, i % 128], [0xE0, i % 128, 64], [0xD0, i % 128], [0xF8],
             [0x80, pitch, 0], [0xB0, 74, (i * 7) % 128], [0xA0, pitch, 30], [0xFE],
             [0xF0, 0x7D] + [i % 128] * 253 + [0xF7] if i % 10 == 0 else [0xB0, 11, 100]]
    if malformed:
        group[7] = [[0x90, pitch], [0x90], [60, 100], [0xF0, 1, 2], [0x90, 200, 255], [0xFF], [0xF7],
                    [0xC0], [0xB0, 64]][i % 9]
    return group


def flood(player: jackprobe.Player, rate: float, seconds: float, malformed: bool = False,
          on_second: Callable[[int], None] | None = None) -> int:
    """Send `rate` messages/s for `seconds` s, in groups of 10 on absolute deadlines; the count.

    The note-ons of the flood all get their note-offs; `on_second(k)` is called each second.
    """
    groups = int(rate * seconds / 10)
    start = time.perf_counter() + 0.01
    sent, next_second = 0, 1
    for i in range(groups):
        sleep_until(start + i * 10 / rate, spin_s=0.0)
        for msg in flood_messages(i, malformed):
            try:
                player.send(msg)
                sent += 1
            except (ValueError, OverflowError):
                pass
        if on_second and time.perf_counter() - start >= next_second:
            on_second(next_second)
            next_second += 1
    return sent


SUMMARY = re.compile(r"dropped (\d+) \(queue (\d+), unreadable (\d+), late (\d+)\)")


def dropped_from_log(text: str) -> dict[str, int] | str:
    """The jam's closing counts {"dropped", "queue", "unreadable", "late"}, or "not logged"."""
    found = SUMMARY.findall(text)
    if not found:
        return "not logged"
    return dict(zip(("dropped", "queue", "unreadable", "late"), (int(x) for x in found[-1])))


def channel_messages(group: list[list[int]]) -> int:
    return sum(1 for m in group if m and 0x80 <= m[0] < 0xF0)


def bench_flood(rate: float, seconds: float, responder: str) -> dict[str, Any]:
    """`rate` msg/s for `seconds` s into a jam; wait for its backlog to drain; every key
    lifted; then a call; then SIGTERM.

    Reports what came back through thru (channel messages only: thru drops the rest), how
    long the backlog took to drain, the thru notes left sounding by the flood (note-offs the
    jam dropped), the jam's memory and its own dropped counts, whether it answered a call
    afterwards, and any note left sounding once it exited.
    """
    with tempfile.TemporaryDirectory(prefix="improv-bench-") as tmp:
        with JamProcess(Path(tmp), duration=seconds + 60, record=False,
                        extra=["--tempo", f"{TEMPO:g}", "--responder", responder]) as jam:
            time.sleep(0.5)
            rss, own = [jam.rss_kb()], [jam.rss_kb(own=True)]

            def sample(_second: int) -> None:
                rss.append(jam.rss_kb())
                own.append(jam.rss_kb(own=True))

            sent = flood(jam.player, rate, seconds, on_second=sample)
            ended = time.perf_counter()
            expected = sum(channel_messages(flood_messages(i)) for i in range(int(rate * seconds / 10)))
            jam.listener.wait_quiet(0.5, 30.0)  # the jam works through its backlog
            quiet = [a.t for a in jam.arrivals(1)]
            drained = (quiet[-1] - ended) if quiet and quiet[-1] > ended else 0.0
            through = len(quiet)
            hanging = sounding_notes(jam.arrivals(1))
            for pitch in range(128):  # lift every key, so that the call below can end
                jam.player.send([0x80, pitch, 0])
            time.sleep(2.5)  # the flood's last call ends and its answer starts; the call below interrupts it
            mark = time.perf_counter()
            call = [(0.0, [0x90, 65, 90]), (0.45, [0x80, 65, 0]), (0.5, [0x90, 69, 90]), (0.95, [0x80, 69, 0]),
                    (1.0, [0x90, 72, 90]), (1.45, [0x80, 72, 0]), (1.5, [0x90, 75, 90]), (1.9, [0x80, 75, 0])]
            jam.player.play(call, start=mark)
            answered = jam.listener.wait(  # after the call's last release + the gap (0.5 s)
                lambda a: any(x.t > mark + 2.4 and x.channel == 2 and x.is_note_on for x in a), 8.0)
            alive = jam.proc.poll() is None
            rc = jam.stop()
            jam.listener.wait_quiet(0.3, 3.0)
            log = jam.stderr()
            left = sounding_notes(jam.listener.arrivals)
    summary_line = [line for line in log.splitlines() if line.startswith("session ended")]
    return {"rate": rate, "seconds": seconds, "sent": sent, "channel_messages_sent": expected,
            "through_thru": through, "backlog_drained_s": drained, "hanging_after_flood": len(hanging),
            "rss_kb_start": rss[0], "rss_kb_max": max(rss), "rss_kb_end": rss[-1],
            "own_kb_start": own[0], "own_kb_max": max(own), "own_kb_end": own[-1],  # without JACK's shared memory
            "alive_after": alive, "answered_after": answered, "jam_exit": rc,
            "jam_counts": dropped_from_log(log), "jam_summary": summary_line[-1] if summary_line else "",
            "left_sounding": len(left), "left_sounding_notes": sorted(left),
            "jam_log_tail": [line for line in log.splitlines() if not line.startswith(f"{TEMPO:g} bpm")][-12:]}


def bench_flood_isolated(rate: float, seconds: float, responder: str) -> dict[str, Any]:
    """`bench_flood` in a child process, so that a crash of the measuring clients (python-
    rtmidi's JACK threads under a flood) costs this section only and is reported."""
    from improv.bench.isolate import isolated

    return isolated("improv.bench.jack", "bench_flood", {"rate": rate, "seconds": seconds, "responder": responder},
                    timeout=seconds + 180, what="flood")

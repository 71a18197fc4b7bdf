"""Resumed vs ordinary calls' answers with the default partner (model, worker process), real clock."""
import logging, re, sys, threading, time, statistics
from improv.config import Config, override
from improv.live.clock import RealClock
from improv.live.inputqueue import InputQueue
from improv.live.session import Session
from improv.partner.process import ProcessPartner

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2] / "tests"))
from test_session import FakeSink

N = int(sys.argv[1]) if len(sys.argv) > 1 else 4
cfg = override(Config(), "timing", tempo=120.0, follow=False)
clock = RealClock(spin_ms=0.5)
inq = InputQueue(clock)
sink = FakeSink(clock)
partner = ProcessPartner("model")
said, warned = [], []
class H(logging.Handler):
    def emit(self, r): warned.append((clock.now(), r.getMessage()))
logging.getLogger("improv").addHandler(H()); logging.getLogger("improv").setLevel(logging.WARNING)
s = Session(cfg, clock, inq, [sink], partner, chart=None, threaded=True)
s.say = lambda x: said.append((clock.now(), x))
SPB = 0.5
PITCHES = [65, 67, 69, 70, 72, 74, 72, 70, 69, 67, 65, 64]
CYCLE = 12.0
# where the player plays on before the answer's beat (beats): varied, or "worst" (75 ms left between the
# call's end noticed and the answer's beat: `measure.py N worst`)
OFFS = [0.465] if "worst" in sys.argv[2:] else [0.25, 0.35, 0.42, 0.45, 0.47, 0.30]

def script():
    ev = []
    for c in range(2 * N):
        t0 = 1.0 + c * CYCLE
        pitches = PITCHES if c % 2 == 0 else list(reversed(PITCHES))
        for i, p in enumerate(pitches):
            ev.append((t0 + i * 0.25, [0x90, p, 90])); ev.append((t0 + i * 0.25 + 0.2, [0x80, p, 0]))
        if c % 2 == 1:  # the last note off at t0+2.95 -> noticed 3.45 (beat 6.9 of the cycle) -> answer at 3.5
            on = t0 + 3.46
            ev.append((on, [0x90, 77, 100])); ev.append((on + OFFS[(c // 2) % len(OFFS)], [0x80, 77, 0]))
    return sorted(ev)

def player():
    while not s.t0:
        time.sleep(0.001)
    for at, data in script():
        clock.sleep_until(s.t0 + at)
        inq.push(data)

th = threading.Thread(target=player, daemon=True); th.start()
end = 1.0 + 2 * N * CYCLE
reason = s.run(until=lambda: s.t0 and clock.now() > s.t0 + end)
th.join()
s_t0 = s.t0
for t, x in said:
    if "heard call" in x or "answer" in x:
        print(f"{t - s_t0:7.3f}  {x}")
for t, x in warned:
    print(f"{t - s_t0:7.3f}  WARN {x}")
res = {"ordinary": [], "resumed": []}
heard = {}
for t, x in said:
    m = re.search(r"heard call (\d+):.*?(\(call \d+ resumed\))?; answering", x)
    if m:
        heard[int(m.group(1))] = bool(m.group(2))
    m = re.search(r"answer (\d+): .* ready in ([\d.]+) ms( \(drafted)?", x)
    if m:
        n = int(m.group(1))
        res["resumed" if heard.get(n) else "ordinary"].append((float(m.group(2)), bool(m.group(3))))
for k, v in res.items():
    ms = [a for a, _ in v]
    print(k, "n", len(v), "median ready ms", round(statistics.median(ms), 1) if ms else None, "all", [round(a, 1) for a in ms],
          "drafted", sum(d for _, d in v))
print("left out total", s.exchange.left_out, "yields", s.yields, "answers", s.answers, "calls", s.exchange.calls)

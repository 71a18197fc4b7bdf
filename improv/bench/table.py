"""The README's table of measured figures, made from committed `improv bench --json` runs.

Every figure is the median over the runs of that run's figure (its median, or its p99),
with the spread (lowest-highest) beside it, so no single lucky run is published. The JSON
files live in `figures/` (see figures/README.md for the commands that made them); the
README holds the table between `<!-- figures:begin -->` and `<!-- figures:end -->`, and a
test regenerates it from the JSON, so the two cannot drift apart.

    improv bench --table figures/bench-*.json              # print the table
    improv bench --table figures/bench-*.json --readme README.md   # rewrite the README's block

A run of `improv bench --startup --json` given among them fills the start-up block
(`<!-- startup:begin -->` ... `<!-- startup:end -->`) instead.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from improv.errors import ConfigError

BEGIN, END = "<!-- figures:begin -->", "<!-- figures:end -->"
STARTUP_BEGIN, STARTUP_END = "<!-- startup:begin -->", "<!-- startup:end -->"


@dataclass(frozen=True)
class Row:
    """One line of the table.

    Attributes:
        what: the figure, in words.
        path: where its stats are in a run's JSON ("a.b.c").
        unit: "ms", "s" or "%" (a share: the JSON holds a fraction).
        target: the target, in words ("" = a reference line).
        met: given the row's values (median over runs of each stat, and the runs' JSON),
            whether the target is met; None for no target.
    """

    what: str
    path: str
    unit: str = "ms"
    target: str = ""
    met: Callable[[dict[str, float], list[dict]], bool] | None = None
    get: Callable[[Any], dict[str, float] | None] | None = None  # the stats from what `path` holds


def _get(d: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _every_run(runs: list[dict], path: str, ok: Callable[[dict], bool], has: str) -> bool:
    """Whether `ok` holds in every run whose `path` holds figures (`has` in it): a bound or an
    alive-after is broken by one run, where the median over the runs would hide it."""
    return all(ok(s) for s in (_get(r, path) for r in runs) if isinstance(s, dict) and has in s)


def _period_ms(runs: list[dict]) -> float:
    return statistics.median(r["jack"]["period_ms"] for r in runs if "period_ms" in r.get("jack", {}))


ROWS = [
    Row("4-bar answer ready, model partner in its worker process: all answers (embrace mode; one call in "
        "three with a clear mistake, one in three a trading turn)", "answer_model.process.ready_ms",
        target="p99 ≤ 20 ms", met=lambda v, runs: v["p99"] <= 20.0),
    Row("  … re-harmonised answers only", "answer_model.process.by_kind_ms.reharmonised"),
    Row("  … trading answers only", "answer_model.process.by_kind_ms.trading"),
    Row("  … the partner's compute alone (no pipe; each call answered straight after its read, no rest before it)",
        "answer_model.in_process.ready_ms"),
    Row("  … drafted in the player's rest (the call ended where the player stopped: the jam hands the partner "
        "that call with the rest's read)", "answer_model.process_drafted.ready_ms"),
    Row("model's first note, streamed (plan + first decoded note)", "answer_model.in_process.first_note_ms",
        target="p99 ≤ 5 ms", met=lambda v, runs: v["p99"] <= 5.0),
    Row("4-bar answer ready, Markov partner in its worker process", "answer_markov.process.ready_ms",
        target="p99 ≤ 20 ms", met=lambda v, runs: v["p99"] <= 20.0),
    Row("partner timing (send − deadline), 2,000 notes, the model partner answering non-stop in its process",
        "timing.scheduler_error_ms", target="p99 ≤ 1 ms, none dropped late",
        met=lambda v, runs: v["p99"] <= 1.0 and all(_get(r, "timing.dropped") == 0 for r in runs)),
    Row("  same, arrival at a JACK listener (adds up to one period of output quantisation)",
        "timing.arrival_error_ms"),
    Row("  same, no partner computing (the machine's own noise)", "timing_idle.scheduler_error_ms"),
    Row("passthrough added by improv beyond a direct JACK connection, 2,000 messages, the model partner "
        "reading and answering", "passthrough.added_ms", target="p99 ≤ one period + 0.5 ms",
        met=lambda v, runs: v["p99"] <= _period_ms(runs) + 0.5),
    Row("a killed partner answers again (worker replaced from the session so far)", "restart.answers_again_s",
        unit="s", target="≤ 3 s", met=lambda v, runs: v["max"] <= 3.0),
    Row("audio callback, 32 voices, share of its block", "synth.callback_32", unit="%", target="≤ 25 %",
        met=lambda v, runs: v["p99"] <= 0.25),
    Row("key to sound: a note-on into the jam -> first sound on its synth's JACK output (3 runs of up to 150 notes)",
        "key_to_sound", target="p99 ≤ one period + one block + 1 ms",
        get=lambda k: {"median": k["p50_median_ms"], "p99": k["p99_median_ms"], "max": k["p99_spread_ms"][1],
                       "target": k["target_p99_ms"]} if "p99_median_ms" in k else None,
        met=lambda v, runs: v["p99"] <= v["target"]),
    Row("render of a generated 1-hour band session: peak memory", "render_memory", unit="MB", target="≤ 200 MB",
        get=lambda r: {"median": r["peak_rss_mb"]["median"], "max": r["peak_rss_mb"]["max"]} if "peak_rss_mb" in r
        else None, met=lambda v, runs: _every_run(runs, "render_memory", lambda r: r["peak_rss_mb"]["max"] <= 200.0,
                                                  "peak_rss_mb")),
    Row("  … and its time", "render_memory", unit="s",
        get=lambda r: {"median": r["render_s"]["median"], "max": r["render_s"]["max"]} if "render_s" in r else None),
    Row("flood of 2,000 messages a second for 60 s: the jam's peak memory, JACK's shared segment included "
        "(it lives, and answers after)", "flood",
        unit="MiB", target="bounded, alive, still answering",
        get=lambda f: {"median": f["rss_kb_max"] / 1024.0, "max": f["rss_kb_max"] / 1024.0,
                       "ok": float(bool(f["alive_after"] and f["answered_after"]))} if "rss_kb_max" in f else None,
        met=lambda v, runs: _every_run(runs, "flood", lambda f: bool(f["alive_after"] and f["answered_after"]),
                                       "rss_kb_max")),
    Row("  … the jam's own peak memory (without JACK's shared segment)", "flood", unit="MiB",
        get=lambda f: {"median": f["own_kb_max"] / 1024.0, "max": f["own_kb_max"] / 1024.0} if f.get("own_kb_max")
        else None),
    Row("tempo follower, validation solos as recorded: calls heard at the soloist's tempo (or half/double) "
        "with the beat within 0.1 beat", "follow.tempo_and_beat", unit="%", target="≥ 90 %",
        get=lambda f: {"median": f["median"]} if isinstance(f, dict) and "median" in f else None,
        met=lambda v, runs: v["median"] >= 0.9),
    Row("  … tempo alone", "follow.tempo", unit="%",
        get=lambda f: {"median": f["median"]} if isinstance(f, dict) and "median" in f else None),
    Row("  … tempo within 3 % after a 5 % drift over 16 bars (faster)", "follow.drift_up", unit="%",
        target="≥ 90 %", get=lambda f: {"median": f["median"]} if isinstance(f, dict) and "median" in f else None,
        met=lambda v, runs: v["median"] >= 0.9),
    Row("  … cost per onset", "follow.cost.add_ms",
        get=lambda f: {"median": f["median"], "p99": f["p99"], "max": f.get("max", f["p99"])}
        if isinstance(f, dict) and "p99" in f else None, target="well under 1 ms",
        met=lambda v, runs: v["p99"] < 1.0),
]


def _stats(st: Any, unit: str) -> dict[str, float] | None:
    if not isinstance(st, dict) or not st.get("n") and unit != "%":
        return None
    if unit == "%":
        if "median" not in st:
            return None
        return {k: float(st[k]) for k in ("median", "p99", "max") if k in st}
    return {"median": float(st["median"]), "p99": float(st["p99"]), "max": float(st["max"])}


def _fmt(values: list[float], unit: str) -> str:
    mid = statistics.median(values)
    scale, suffix = (100.0, " %") if unit == "%" else (1.0, f" {unit}")
    if unit in ("MB", "MiB", "s") and mid >= 10:
        text = f"{mid:.1f}{suffix}"
        return text + (f" ({min(values):.1f}–{max(values):.1f})" if len(values) > 1 else "")
    text = f"{mid * scale:.2f}{suffix}" if unit != "%" else f"{mid * scale:.1f}{suffix}"
    if len(values) > 1:
        lo, hi = min(values) * scale, max(values) * scale
        text += f" ({lo:.2f}–{hi:.2f})" if unit != "%" else f" ({lo:.1f}–{hi:.1f})"
    return text


def _machine(runs: list[dict]) -> str:
    """The heading's "Measured on ..." for runs that say what they ran on (`improv.bench.run.machine`)."""
    seen = [r["machine"] for r in runs if isinstance(r.get("machine"), dict)]
    if not seen:
        return ""
    cpus = sorted({f"{m.get('cpu') or 'a CPU not named'}, {m.get('cpus')} CPUs" for m in seen})
    yard = [float(m["yardstick_ms"]) for m in seen if "yardstick_ms" in m]
    stick = f"; yardstick (a fixed piece of work) {_fmt(yard, 'ms')}" if yard else ""
    return f" Measured on {' and '.join(cpus)}{stick}."


def table(runs: list[dict], names: list[str]) -> str:
    """The Markdown table (and its heading line) for `runs` (the JSON of each run)."""
    if not runs:
        raise ConfigError("improv bench --table: give the JSON files of one or more `improv bench --json` runs")
    for run, name in zip(runs, names):  # (another JSON, or {}, emptied the README's table, exit 0)
        if not any(_get(run, row.path) is not None for row in ROWS):
            raise ConfigError(f"{name} holds none of the table's figures: give the JSON files of `improv bench "
                              "--json` runs (figures/bench-*.json)")
    quick = sum(bool(r.get("quick")) for r in runs)
    warn = (f"{quick} of the runs are `--quick` ones (fewer samples, a 10-minute render, one key-to-sound run of "
            "40 notes, no flood): not the figures the rows name. ") if quick else ""
    markov = sum(r.get("responder", "model") != "model" for r in runs)
    warn += (f"{markov} of the runs had the Markov partner in the jam (`--responder markov`): where a row says "
             "the model partner answers, it was the Markov one. ") if markov else ""
    lines = [f"{warn}Median over {len(runs)} run(s) of each run's median and p99, the spread across runs in brackets; "
             f"from {', '.join(f'`{n}`' for n in names)}.{_machine(runs)}", "",
             "| what | median | p99 | target |", "|---|---|---|---|"]
    for row in ROWS:
        per_run = [s for s in ((row.get(_get(r, row.path)) if row.get and _get(r, row.path) is not None
                                else _stats(_get(r, row.path), row.unit)) for r in runs) if s is not None]
        if not per_run:  # (the row was dropped without a word: a table without JACK lost key to sound and the rest)
            why = next((str(_get(r, row.path.split(".")[0]).get("skipped")) for r in runs
                        if isinstance(_get(r, row.path.split(".")[0]), dict)
                        and _get(r, row.path.split(".")[0]).get("skipped")), "")
            why = why.strip().splitlines()[0].split(":")[0].split(";")[0].replace("|", "/") if why.strip() else ""
            lines.append(f"| {row.what} | not measured in these runs{' (' + why + ')' if why else ''} |  | "
                         f"{row.target} |")
            continue
        med = _fmt([s["median"] for s in per_run], row.unit)
        p99 = _fmt([s["p99"] for s in per_run], row.unit) if all("p99" in s for s in per_run) else ""
        verdict = row.target
        if row.met is not None:
            keys = set.intersection(*(set(s) for s in per_run))
            agg = {k: statistics.median(s[k] for s in per_run) for k in keys}
            ok = row.met(agg, runs)
            verdict = f"{row.target}: {'met' if ok else '**missed**'}"
        what = row.what if len(per_run) == len(runs) else f"{row.what} [{len(per_run)} of {len(runs)} runs]"
        lines.append(f"| {what} | {med} | {p99} | {verdict} |")
    return "\n".join(lines)


def startup_table(run: dict, name: str) -> str:
    """The README's start-up table from one `improv bench --startup --json` run: each
    command's median wall time over its timed runs, with their spread."""
    from improv.bench.startup import (TARGET_DEMO_FIRST_NOTE_S, TARGET_HELP_S, TARGET_INSTALL_S,
                                      TARGET_RESPOND_S, TARGET_VENV_MB)

    st = run.get("startup")
    if not isinstance(st, dict):
        raise ConfigError(f"{name} is not an `improv bench --startup --json` run (no 'startup' in it)")

    def verdict(value: float, target: float | None, unit: str) -> str:
        return "" if target is None else f"≤ {target:g} {unit}: {'met' if value <= target else '**missed**'}"

    lines = [f"Each command {st.get('runs', '?')} times in fresh processes after one untimed run: median, spread "
             f"in brackets; from `{name}` (load average {run.get('load_average_1min_at_start', 0):.2f} at start).",
             "", "| what | median | target |", "|---|---|---|"]
    v = st.get("venv") or {}
    if "size_mib" in v:
        mb = v["size_mib"] * 2**20 / 1e6
        lines.append(f"| lean venv (`{v.get('install_command', 'pip install -e .')}`), size, torch "
                     f"{'installed' if v.get('torch_installed') else 'not installed'} | {mb:.0f} MB | "
                     f"{verdict(mb, TARGET_VENV_MB, 'MB')} |")
    if "install_s" in v:
        lines.append(f"| … its install time (pip's index on this machine) | {v['install_s']:.1f} s | "
                     f"{verdict(v['install_s'], TARGET_INSTALL_S, 's')} |")
    rows = [("python -c pass (the interpreter alone)", "python_start", "wall_s", None),
            ("import the model partner (numpy, no torch)", "import_responder", "wall_s", None),
            ("`improv --help`", "help", "wall_s", TARGET_HELP_S),
            ("`improv respond` with the model", "respond", "wall_s", TARGET_RESPOND_S),
            ("`improv demo`: command to its first note", "demo_first_note", "spawn_to_line_s", TARGET_DEMO_FIRST_NOTE_S)]
    for what, key, stat, target in rows:
        r = st.get(key) or {}
        if stat not in r:
            why = r.get("skipped") or r.get("failed")
            if why:
                lines.append(f"| {what} | not measured: {why} | |")
            continue
        s = r[stat]
        lines.append(f"| {what} | {s['median']:.2f} s ({s['min']:.2f}–{s['max']:.2f}) | {verdict(s['median'], target, 's')} |")
    return "\n".join(lines)


def load_runs(paths: list[str | Path]) -> tuple[list[dict], list[str]]:
    """The JSON of each run file.

    Raises:
        ConfigError: a file is missing or not JSON (one line naming it).
    """
    runs, names, seen = [], [], {}
    for p in paths:
        p = Path(p)
        key = p.resolve()
        if key in seen:  # (it counted twice: "median over 3 runs" of one run, its spread a point)
            raise ConfigError(f"{p} is given twice (as {seen[key]} before): each run counts once in the median; "
                              "give each run's JSON once")
        seen[key] = p.as_posix()
        try:
            runs.append(json.loads(p.read_text(encoding="utf-8")))
        except OSError as e:
            raise ConfigError(f"cannot read bench figures {p}: {e.strerror or e}; give a JSON file written by "
                              "`improv bench --json`") from None
        except ValueError:
            raise ConfigError(f"{p} is not bench figures (not JSON): give a file written by "
                              "`improv bench --json`") from None
        if not isinstance(runs[-1], dict):
            raise ConfigError(f"{p} is not bench figures (not a JSON object): give a file written by "
                              "`improv bench --json`")
        names.append(p.as_posix())
    return runs, names


def replace_block(text: str, block: str, begin: str = BEGIN, end: str = END) -> str:
    """`text` with what stands between the markers `begin` and `end` replaced by `block`.

    Raises:
        ConfigError: the markers are missing.
    """
    a, b = text.find(begin), text.find(end)
    if a < 0 or b < a:
        raise ConfigError(f"no {begin} ... {end} block to fill in")
    return text[:a + len(begin)] + "\n" + block + "\n" + text[b:]

"""The tempo-follower benchmark's judging, on hand-made beat tracks and the tiny fixture."""

import json
from pathlib import Path

import pytest

from improv.bench.follow import (
    beat_errors, bench_follow, format_follow, judge, level, main, play_solo, reference_period, tempo_ratio_ok,
    time_follower,
)
from improv.bench.human import BeatTrack, HumanPhrase, HumanSolo, PlayedNote, load_human
from improv.core.listen.tempo import BeatEstimate

FIXTURE = Path(__file__).resolve().parent / "data" / "wjazzd-mini"
TRACK = BeatTrack(range(0, 64), [1.0 + 0.4 * b for b in range(64)])  # 150 bpm, beat 0 at 1 s


def test_tempo_is_right_at_the_soloists_tempo_or_exactly_half_or_double():
    assert tempo_ratio_ok(1.02) and tempo_ratio_ok(0.49) and tempo_ratio_ok(2.05)
    assert not tempo_ratio_ok(1.05) and not tempo_ratio_ok(1.5) and not tempo_ratio_ok(0.75)
    assert level(1.49) == 1.5 and level(0.26) == 0.25 and level(1.01) == 1.0


def test_beat_errors_on_the_coarser_grid():
    assert reference_period(TRACK, 5.0, 8.0) == pytest.approx(0.4)
    on = BeatEstimate(150.0, 1.0 + 0.4 * 7 + 0.02, 0.9)  # 0.05 beat late
    assert beat_errors(on, TRACK, 5.0, 6.6, 0.4) == pytest.approx([0.05] * 5)
    double = BeatEstimate(300.0, 1.0 + 0.2 * 3, 0.9)  # every eighth: each of the soloist's beats has one
    assert max(beat_errors(double, TRACK, 5.0, 6.6, 0.4)) == pytest.approx(0.0, abs=1e-9)
    half_wrong = BeatEstimate(75.0, 1.0 + 0.4 * 4 + 0.2, 0.9)  # in two, but between the soloist's beats
    assert min(beat_errors(half_wrong, TRACK, 5.0, 6.6, 0.4)) == pytest.approx(0.5)
    r = judge(on, TRACK, 4.0, 6.6)
    assert r["tempo_ok"] and r["beat_ok"] and r["level"] == 1.0 and r["beat_median"] == pytest.approx(0.05)
    off = judge(BeatEstimate(150.0, 1.2, 0.9), TRACK, 4.0, 6.6)
    assert off["tempo_ok"] and not off["beat_ok"]


def _swung_solo(bpm=150.0, bars=12):
    period = 60.0 / bpm
    track = BeatTrack(range(0, 4 * bars + 8), [1.0 + period * b for b in range(4 * bars + 8)])
    phrases = []
    for bar in range(0, bars, 2):  # a bar of swung eighths, then a bar's rest
        notes = tuple(PlayedNote(1.0 + period * (4 * bar + b + off), 0.3 * period, 60 + b, 80, 4 * bar + b + off)
                      for b in range(4) for off in (0.0, 0.62))
        phrases.append(HumanPhrase("swung", notes, track))
    return HumanSolo("swung", bpm, tuple(phrases), track)


def test_a_steady_swung_player_is_followed_call_after_call():
    solo = _swung_solo()
    rows = play_solo(solo, list(solo.phrases))
    assert len(rows) == 6 and rows[0]["first"] and not rows[1]["first"]
    assert all(r["tempo_ok"] and r["beat_ok"] for r in rows[1:])


def test_pad_hits_are_played_as_hits_beside_the_notes_or_alone():
    """`play_solo`'s `hits` reach the follower's `hit` in time order with the notes (the pads
    figure, figures/pads_follow.py, plays through it); with no keys the calls are still judged."""
    from improv.core.listen.tempo import TempoFollower

    class Counting(TempoFollower):
        def __init__(self):
            super().__init__()
            self.heard: list[tuple[str, float]] = []

        def add(self, onset_s, velocity=80, duration_s=None, pitch=None):
            if duration_s is None:
                self.heard.append(("note", onset_s))
            super().add(onset_s, velocity, duration_s, pitch)

        def hit(self, onset_s, velocity=100):
            self.heard.append(("hit", onset_s))
            super().hit(onset_s, velocity)

    solo = _swung_solo()
    beats = [t for t in solo.track.times if t <= solo.phrases[-1].end]
    f = Counting()
    rows = play_solo(solo, list(solo.phrases), follower=f, hits=beats, keys=False)
    assert [kind for kind, _ in f.heard] == ["hit"] * len(beats) and len(rows) == 6
    assert all(r["tempo_ok"] and r["beat_ok"] for r in rows[1:])
    f = Counting()
    play_solo(solo, list(solo.phrases), follower=f, hits=beats)
    times = [t for _, t in f.heard]
    assert times == sorted(times) and {kind for kind, _ in f.heard} == {"hit", "note"}


def test_bench_follow_reports_medians_spreads_and_targets():
    result = bench_follow([_swung_solo(), _swung_solo(200.0, 30)], seeds=range(2), bars=24)
    assert len(result["runs"]) == 2
    for key in ("tempo_and_beat", "tempo", "beat", "first_call", "drift_up", "drift_down", "drift_control"):
        assert 0.0 <= result[key]["min"] <= result[key]["median"] <= result[key]["max"] <= 1.0
    assert result["tempo_and_beat"]["median"] >= 0.8
    assert set(result["targets"]) == {"tempo_and_beat", "drift"}
    lines = [x for x in format_follow(result) if x]
    assert lines[0].startswith("tempo follower:") and any("drift" in x for x in lines)
    json.dumps(result)  # the JSON the bench writes


def test_the_figures_are_given_by_the_soloists_tempo_too(monkeypatch):
    import improv.bench.follow as fb

    assert fb.band_of(60.0) == "under 90" and fb.band_of(90.0) == "90-150" and fb.band_of(300.0) == "220 and over"

    def call(bpm, ok, tempo_ok=True):
        return {"bpm": bpm, "level": 1.0, "first": False, "tempo_ok": tempo_ok, "beat_ok": ok, "beat_max": 0.0,
                "confidence": 1.0}

    # a ballad missed (its tempo wrong), a medium line right, a fast one with its beat off
    calls = [call(60.0, False, False), call(60.0, True), call(120.0, True), call(250.0, False)]
    monkeypatch.setattr(fb, "run_calls", lambda *a, **k: [dict(c) for c in calls])
    monkeypatch.setattr(fb, "oracle_rows", lambda *a, **k: [(60.0, True), (250.0, False), (250.0, True)])
    result = bench_follow([_swung_solo()], seeds=range(2), bars=8)
    bands = result["by_tempo"]
    assert bands["under 90"] == {"calls": 2, "tempo_and_beat": 0.5, "tempo": 0.5, "oracle_beat": 1.0}
    assert bands["90-150"]["tempo_and_beat"] == 1.0 and bands["150-220"]["calls"] == 0
    assert bands["220 and over"] == {"calls": 1, "tempo_and_beat": 0.0, "tempo": 1.0, "oracle_beat": 0.5}
    line = next(x for x in format_follow(result) if "by the soloist's tempo" in x)
    assert "under 90: 50.0 % of 2 calls (tempo 50.0 %, on-beat notes 100.0 %)" in line
    json.dumps(result)


def test_the_level_changing_between_calls_is_counted_within_a_solo(monkeypatch):
    import improv.bench.follow as fb

    def call(lvl, first=False):
        return {"bpm": 150.0, "level": lvl, "first": first, "tempo_ok": True, "beat_ok": True, "beat_max": 0.0, "confidence": 1.0}

    # two solos: 1 -> 2 -> 1 -> 1 (two changes in three), then a fresh solo at 2 (not a change)
    calls = [call(1.0, True), call(2.0), call(1.0), call(1.0), call(2.0, True), call(2.0)]
    monkeypatch.setattr(fb, "run_calls", lambda *a, **k: [dict(c) for c in calls])
    result = bench_follow([_swung_solo()], seeds=range(1), bars=8)
    assert result["runs"][0]["level_changes"] == pytest.approx(2 / 4)
    assert any("level changing" in x for x in format_follow(result))
    assert result["split"] == "valid" and "validation solos" in format_follow(result)[0]
    trained = bench_follow([_swung_solo()], seeds=range(1), bars=8, split="train")
    assert trained["split"] == "train" and "training solos" in format_follow(trained)[0]


def test_time_follower_times_every_onset():
    ticks = iter(range(10 ** 6))
    r = time_follower([(1.0 + 0.2 * k, 80) for k in range(20)], clock=lambda: next(ticks) / 1000.0)
    assert r["add_ms"]["n"] == 20 and r["add_ms"]["median"] == pytest.approx(1.0)


def test_command_names_data_it_cannot_use(tmp_path, capsys):
    # the fixture's only 4/4 solo is in the training split: no validation solo to play
    assert load_human(FIXTURE, "valid") == []
    assert main([str(FIXTURE), "--seeds", "1"]) == 2
    assert main([str(tmp_path / "nope.tar.gz")]) == 2
    err = capsys.readouterr().err
    assert "no validation solo" in err and "not found" in err


def test_improv_bench_section_skips_without_the_data(monkeypatch, tmp_path):
    import improv.bench.follow as follow
    from improv.bench.run import _follow_section

    monkeypatch.setattr(follow, "DEFAULT_DATA", tmp_path / "nope.tar.gz")
    results, lines = {}, []
    _follow_section(results, True, lines.append)
    assert "no WJazzD data" in results["follow"]["skipped"] and "skipped" in lines[-1]


HUMAN = json.loads((Path(__file__).resolve().parent / "data" / "human" / "phrases.json").read_text())["calls"]


def _heard(band: str) -> float:
    """The tempo a fresh follower hears in the end-to-end tests' phrase of `band`, fed as recorded
    (each onset at its note-on, its length at its note-off), read a beat after the last release."""
    from improv.core.listen.tempo import TempoFollower
    f = TempoFollower()
    notes = HUMAN[band]["notes"]
    evs = sorted([(on, 1, on, vel, None) for on, dur, _, vel in notes]
                 + [(on + dur, 0, on, vel, dur) for on, dur, _, vel in notes])
    for _, _, on, vel, dur in evs:
        f.add(on, vel, dur)
    return f.estimate(evs[-1][0] + 60.0 / HUMAN[band]["tempo"]).bpm


@pytest.mark.parametrize("band", ["medium", "fast"])
def test_the_end_to_end_phrases_are_heard_at_the_soloists_tempo(band):
    assert tempo_ratio_ok(_heard(band) / HUMAN[band]["tempo"])


@pytest.mark.xfail(strict=True, reason=(
    "known gap: this ballad's runs of 32nds and sextuplets at 64 bpm are heard at 2.5 times its tempo "
    "(README 'Playing in the player's time'); strict, so a follower that hears it right says so here"))
def test_the_end_to_end_ballad_is_heard_at_the_soloists_tempo():
    assert tempo_ratio_ok(_heard("slow") / HUMAN["slow"]["tempo"])


def test_time_follower_cost_is_the_median_of_an_even_count_and_the_nearest_rank_p99():
    """The cost per onset took the upper of the two middle values as its median (and a p99
    one rank above the nearest rank when 0.99 n is whole): with adds of 1, 2, 3 and 4 ms its
    "median" read 3 ms. The bench's other figures use `parts.summary`; this one now does too."""
    adds = [1.0, 2.0, 3.0, 4.0] + [5.0] * 96  # 100 onsets: p99 by nearest rank is the 99th value
    adds[-1] = 50.0
    times, t = [], 0.0
    for a in adds:  # each onset: start, after add (a ms), after estimate (1 ms)
        times += [t, t + a / 1000.0, t + a / 1000.0 + 0.001]
        t += 1.0
    r = time_follower([(1.0 + 0.2 * k, 80) for k in range(len(adds))], clock=iter(times).__next__)
    assert r["add_ms"]["n"] == 100 and r["add_ms"]["max"] == pytest.approx(50.0)
    assert r["add_ms"]["p99"] == pytest.approx(5.0)  # not the max, one sample in a hundred
    r = time_follower([(1.0 + 0.2 * k, 80) for k in range(4)], clock=iter(times[:12]).__next__)
    assert r["add_ms"]["median"] == pytest.approx(2.5)


@pytest.mark.parametrize("flag", ["--seeds", "--bars"])
def test_no_runs_or_no_bars_is_refused_in_one_line(flag, capsys):
    """`--seeds 0` ended in a StatisticsError traceback after the data was read; `--bars 0`
    played no call at all and printed 0.0 % for every figure, as if the follower heard nothing."""
    assert main([str(FIXTURE), flag, "0"]) == 2
    err = capsys.readouterr().err
    assert f"{flag} must be at least 1, got 0" in err and len(err.strip().splitlines()) == 1, err


def test_a_json_path_that_cannot_be_written_is_said_before_the_run(tmp_path, capsys):
    """`--json` into a folder that does not exist ran the whole benchmark (minutes on the full
    archive), printed the figures, then ended in a FileNotFoundError traceback."""
    bad = tmp_path / "no-such-folder" / "follow.json"
    assert main([str(FIXTURE), "--split", "train", "--seeds", "1", "--bars", "8", "--json", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert "--json" in err and "does not exist" in err and len(err.strip().splitlines()) == 1, err
    assert "tempo follower" not in out  # refused before anything was played


def test_a_json_write_that_fails_after_the_run_is_one_line(tmp_path, capsys):
    """Should the path go bad during the run, the figures printed stay and one line says so."""
    from improv.bench.follow import write_json

    assert write_json(str(tmp_path / "x.json"), {"a": 1}, "prog") is True
    bad = tmp_path / "x.json" / "y.json"  # under a file: no folder to write in, root or not
    assert write_json(str(bad), {"a": 1}, "prog") is False
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith(f"prog: cannot write --json {bad}: "), err


def test_the_json_says_which_code_measured(tmp_path):
    """Figures JSON named no commit (a bench run's `commit` read None): the engine a published
    figure came from was only in notes written beside it. It is in the file now."""
    import subprocess

    out = tmp_path / "follow.json"
    assert main([str(FIXTURE), "--split", "train", "--seeds", "1", "--bars", "8", "--json", str(out)]) == 0
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parents[1],
                          capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    engine = json.loads(out.read_text())["engine"]
    assert engine["commit"] == head.stdout.strip() and isinstance(engine["dirty"], bool)


def test_time_follower_times_each_note_off_too():
    """The live path hears every note twice (its onset, then its length at the note-off, a
    weighing that costs about half what the onset's does), but the cost per onset timed the onsets
    alone: notes with a length now have their release timed, and the bench's notes carry it."""
    ticks = iter(range(10 ** 6))
    notes = [(1.0 + 0.2 * k, 80, 0.15, 60 + k % 5) for k in range(20)]
    r = time_follower(notes, clock=lambda: next(ticks) / 1000.0)
    assert r["add_ms"]["n"] == 20 and r["release_ms"]["n"] == 20
    assert r["release_ms"]["median"] == pytest.approx(1.0)
    assert time_follower([(1.0, 80)])["release_ms"] == {"n": 0}  # no length: none timed
    result = bench_follow([_swung_solo()], seeds=range(1), bars=8)
    assert result["cost"]["release_ms"]["n"] == result["cost"]["add_ms"]["n"] > 0
    assert any("per release" in x for x in format_follow(result))

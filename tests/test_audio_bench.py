from improv.bench.audio import bench_synth, callback_load, dense_session


def test_bench_reports_fractions_and_speed():
    load = callback_load(16, blocks=50)
    assert 15 <= load["voices"] <= 18 and load["mean"] > 0 and load["max"] >= load["p99"] >= load["median"]
    figures = bench_synth(render_seconds=2.0)
    assert set(figures) == {"callback_16", "callback_32", "render"}
    assert figures["render"]["x_realtime"] > 0 and abs(figures["render"]["audio_s"] - 3.0) < 0.1


def test_dense_session_is_dense():
    rec = dense_session(10.0)
    ons = [e for e in rec.events if e.msg.type == "note_on"]
    assert len([e for e in ons if e.part == "player"]) == 40 and len([e for e in ons if e.part == "partner"]) == 80

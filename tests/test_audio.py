import time

import mido
import numpy as np
import pytest

from improv.config import Config, override
from improv.errors import ConfigError, PortError
from improv.live.audio import SynthEngine, find_output_device

SR = 48000


def jack_output():
    """Skip unless PortAudio sees a JACK output device."""
    try:
        import sounddevice as sd
    except (ImportError, OSError) as e:
        pytest.skip(f"no PortAudio: {e}")
    try:
        apis = [a["name"] for a in sd.query_hostapis()]
        devices = sd.query_devices()
    except Exception as e:
        pytest.skip(f"PortAudio cannot list devices: {e}")
    for i, d in enumerate(devices):
        if d["max_output_channels"] > 0 and "JACK" in apis[d["hostapi"]]:
            return i
    pytest.skip(f"PortAudio has no JACK output device (host APIs: {apis}); start jackd before PortAudio loads")


def test_engine_places_messages_at_their_sample():
    eng = SynthEngine(SR, channels=2, voices=("organ", "organ"))
    out = np.zeros((128, 2), np.float32)
    now = 100.0
    start = now - 128 / SR
    eng.push(0, 0x90, 60, 100, start + 64 / SR + 1e-9)  # sent mid-way through the previous block
    eng.process(out, 128, now)
    assert not out[:64].any() and np.abs(out[65:]).max() > 0
    eng.push(0, 0x90, 62, 100, now + 1.0)  # too new: waits for its own block
    eng.process(out, 128, now + 128 / SR)
    assert len(eng.pending) == 1


def test_engine_never_raises_and_outputs_silence_on_error():
    eng = SynthEngine(SR, channels=2)
    out = np.ones((2048, 2), np.float32)
    eng.process(out, 2048, 1.0)  # longer than the synth's largest block
    assert eng.errors == 1 and not out.any()


def test_engine_mono_and_panic():
    eng = SynthEngine(SR, channels=1)
    out = np.zeros((256, 1), np.float32)
    eng.push(1, 0x90, 60, 100, 0.0)
    eng.process(out, 256, 1.0)
    assert np.abs(out).max() > 0.01
    eng.panic(1.0)
    for k in range(400):
        eng.process(out, 256, 2.0 + k)
    assert eng.state.n == 0 and not out.any()


def test_bad_device_name_lists_the_outputs():
    class FakeSd:
        @staticmethod
        def query_devices():
            return [{"name": "system", "max_output_channels": 2}, {"name": "mic", "max_output_channels": 0}]

    assert find_output_device(FakeSd, "") is None
    assert find_output_device(FakeSd, "sys") == 0
    with pytest.raises(PortError, match="no audio output matches synth.device='usb'.*0: system"):
        find_output_device(FakeSd, "usb")

    class NoOutputs:
        @staticmethod
        def query_devices():
            return [{"name": "mic", "max_output_channels": 0}]

    with pytest.raises(PortError, match="no audio output device"):
        find_output_device(NoOutputs, "")


def test_bad_settings_are_config_errors():
    from improv.live.audio import SynthSink

    with pytest.raises(ConfigError, match="block_size"):
        SynthSink(override(Config(), "synth", block_size=4))


def play_for_3_seconds(device):
    """Play 24 notes on both parts into the synth for 3 s; returns the closed sink."""
    from improv.live.audio import SynthSink

    cfg = override(Config(), "synth", device=str(device))
    sink = SynthSink(cfg)
    assert sink.alive() and sink.name.startswith("built-in synth on ")
    try:
        for k in range(24):  # 8 notes per second on both parts, chords held over each other
            sink.send(mido.Message("note_on", channel=k % 2, note=48 + (k * 5) % 36, velocity=100))
            time.sleep(0.125)
            if k >= 4:
                sink.send(mido.Message("note_off", channel=(k - 4) % 2, note=48 + ((k - 4) * 5) % 36))
    finally:
        sink.close()
    assert sink.engine.frames > SR // 2  # audio flowed (loose: JACK's dummy clock runs late on a busy machine)
    assert sink.engine.errors == 0
    return sink


@pytest.mark.jack
def test_plays_into_jack_for_3_seconds_without_regular_underruns():
    device = jack_output()
    # A synth slower than its 2.7 ms block underruns on about a third of its callbacks
    # (measured by padding the callback to 3.5 ms: 311 of 956); one at 75 % of the budget on
    # about 0.5 %; this synth on 0 or 1 of ~1,200. A shared CI machine now and then adds a
    # glitch or two to any stream, so the test judges the share, not a single underrun; the
    # callback's cost against its budget is `improv bench`'s job (audio_bench.callback_load).
    sinks = [play_for_3_seconds(device) for _ in range(2)]
    share = min(s.underruns / s.engine.callbacks for s in sinks)
    if share <= MAX_UNDERRUN_SHARE:
        return
    baseline = silent_stream_underruns(device)
    if baseline / (3.0 * SR / 128) > MAX_UNDERRUN_SHARE:
        pytest.skip(f"this machine is too busy to judge: the synth underran on {share:.1%} of its callbacks, "
                    f"but a callback that only writes zeros had {baseline} underruns in 3 s too")
    assert share <= MAX_UNDERRUN_SHARE, (
        f"underruns on {share:.1%} of callbacks in the better of two tries: "
        f"{[(s.underruns, s.engine.callbacks) for s in sinks]}")


MAX_UNDERRUN_SHARE = 0.02


def silent_stream_underruns(device, seconds=3.0):
    import sounddevice as sd

    count = [0]

    def callback(outdata, frames, time_info, status):
        if status.output_underflow:
            count[0] += 1
        outdata[:] = 0

    with sd.OutputStream(samplerate=SR, blocksize=128, device=device, channels=2, dtype="float32", callback=callback):
        time.sleep(seconds)
    return count[0]

"""The built-in synth on a sounddevice output stream.

`SynthSink(cfg).send(msg)` plays a mido message: the config's partner channel on the
partner voice, every other channel on the player voice; the notes of General MIDI's drum
channel (10) and of the click's are drum hits (`kit_channels`). Each message carries the
time it was meant to sound (a player's note: when it arrived at the port, not when the
reader got to it; otherwise when it was sent), and the callback's `SynthEngine`
(improv/live/synthengine.py) places it at the matching sample of the block it renders,
one block later, so that timing jitter is not added on top of the block size.

The callback (PortAudio's thread) follows sounddevice's contract through the engine: it
writes into preallocated buffers, takes no locks, touches no files, fills `outdata[:]` and
outputs silence if anything goes wrong; it counts underruns from the status flags.

The stream asks for low latency by default (`[synth] latency`): PortAudio's own default is
the device's *high* latency, tens of milliseconds on plain ALSA, CoreAudio or Windows, on
every key played through the synth. The latency the device gave is said when it opens. On
Windows the default output is WASAPI's (`low_latency_default`): PortAudio's own default
there is MME's, about 90 ms late even at low latency.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from typing import Any, Callable

import mido
import numpy as np

from improv import realtime
from improv.config import Config
from improv.core.audio.synth import MAX_BLOCK, PARTS
from improv.errors import ConfigError, PortError
from improv.live.portaudio import load_sounddevice
from improv.live.quiet import quiet_stderr
from improv.live.synthengine import SynthEngine

BASS_PART = PARTS.index("bass")
_KINDS = {"note_on": 0x90, "note_off": 0x80, "control_change": 0xB0, "program_change": 0xC0}
CLOSE_WAIT_S = 2.0  # the longest close waits for PortAudio to stop the stream
UNDERRUNS_SAID = 3  # from this many underruns on, closing says so (a stream's start often has one)


class SynthSink:
    """Plays mido messages through the built-in synth (or a SoundFont) on an audio device.

    Args:
        cfg: the session config: `[synth]` settings and `midi.partner_channel`.
        soundfont: a .sf2 path overriding `cfg.synth.soundfont`.
        say: where the line saying what the device gave (latency, block) goes; default stderr.

    Raises:
        PortError: no audio device (or no PortAudio): one line; the engine then goes on
            MIDI-only.
        ConfigError: a SoundFont that cannot be used (missing extra or file).
    """

    def __init__(self, cfg: Config, soundfont: str | None = None,
                 say: Callable[[str], None] | None = None) -> None:
        audio_settings_check(cfg)
        s = cfg.synth
        self.partner_channel = cfg.midi.partner_channel
        # The rhythm section shares the two voices: comping and the click on the partner's
        # electric piano, the bass on the player's organ (a soft organ bass line) as a part
        # of its own, so that the player's sustain pedal does not hold it. A SoundFont plays
        # each channel on its own program, as a General MIDI module does: the comp on
        # `comp_program`, the bass on `bass_program`, the click on the drum kit.
        self._partner_voice_channels = frozenset(
            ch - 1 for ch in (cfg.midi.partner_channel, cfg.band.comp_channel, cfg.band.click_channel))
        self._bass_channel = cfg.band.bass_channel - 1
        sf_path = soundfont if soundfont is not None else s.soundfont
        sf = None
        if sf_path:
            from improv.core.audio.soundfont import load_soundfont

            sf = load_soundfont(sf_path, s.sample_rate, *band_programs(cfg))
        try:
            sd = load_sounddevice(say or _stderr_line)
        except PortError as e:  # (a JACK server that does not answer: PortAudio's start would wait for ever)
            raise PortError(f"no audio output: {e}; or play through a MIDI port with --out") from None
        except (ImportError, OSError) as e:
            raise PortError(f"no audio output: PortAudio is not available ({e}); install libportaudio2, "
                            "or play through a MIDI port with --out") from None
        except Exception as e:  # noqa: BLE001 - sounddevice's PortAudioError: it is there and would not start
            raise PortError(f"no audio output: PortAudio would not start ({e}); see to the audio system (a JACK "
                            "server that does not answer?), or play through a MIDI port with --out") from None
        device = find_output_device(sd, s.device)
        self.underruns = 0
        self._closed = False
        self._rt_asked = False
        self._say = say or _stderr_line
        self._block_size = s.block_size
        # With no device asked for, the platform's low-latency host API first (Windows: WASAPI),
        # then PortAudio's default (there MME, which opens where WASAPI refuses the sample rate)
        quick = low_latency_default(sd) if device is None else None
        tries = [quick, None] if quick is not None else [device]
        for k, device in enumerate(tries):
            try:
                info = sd.query_devices(device, "output")
                channels = min(2, int(info["max_output_channels"])) or 1
            except Exception as e:
                if k + 1 < len(tries):
                    continue
                raise PortError(f"no audio output device ({e}); connect one, pick one with synth.device, "
                                "or play through a MIDI port with --out") from None
            self.engine = SynthEngine(s.sample_rate, channels, s.volume, (s.player_voice, s.partner_voice),
                                      s.polyphony, sf, kit_channels(cfg))
            stream = None
            try:
                with quiet_stderr():
                    stream = sd.OutputStream(samplerate=s.sample_rate, blocksize=s.block_size, device=device,
                                             channels=channels, dtype="float32", latency=s.latency,
                                             callback=self._callback)
                    stream.start()
                self._stream = stream
                break
            except Exception as e:
                if k + 1 < len(tries):
                    if stream is not None:  # (opened, and would not start: let it go before the next)
                        try:
                            stream.close()
                        except Exception:  # noqa: BLE001
                            pass
                    continue
                native = info.get("default_samplerate")
                rate = f"set synth.sample_rate = {native:.0f} (the device's own rate), " \
                    if native and round(native) != s.sample_rate else ""
                raise PortError(f"cannot open audio output {info['name']!r} at {s.sample_rate} Hz ({e}); {rate}"
                                "pick another with synth.device or play through a MIDI port with --out") from None
        self.device_name = str(info["name"])
        self.name = f"built-in synth on {self.device_name}"
        self.failed = ""
        self.latency = float(self._stream.latency)  # seconds, as the device reports it
        try:
            self.host_api = str(sd.query_hostapis(int(info["hostapi"]))["name"])
        except Exception:  # noqa: BLE001 - only for the line below
            self.host_api = "?"
        self._say(latency_line(self.device_name, self.host_api, self.latency, s.block_size,
                                           s.sample_rate, s.latency))

    def alive(self) -> bool:
        """False once the audio stream has stopped by itself (the device or server went away)."""
        if self._closed:
            return True
        try:
            active = bool(self._stream.active)
        except Exception:  # noqa: BLE001
            active = False
        if not active:
            self.failed = self.failed or f"audio output {self.device_name!r} stopped"
        return active

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio's thread: render one block."""
        if not self._rt_asked:  # (once, on the callback's own thread: improv/realtime.py)
            self._rt_asked = True
            realtime.enter("synth")
        if status.output_underflow:
            self.underruns += 1
        self.engine.process(outdata, frames, time.perf_counter())

    def send(self, msg: mido.Message, at: float | None = None) -> None:
        """Play a message (any thread; never blocks). Note on/off, control and program
        changes are played; other messages are ignored. `at`: when it was meant to sound
        (`time.perf_counter()` seconds, e.g. when a player's note arrived), so that how
        late it got here adds no jitter; default (and never later than) now."""
        kind = _KINDS.get(msg.type)
        if kind is None or self._closed:
            return
        part = 1 if msg.channel in self._partner_voice_channels else BASS_PART if msg.channel == self._bass_channel else 0
        now = time.perf_counter()
        stamp = now if at is None else min(at, now)
        if kind == 0xB0:
            self.engine.push(part, kind, msg.control, msg.value, stamp, msg.channel)
        elif kind == 0xC0:  # (a SoundFont's; the built-in voices have no programs)
            self.engine.push(part, kind, msg.program, 0, stamp, msg.channel)
        else:
            self.engine.push(part, kind, msg.note, msg.velocity, stamp, msg.channel)

    def panic(self) -> None:
        """Release every sounding note now (any thread)."""
        self.engine.panic(time.perf_counter())

    def close(self, tail_s: float = 0.3) -> None:
        """Release every note, let the release tails ring for `tail_s` seconds, stop the
        stream (calling thread; idempotent; waits at most `CLOSE_WAIT_S` for PortAudio).

        A stream whose server went away (JACK stopped under it) can never be stopped:
        PortAudio waited for it for ten minutes, deaf to Ctrl-C, then aborted the jam. It is
        left open then, and so is PortAudio's own clean-up at exit, which would wait alike."""
        if self._closed:
            return
        self.panic()
        self._closed = True
        try:
            running = bool(self._stream.active)
        except Exception:  # noqa: BLE001
            running = False
        if running:
            time.sleep(tail_s)
        if not _stop_within(self._stream, CLOSE_WAIT_S):
            self.failed = self.failed or f"audio output {self.device_name!r} could not be stopped: left open"
            _skip_portaudio_exit()
            self._say(f"audio output {self.device_name!r} did not stop within {CLOSE_WAIT_S:g} s (its audio server "
                      "gone?): left open, and improv exits without waiting for it")
        if self.underruns >= UNDERRUNS_SAID:
            self._say(underrun_line(self.underruns, self.engine.callbacks, self._block_size, self.host_api))

    def __enter__(self) -> "SynthSink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def band_programs(cfg: Config) -> tuple[int, dict[int, int]]:
    """What a SoundFont plays the band on (`load_soundfont`'s `bass_program` and
    `channel_programs`): the bass on `band.bass_program`, the comp's channel on
    `band.comp_program` (0-based; 0 "none" leaves it the partner's electric piano), the
    click's on the drum kit (its wood blocks, not the partner's electric piano keys 76 and
    77). A pitched part sharing the click's channel keeps its program (a line on a drum kit
    is noise), and the partner's and the player's channels keep theirs."""
    from improv.core.audio.soundfont import BASS_PROGRAM, DRUM_KIT, PROGRAMS

    b, m = cfg.band, cfg.midi
    # (the bass on the program the band sends an external module: `Band.send_programs`)
    bass = b.bass_program - 1 if b.bass_program else BASS_PROGRAM
    channels = {b.click_channel - 1: DRUM_KIT}  # (later ones win where channels are shared)
    if b.comp_program:
        channels[b.comp_channel - 1] = b.comp_program - 1
    channels[b.bass_channel - 1] = bass
    channels[m.partner_channel - 1] = PROGRAMS[1]
    channels[m.player_channel - 1] = PROGRAMS[0]
    return bass, channels


def kit_channels(cfg: Config) -> frozenset[int]:
    """The MIDI channels (0-15) the built-in voices play as a drum kit: General MIDI's drum
    channel (10) and the click's (`band.click_channel`), as a SoundFont plays them, but for
    a pitched part's channel (the player's, the partner's, the comp's, the bass's): a line
    played on a drum kit is noise. The click on the partner's electric piano was an E and
    an F that rang for seconds under the band."""
    from improv.core.audio.kit import GM_DRUM_CHANNEL

    b, m = cfg.band, cfg.midi
    pitched = {m.player_channel, m.partner_channel, b.comp_channel, b.bass_channel}
    return frozenset({GM_DRUM_CHANNEL, b.click_channel - 1} - {ch - 1 for ch in pitched})


def _stop_within(stream: Any, timeout: float) -> bool:
    """Stop and close a sounddevice stream on a thread of its own; whether it was done
    within `timeout` seconds (a stream it could not stop is left to that daemon thread)."""
    done = threading.Event()

    def stop() -> None:
        try:
            stream.stop()  # (sounddevice: stop before close, or PortAudio hangs in close)
            stream.close()
        except Exception:  # noqa: BLE001 - a stream that cannot stop is closed as far as we go
            pass
        finally:
            done.set()

    threading.Thread(target=stop, name="improv-audio-close", daemon=True).start()
    return done.wait(timeout)


def _skip_portaudio_exit() -> None:
    """Do not let sounddevice stop its last stream and terminate PortAudio at exit: after a
    stream that could not be stopped, that waits for ever too."""
    import atexit

    import sounddevice as sd

    handler = getattr(sd, "_exit_handler", None)
    if handler is not None:
        atexit.unregister(handler)


LOW_LATENCY_HOST_APIS = {"win32": "Windows WASAPI"}  # where PortAudio's default host API is not the quick one:
# on Windows it is MME, about 90 ms from key to sound even at "low" latency (WASAPI: about 10)


def low_latency_default(sd: Any) -> int | None:
    """The default output of this platform's low-latency host API (`LOW_LATENCY_HOST_APIS`),
    when PortAudio has it and it has one; None elsewhere (PortAudio's default is that one)."""
    wanted = LOW_LATENCY_HOST_APIS.get(sys.platform)
    if not wanted:
        return None
    try:
        apis = list(sd.query_hostapis())
    except Exception:  # noqa: BLE001 - PortAudio's default then
        return None
    for api in apis:
        if api.get("name") == wanted and int(api.get("default_output_device", -1)) >= 0:
            return int(api["default_output_device"])
    return None


def find_output_device(sd: Any, wanted: str) -> int | None:
    """`synth.device` -> a PortAudio device index ("" = the default output).

    Raises:
        PortError: nothing matches, or there is no output device at all (lists them).
    """
    try:
        devices = list(sd.query_devices())
    except Exception as e:
        raise PortError(f"no audio devices ({e}); play through a MIDI port with --out") from None
    outputs = [(i, d["name"]) for i, d in enumerate(devices) if d.get("max_output_channels", 0) > 0]
    if not outputs:
        raise PortError("no audio output device found; start JACK or connect a sound card, "
                        "or play through a MIDI port with --out")
    if not wanted:
        return None
    if wanted.isdigit() and any(i == int(wanted) for i, _ in outputs):
        return int(wanted)
    for i, name in outputs:
        if wanted.lower() in name.lower():
            return i
    listing = "; ".join(f"{i}: {n}" for i, n in outputs)
    raise PortError(f"no audio output matches synth.device={wanted!r}; outputs are {listing}")


def _stderr_line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def latency_line(device: str, host_api: str, latency_s: float, block: int, rate: int, asked: str | float) -> str:
    """What the synth's stream got, in one line: device, output latency and block (ms)."""
    want = f"{asked} latency" if isinstance(asked, str) else f"{1000.0 * asked:g} ms"
    # PortAudio's JACK host reports 0 when the server, not the stream, decides (its period)
    got = (f"output latency {1000.0 * latency_s:.1f} ms" if latency_s > 0 else
           "output latency not reported by the device" + (" (the JACK server's period decides)" if "JACK" in host_api
                                                           else ""))
    return f"synth: {device} ({host_api}), {got} (asked for {want}), blocks of {block} frames = " \
           f"{1000.0 * block / rate:.2f} ms at {rate} Hz"


def underrun_line(underruns: int, blocks: int, block: int, host_api: str) -> str:
    """What closing says of a stream that ran dry (PortAudio's output underflow): how often, and
    what gives the synth more room."""
    jack = ", a longer JACK period" if "JACK" in host_api else ""
    return (f"synth: the audio device ran dry {underruns} times in {blocks} blocks ({underruns / max(blocks, 1):.1%}), "
            f"each a click or a dropout: a larger synth.block_size (now {block}){jack} or synth.latency = \"high\" "
            "gives the synth more time for each block")


def audio_settings_check(cfg: Config) -> None:
    """Reject impossible [synth] values before opening a device."""
    s = cfg.synth
    if isinstance(s.latency, str):
        if s.latency not in ("low", "high"):
            raise ConfigError(f'synth.latency: expected "low", "high" or seconds (e.g. 0.005), found {s.latency!r}')
    elif not (math.isfinite(s.latency) and 0.0 < s.latency <= 1.0):
        raise ConfigError(f'synth.latency: expected seconds from 0 to 1 (e.g. 0.005), or "low" or "high", '
                          f"found {s.latency}")
    if not 8000 <= s.sample_rate <= 192000:
        raise ConfigError(f"synth.sample_rate: expected 8000-192000 Hz, found {s.sample_rate}")
    if not 16 <= s.block_size <= MAX_BLOCK:
        raise ConfigError(f"synth.block_size: expected 16-{MAX_BLOCK} frames, found {s.block_size}")
    if not 0.0 <= s.volume <= 1.0:
        raise ConfigError(f"synth.volume: expected 0..1, found {s.volume}")
    if not 1 <= s.polyphony <= 256:
        raise ConfigError(f"synth.polyphony: expected 1-256 voices, found {s.polyphony}")

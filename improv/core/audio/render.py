"""Offline rendering: a recorded session -> audio, faster than real time, in bounded memory.

Events are applied at the exact sample where they happened (`round(t * sample_rate)`),
through the same synth the live engine plays (or a SoundFont), so a render sounds like
the session did: each part on the voice it had live (`VOICE_OF_PART`: the comping on the
partner's voice, the bass on the player's), the click and General MIDI's drums (channel 10)
on the built-in drum kit (improv/core/audio/kit.py); a SoundFont plays each channel on its
own program, following the file's program changes, the click and channel 10 on its drum
kit. At the file's end every key and
pedal is let go, so that the tail holds the release of what was still sounding, and the last
10 ms fade to silence (a release longer than the tail is not cut). Audio is produced in
blocks of `CHUNK_FRAMES` (`iter_parts`) and written as it comes (`write_wav`), so an
hour-long session needs no more memory than a minute: a few MB of synth state and one
block. WAV files (16-bit PCM, standard library `wave`) are written to a temporary file
beside the target and renamed into place, so a failure leaves no partial file.
"""

from __future__ import annotations

import shutil
import wave
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from improv.core.audio.synth import PAN, VOICE_OF, SynthState, all_notes_off, apply_message
from improv.core.audio.synthrender import render, soft_clip
from improv.core.formats.midifile import Recording, is_drum
from improv.core.formats.paths import beside, whole_or_nothing, writable_output
from improv.errors import ConfigError, DataError

_KINDS = {"note_on": 0x90, "note_off": 0x80, "control_change": 0xB0}
# the synth part each recorded part plays on, as the live synth plays them
# (improv/live/audio.py SynthSink): 0 the player's voice, 1 the partner's, 2 the bass (the
# player's voice, its own keys and pedal)
VOICE_OF_PART = {"player": 0, "partner": 1, "comp": 1, "click": 1, "bass": 2}
LONG_RENDER_S = 30 * 60.0  # a render longer than this says how long, and how big, before it starts
END_FADE_S = 0.01  # the render's last 10 ms fade to silence: a file never ends on a cut (a short --tail)
CHUNK_FRAMES = 1 << 15  # frames rendered and written at a time (0.68 s at 48 kHz)
WAV_HEADER_BYTES = 44
WAV_MAX_BYTES = 2**32 - 1  # a RIFF file's sizes are 32-bit


def render_frames(rec: Recording, sample_rate: int, tail_s: float) -> int:
    """Frames a render of `rec` lasts: its duration plus `tail_s` seconds of release tails."""
    return int(round(rec.duration * sample_rate)) + int(round(tail_s * sample_rate))


def iter_parts(
    rec: Recording,
    sample_rate: int = 48000,
    voices: tuple[str, str] = ("organ", "epiano"),
    polyphony: int = 32,
    tail_s: float = 1.0,
    soundfont: Any = None,
    parts: Iterable[str] | None = None,
    chunk: int = CHUNK_FRAMES,
) -> Iterator[np.ndarray]:
    """Render a recording block by block.

    Args:
        rec: the session.
        sample_rate: Hz.
        voices: preset of the player's and the partner's voice.
        polyphony: voices at once.
        tail_s: seconds rendered after the last event, for the release tails.
        soundfont: a `SoundFontSynth` to use instead of the built-in voices.
        parts: only these parts' messages (None: all), e.g. ("bass",) for a stem.
        chunk: frames per block.

    Yields:
        float32 arrays (2, frames), rows the player's voice and the partner's, `chunk`
        frames each but the last; together `render_frames(rec, sample_rate, tail_s)`
        frames. A yielded array is reused for the next block: copy it to keep it.
    """
    total = render_frames(rec, sample_rate, tail_s)
    keep = set(parts) if parts is not None else None
    state = None if soundfont is not None else SynthState(sample_rate, polyphony, voices)
    if soundfont is not None:
        soundfont.reset()  # (a render before it on the same synth, the mix before a stem, left it sounding)
    buf = np.zeros((2, chunk), np.float32)
    events = iter(rec.events)
    pending = next(events, None)
    sources: dict[tuple[str, int], int] = {}  # (part, channel) -> a key source of its own on the voice
    end = min(total, int(round(rec.duration * sample_rate)))  # where every note is let go (see below)
    ended = False
    start = 0
    while start < total:
        n = min(chunk, total - start)
        block = buf[:, :n]
        block.fill(0.0)
        pos = 0  # within the block
        while pending is not None:
            kind = _KINDS.get(pending.msg.type) or (0xC0 if soundfont is not None and
                                                     pending.msg.type == "program_change" else None)
            if kind is None or (keep is not None and pending.part not in keep):
                pending = next(events, None)
                continue
            at = min(total, int(round(pending.t * sample_rate))) - start
            if at >= n:
                break  # belongs to a later block
            if at > pos:
                _render(state, soundfont, block[:, pos:at])
                pos = at
            msg = pending.msg
            d1, d2 = (msg.control, msg.value) if kind == 0xB0 else (msg.program, 0) if kind == 0xC0 \
                else (msg.note, msg.velocity)
            voice = VOICE_OF_PART.get(pending.part, 1)
            if soundfont is not None:  # (each channel on its own program, as a GM module plays a file)
                soundfont.message(voice, kind, d1, d2, msg.channel)
            else:
                source = sources.setdefault((pending.part, msg.channel), len(sources))
                apply_message(state, voice, kind, d1, d2, source, pending.part == "click" or is_drum(pending))
            pending = next(events, None)
        if pending is None and not ended and end - start < n:
            # the file's end: every key and pedal let go, as a sequencer's stop does, so that
            # what a pedal left down holds (a DAW's export ending on a pedalled chord) rings
            # out in the tail, not to the last sample of the WAV and stopped there at full level
            at = max(end - start, pos)
            if at > pos:
                _render(state, soundfont, block[:, pos:at])
                pos = at
            _let_go(state, soundfont)
            ended = True
        if pos < n:
            _render(state, soundfont, block[:, pos:n])
        _fade_end(block, start, total, int(END_FADE_S * sample_rate))
        yield block
        start += n


def recording_to_parts(
    rec: Recording,
    sample_rate: int = 48000,
    voices: tuple[str, str] = ("organ", "epiano"),
    polyphony: int = 32,
    tail_s: float = 1.0,
    soundfont: Any = None,
) -> np.ndarray:
    """Render a whole recording into memory: float32 array (2, samples), rows the player's
    voice and the partner's. For short recordings and tests; files go through
    `iter_parts` and `write_wav`.

    The length is `render_frames(rec, sample_rate, tail_s)`.
    """
    out = np.zeros((2, render_frames(rec, sample_rate, tail_s)), np.float32)
    pos = 0
    for block in iter_parts(rec, sample_rate, voices, polyphony, tail_s, soundfont):
        out[:, pos:pos + block.shape[1]] = block
        pos += block.shape[1]
    return out


def _fade_end(block: np.ndarray, start: int, total: int, fade: int) -> None:
    """Fade the frames of `block` (frames `start`... of the render) that fall in the render's
    last `fade` frames down to silence on its last frame, whatever still sounds there (a
    release longer than the tail): a WAV that ended mid-sound clicked as it ended."""
    lo = max(start, total - fade)
    hi = start + block.shape[1]
    if fade <= 0 or lo >= hi:
        return
    left = (total - 1 - np.arange(lo, hi)) / fade  # 1 -> 0 on the last frame
    block[:, lo - start:] *= (left * left).astype(np.float32)


def _let_go(state: SynthState | None, soundfont: Any) -> None:
    """Every key up and every pedal up, each note into its own release."""
    if soundfont is not None:
        soundfont.let_go()
    elif state is not None:
        all_notes_off(state)


def _render(state: SynthState | None, soundfont: Any, out: np.ndarray) -> None:
    frames = out.shape[1]
    if state is not None and state.n == 0:
        return  # silence: `out` is already zeros (renders of sparse sessions fly)
    if soundfont is not None:
        soundfont.render(frames, out)
    else:
        render(state, frames, out)


def parts_to_stereo(parts: np.ndarray, volume: float = 0.8, which: tuple[int, ...] = (0, 1)) -> np.ndarray:
    """Mix part rows to stereo (samples, 2) float32 with the live engine's panning and
    soft clipping; `which` picks the rows (a stem is one row)."""
    pan = PAN[:, list(which)] * np.float32(volume)
    stereo = pan @ parts[list(which)]
    return soft_clip(stereo).T


def stereo_to_wav(stereo: np.ndarray, path: str | Path, sample_rate: int) -> Path:
    """Write float samples (samples, channels) in [-1, 1] as a 16-bit PCM WAV file
    (atomically: see `write_wav`)."""
    channels = stereo.shape[1] if stereo.ndim == 2 else 1
    return write_wav([stereo], path, sample_rate, channels)


def write_wav(blocks: Iterable[np.ndarray], path: str | Path, sample_rate: int, channels: int = 2) -> Path:
    """Write float sample blocks (samples, channels) in [-1, 1] as one 16-bit PCM WAV file,
    block by block, into a temporary file beside `path` that replaces `path` only once
    complete: on any failure (a full disk, an interrupted render) nothing is left behind.

    Raises:
        OSError: the file cannot be written (the temporary file is removed first).
    """
    path = Path(path)
    with whole_or_nothing(path) as tmp, wave.open(str(tmp), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        for block in blocks:
            pcm = np.round(np.clip(block, -1.0, 1.0) * 32767.0).astype("<i2")
            w.writeframes(np.ascontiguousarray(pcm).tobytes())
    return path


def wav_to_array(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a 16-bit PCM WAV: (float32 samples x channels in [-1, 1], sample rate).
    Inverse of `stereo_to_wav`."""
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32767.0
        return data.reshape(-1, w.getnchannels()), w.getframerate()


def wav_bytes(frames: int, channels: int = 2) -> int:
    """Size in bytes of a 16-bit PCM WAV file of `frames` frames."""
    return WAV_HEADER_BYTES + frames * channels * 2


def check_render(rec: Recording, out: Path, sample_rate: int, tail_s: float, files: int = 1) -> int:
    """Refuse, before any audio is computed, a render that cannot be written: an output
    folder that is missing or read-only, an output path that is a folder, a session too
    long for a WAV file, too little free disk space, or an output that is not a regular file.
    Returns the frames it will last.

    Raises:
        ConfigError: one line naming the path or the length and what to do.
    """
    out = writable_output(out, "-o")
    folder = out.parent if str(out.parent) else Path(".")
    frames = render_frames(rec, sample_rate, tail_s)
    size = wav_bytes(frames)
    if size > WAV_MAX_BYTES:
        most = (WAV_MAX_BYTES - WAV_HEADER_BYTES) / (4 * sample_rate) / 3600
        raise ConfigError(f"the session lasts {rec.duration / 3600:,.1f} hours: a WAV file holds at most "
                          f"{most:.1f} hours at {sample_rate} Hz; render a part of it (cut it in a DAW) or use a "
                          "lower synth.sample_rate")
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    if free is not None and free < size * files:
        raise ConfigError(f"the render needs {size * files / 1e6:,.1f} MB and {folder} has {free / 1e6:,.1f} MB free: "
                          "free some space or write elsewhere with -o")
    return frames


def _beside_all(wav: Path, stems: Iterable[str]) -> Path:
    """`beside(wav)`, where none of its stems (`<name>-<part>.wav`) is there already either."""
    stems = tuple(stems)
    n = 1
    while True:
        out = wav if n == 1 else wav.with_name(f"{wav.stem}-{n}{wav.suffix}")
        if all(beside(f) == f for f in (out, *(_stem(out, part) for part in stems))):
            return out
        n += 1


def _stem(out: Path, part: str) -> Path:
    return out.with_name(f"{out.stem}-{part}{out.suffix or '.wav'}")


def midi_file_to_wav(
    midi: str | Path,
    wav: str | Path | None = None,
    sample_rate: int = 48000,
    voices: tuple[str, str] = ("organ", "epiano"),
    polyphony: int = 32,
    volume: float = 0.8,
    stems: bool = False,
    soundfont: Any = None,
    tail_s: float = 1.0,
    say: Callable[[str], None] | None = None,
) -> tuple[list[Path], float]:
    """Render a session file to `wav` (default: beside it) and, with `stems`, each part
    that played to `<name>-<part>.wav`; returns (paths, seconds of audio). What
    `improv render` calls. A file's General MIDI drums (channel 10) play on the built-in
    drum kit (or the SoundFont's).

    Raises:
        DataError: the MIDI file cannot be read, or has no notes.
        ConfigError: the WAV files cannot be written (see `check_render`).
        OSError: writing failed midway (nothing is left behind).
    """
    from improv.core.formats.midifile import load_recording

    rec = load_recording(midi)
    if not any(e.msg.type == "note_on" and e.msg.velocity > 0 for e in rec.events):
        raise DataError(f"{midi} has no notes to render (a WAV of silence would say nothing); give a session or MIDI "
                        "file in which something was played")
    present = rec.parts
    out = Path(wav) if wav else _beside_all(Path(midi).with_suffix(".wav"), present if stems else ())
    if not wav and say is not None and out != Path(midi).with_suffix(".wav"):
        say(f"{Path(midi).with_suffix('.wav')} is there already and is kept: writing {out} (-o names the file)")
    files = 1 + (len(present) if stems else 0)
    out = writable_output(out, "-o", (midi,))  # through a link; never the .mid itself
    frames = check_render(rec, out, sample_rate, tail_s, files)
    if say is not None and frames > LONG_RENDER_S * sample_rate:  # a stray note far on makes a long silence: say so
        size = frames * 4 * files / 1e6  # 16-bit stereo
        say(f"rendering {frames / sample_rate / 60:.0f} min of audio ({size:,.0f} MB in {files} file"
            f"{'s' if files > 1 else ''}): the file's last note ends that late; Ctrl-C stops it, leaving no file")

    def stereo(parts: Iterable[str] | None, rows: tuple[int, ...], sf: Any) -> Iterator[np.ndarray]:
        for block in iter_parts(rec, sample_rate, voices, polyphony, tail_s, sf, parts):
            yield parts_to_stereo(block, volume, rows)

    stem_paths = {part: writable_output(_stem(out, part), "--stems", (midi,)) for part in present} if stems else {}
    written = [write_wav(stereo(None, (0, 1), soundfont), out, sample_rate)]
    for part, stem in stem_paths.items():
        written.append(write_wav(stereo((part,), (VOICE_OF[VOICE_OF_PART[part]],), soundfont), stem, sample_rate))
    return written, frames / sample_rate

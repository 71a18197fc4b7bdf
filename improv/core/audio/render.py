"""Offline rendering: a recorded session -> audio, faster than real time.

Events are applied at the exact sample where they happened (`round(t * sample_rate)`),
through the same synth the live engine plays (or a SoundFont), so a render sounds like
the session did. WAV files are written with the standard library's `wave` (16-bit PCM).
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np

from improv.core.formats.midifile import Recording
from improv.core.audio.synth import PAN, SynthState, apply_message, render, soft_clip

_KINDS = {"note_on": 0x90, "note_off": 0x80, "control_change": 0xB0}


def recording_to_parts(
    rec: Recording,
    sample_rate: int = 48000,
    voices: tuple[str, str] = ("organ", "epiano"),
    polyphony: int = 32,
    tail_s: float = 1.0,
    soundfont: Any = None,
) -> np.ndarray:
    """Render a recording: float32 array (2, samples), rows player and partner.

    Args:
        tail_s: seconds rendered after the last event, for the release tails.
        soundfont: a `SoundFontSynth` to use instead of the built-in voices.

    The length is `round(rec.duration * sample_rate) + round(tail_s * sample_rate)`.
    """
    total = int(round(rec.duration * sample_rate)) + int(round(tail_s * sample_rate))
    out = np.zeros((2, total), np.float32)
    state = None if soundfont is not None else SynthState(sample_rate, polyphony, voices)
    pos = 0
    for e in rec.events:
        kind = _KINDS.get(e.msg.type)
        if kind is None:
            continue
        at = min(total, int(round(e.t * sample_rate)))
        if at > pos:
            _render(state, soundfont, out[:, pos:at])
            pos = at
        part = 0 if e.part == "player" else 1
        d1, d2 = (e.msg.control, e.msg.value) if kind == 0xB0 else (e.msg.note, e.msg.velocity)
        if soundfont is not None:
            soundfont.message(part, kind, d1, d2)
        else:
            apply_message(state, part, kind, d1, d2)
    if pos < total:
        _render(state, soundfont, out[:, pos:total])
    return out


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
    soft clipping; `which` picks the parts (a stem is one part)."""
    pan = PAN[:, list(which)] * np.float32(volume)
    stereo = pan @ parts[list(which)]
    return soft_clip(stereo).T


def stereo_to_wav(stereo: np.ndarray, path: str | Path, sample_rate: int) -> Path:
    """Write float samples (samples, channels) in [-1, 1] as a 16-bit PCM WAV file."""
    path = Path(path)
    pcm = np.clip(stereo, -1.0, 1.0)
    pcm = np.round(pcm * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(pcm.shape[1] if pcm.ndim == 2 else 1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(np.ascontiguousarray(pcm).tobytes())
    return path


def wav_to_array(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a 16-bit PCM WAV: (float32 samples x channels in [-1, 1], sample rate).
    Inverse of `stereo_to_wav`."""
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32767.0
        return data.reshape(-1, w.getnchannels()), w.getframerate()


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
) -> tuple[list[Path], float]:
    """Render a session file to `wav` (default: beside it) and, with `stems`, to
    `<name>-player.wav` and `<name>-partner.wav`; returns (paths, seconds of audio).
    What `improv render` and a session's `--record-wav` call."""
    from improv.core.formats.midifile import load_recording

    rec = load_recording(midi)
    out = Path(wav) if wav else Path(midi).with_suffix(".wav")
    parts = recording_to_parts(rec, sample_rate, voices, polyphony, tail_s, soundfont)
    written = [stereo_to_wav(parts_to_stereo(parts, volume), out, sample_rate)]
    if stems:
        for i, part in enumerate(("player", "partner")):
            stem = out.with_name(f"{out.stem}-{part}{out.suffix or '.wav'}")
            written.append(stereo_to_wav(parts_to_stereo(parts, volume, (i,)), stem, sample_rate))
    return written, parts.shape[1] / sample_rate

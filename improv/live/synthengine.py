"""The built-in synth's audio callback, without a device: pending messages -> one block.

It stands apart from the sounddevice stream (improv/live/audio.py) so that it is tested
and benchmarked without PortAudio: `SynthEngine.process` is all the callback does.
Messages reach it through a `collections.deque` (append and popleft are atomic in CPython,
so neither side ever waits on a lock); each carries the time it was meant to sound, and
`process` places it at the matching sample of the block it renders, one block later, so
that timing jitter is not added on top of the block size. It writes into preallocated
buffers, takes no locks, touches no files and outputs silence if anything goes wrong.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np

from improv.core.audio.synth import MAX_BLOCK, PAN, SynthState, all_notes_off, apply_message
from improv.core.audio.synthrender import render, soft_clip

PANIC = 0x00  # a queued message kind of the engine's own: every key up, every pedal of every channel up


class SynthEngine:
    """The callback's work without a device: pending messages -> one output block.

    Args:
        sample_rate: Hz.
        channels: output channels (1 = mono, 2 or more = stereo on the first two).
        volume: 0..1 master volume.
        voices: preset per part (player, partner).
        polyphony: voices at once.
        soundfont: a loaded `SoundFontSynth` to play instead of the built-in voices.
        kit: the sources (MIDI channels) whose notes the built-in voices play as drum hits.
    """

    def __init__(self, sample_rate: int = 48000, channels: int = 2, volume: float = 0.8,
                 voices: tuple[str, str] = ("organ", "epiano"), polyphony: int = 32,
                 soundfont: Any = None, kit: frozenset[int] = frozenset()) -> None:
        self.sample_rate = sample_rate
        self.kit = kit
        self.channels = channels
        self.volume = np.float32(volume)
        self.state = SynthState(sample_rate, polyphony, voices)
        self.soundfont = soundfont
        self.pending: collections.deque = collections.deque()
        self._block = np.zeros((2, MAX_BLOCK), np.float32)
        self._mix = np.zeros(2 * MAX_BLOCK, np.float32)
        self._pan = PAN * self.volume if channels >= 2 else (PAN.sum(axis=0, keepdims=True) / 2 * self.volume)
        self.callbacks = 0
        self.frames = 0  # frames rendered, for monitoring
        self.errors = 0

    def push(self, part: int, kind: int, d1: int, d2: int, stamp: float, source: int = 0) -> None:
        """Queue a message (any thread): `stamp` is the `time.perf_counter()` it was sent;
        `source`: its MIDI channel (the comping's C4 and the partner's share a voice, not a key;
        a SoundFont plays each channel on its own program)."""
        self.pending.append((stamp, part, kind, d1, d2, source))

    def process(self, outdata: np.ndarray, frames: int, now: float) -> None:
        """Fill `outdata` (frames x channels, float32) with the next block (audio thread).

        Messages sent during the previous block's span land at the same position in
        this block; older ones play at its first sample.
        """
        self.callbacks += 1
        self.frames += frames
        try:
            if frames > MAX_BLOCK:
                raise ValueError("block too long")
            block = self._block[:, :frames]
            start = now - frames / self.sample_rate
            pos = 0
            pending = self.pending
            while pending:
                stamp, part, kind, d1, d2, source = pending[0]
                off = int((stamp - start) * self.sample_rate)
                if off >= frames:
                    break  # sent after this block's span: it belongs to the next one
                pending.popleft()
                if off > pos:
                    self._render(block[:, pos:off], off - pos)
                    pos = off
                self._apply(part, kind, d1, d2, source)
            if pos < frames:
                self._render(block[:, pos:frames], frames - pos)
            mixed = self._mix[:self._pan.shape[0] * frames].reshape(self._pan.shape[0], frames)
            np.dot(self._pan, block, out=mixed)
            soft_clip(mixed)
            outdata[:, :mixed.shape[0]] = mixed.T
            if outdata.shape[1] > mixed.shape[0]:
                outdata[:, mixed.shape[0]:] = 0.0
        except Exception:  # never let the audio thread die: output silence and count it
            self.errors += 1
            outdata.fill(0)

    def _render(self, out: np.ndarray, frames: int) -> None:
        if self.soundfont is not None:
            self.soundfont.render(frames, out)
        else:
            render(self.state, frames, out)

    def _apply(self, part: int, kind: int, d1: int, d2: int, source: int) -> None:
        if kind == PANIC:
            if self.soundfont is None:
                all_notes_off(self.state)  # (the pedal of each channel: a CC 64 lifts only its own)
            else:
                self.soundfont.let_go()  # (every channel's keys and pedal)
        elif self.soundfont is not None:
            self.soundfont.message(part, kind, d1, d2, source)  # (on its own channel: its program, keys, pedal)
        else:
            apply_message(self.state, part, kind, d1, d2, source, source in self.kit)

    def panic(self, stamp: float) -> None:
        """Release every note of every part, whichever channel's sustain pedal holds it (any
        thread): each fades out over its own release."""
        self.push(0, PANIC, 0, 0, stamp)

"""A recorded session and note messages for the MIDI file tests (test_midifile, test_miditrack)."""

import mido

from improv.core.formats.midifile import Marker, Recording, TimedMessage


def on(note, vel=90, ch=0):
    return mido.Message("note_on", channel=ch, note=note, velocity=vel)


def off(note, ch=0):
    return mido.Message("note_off", channel=ch, note=note, velocity=0)


def session(tempo=100.0):
    # (seconds, part, message) as they happened, off the beat grid on purpose
    events = [
        (0.013, "player", on(60)),
        (0.301, "player", off(60)),
        (0.350, "player", mido.Message("control_change", channel=5, control=64, value=127)),
        (0.52, "player", on(64, 70)),
        (1.007, "player", off(64)),
        (1.2, "partner", on(67, 100, ch=9)),
        (1.2, "partner", on(71, 100, ch=9)),
        (1.83, "partner", off(67, ch=9)),
        (1.91, "partner", off(71, ch=9)),
    ]
    markers = [Marker(0.0, "Dm7", "chord"), Marker(0.0, "A", "section"),
               Marker(1.2, "bar 1: heard C# over Dm7 -> answered in D dorian", "text")]
    return Recording(tuple(TimedMessage(t, p, m) for t, p, m in events), tuple(markers),
                     ((0.0, tempo),), 3, 1, 2, "test session")

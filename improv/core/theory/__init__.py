"""Music theory: notes and phrases, chord symbols, charts and forms, voicings, statistics."""

"""Files: sessions and phrases as MIDI, the Weimar Jazz Database, tune files, piano-roll data."""

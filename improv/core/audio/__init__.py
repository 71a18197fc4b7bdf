"""Sound without a device: the built-in synth voices, SoundFont playback, offline rendering."""

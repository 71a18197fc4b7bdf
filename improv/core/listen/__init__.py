"""Listening to the player: calls cut from the note stream, the harmony they imply, MIDI clock."""

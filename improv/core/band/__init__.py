"""The rhythm section's parts: comping and the walking bass (and learning its weights)."""

"""Embrace the mistake: hearing outside notes, the strategies built on them, reharmonisation, explanations."""

"""improv: a real-time jazz improvisation partner."""

__version__ = "0.1.0"

"""The small error hierarchy. Every CLI failure ends in one of these: one clear line."""


class ImprovError(Exception):
    """Base class: the message says what was expected, what was found and what to do."""

    exit_code = 1


class ConfigError(ImprovError):
    """A config file, tune file or flag value that cannot be used."""

    exit_code = 2


class ChordError(ImprovError):
    """A chord symbol or chart that cannot be read."""

    exit_code = 2


class PortError(ImprovError):
    """A MIDI port or audio device that was not found or could not be opened."""

    exit_code = 2


class ModelError(ImprovError):
    """A missing, corrupt or incompatible model checkpoint."""

    exit_code = 2


class DataError(ImprovError):
    """Training or evaluation data that cannot be read."""

    exit_code = 2

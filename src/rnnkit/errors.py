"""Errors a user can act on. The command line prints them as one line, never a traceback.

Each message says what is wrong, where, and what to do about it.
They subclass ``ValueError`` so that library callers can catch them as such.
"""


class RnnkitError(ValueError):
    """Base of every error caused by the user's input rather than a bug in rnnkit."""


class DataError(RnnkitError):
    """A corpus or dataset that cannot be read or used (missing, binary, badly encoded, too small)."""


class CheckpointError(RnnkitError):
    """A checkpoint that is missing, truncated, corrupted, or does not fit the model."""


class ConfigError(RnnkitError):
    """Options that are invalid or contradict each other."""

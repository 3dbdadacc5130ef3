"""Errors users can act on. The CLI turns each into one line on stderr and exit code 2."""


class EdgeferError(Exception):
    """Base class: a problem with the user's input, not a bug."""

    exit_code = 2


class DataError(EdgeferError):
    """A data set that cannot be read: names the file and the row or path."""


class ModelError(EdgeferError):
    """A model file that is missing, corrupt or does not match what was asked."""


class ConfigError(EdgeferError):
    """An option or combination of options that cannot work."""

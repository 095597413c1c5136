"""Errors a user can act on. The CLI prints them as one line and exits non-zero."""


class NervpError(Exception):
    """Base class: the message names the file or setting at fault and how to fix it."""


class ConfigError(NervpError, ValueError):
    """An impossible setting (size, count, rate...)."""

"""Errors a user can act on. The CLI prints them as one line and exits non-zero."""

from __future__ import annotations


class NervpError(Exception):
    """Base class: the message names the file or setting at fault and how to fix it."""


class ConfigError(NervpError, ValueError):
    """An impossible setting (size, count, rate...)."""


class Interrupted(NervpError):
    """SIGINT or SIGTERM arrived; `signum` says which (the CLI exits with 128 + signum)."""

    def __init__(self, signum: int, message: str = "") -> None:
        super().__init__(message or f"stopped by signal {signum}")
        self.signum = signum


_STOP = {"signum": 0, "cooperative": 0}


def request_stop(signum: int) -> None:
    """The CLI's SIGINT/SIGTERM handler: inside `cooperative()` the first signal only sets the
    flag that long loops poll (`check_stop`); otherwise (or on a second signal) raise at once."""
    first = _STOP["signum"] == 0
    _STOP["signum"] = _STOP["signum"] or signum
    if not (first and _STOP["cooperative"]):
        raise Interrupted(signum)


def stop_requested() -> int:
    """The signal number of a pending stop request, 0 when none."""
    return _STOP["signum"]


def check_stop() -> None:
    """Raise `Interrupted` when a stop was requested (called by long loops between units of work
    whose results are already saved)."""
    if _STOP["signum"]:
        raise Interrupted(_STOP["signum"])


def clear_stop() -> None:
    """Forget a stop request (the CLI does so when a command ends)."""
    _STOP["signum"] = 0


class cooperative:  # noqa: N801 (a context manager used as `with cooperative():`)
    """While active, a first SIGINT/SIGTERM only sets the stop flag: the loop inside stops at
    its next `check_stop` with everything done so far saved."""

    def __enter__(self) -> cooperative:
        _STOP["cooperative"] += 1
        return self

    def __exit__(self, *exc: object) -> None:
        _STOP["cooperative"] -= 1

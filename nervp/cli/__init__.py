"""The `nervp` command: one entry point, one subcommand per job.

Each subcommand is a dataclass whose fields are its options; a stage's config tree is one of
those fields, so every setting is declared once, in its stage's config, and reaches the CLI
as it is (nested settings as `--group.name`). Commands with presets (`simulate`, `train`,
`demo`) show the chosen preset's values as their defaults: the preset is read from the
command line first and the command's defaults are built from it (`default_for`).
"""

from __future__ import annotations

import errno
import os
import signal
import sys
from typing import Annotated, Any

import tyro

from nervp.cli.bench import Benchmark, Score
from nervp.cli.data import Capture, Ingest, Inspect, Simulate
from nervp.cli.demo import Demo
from nervp.cli.estimate import EstimateLight
from nervp.cli.live import Live
from nervp.cli.parse import Condition, Track
from nervp.cli.relight import Relight
from nervp.cli.run import Evaluate, Reenact
from nervp.cli.train import Train
from nervp.cli.view import View
from nervp.errors import Interrupted, NervpError, clear_stop, request_stop

COMMANDS: dict[str, type] = {
    "simulate": Simulate, "inspect": Inspect, "demo": Demo, "capture": Capture, "train": Train,
    "reenact": Reenact, "evaluate": Evaluate, "track": Track, "condition": Condition, "relight": Relight,
    "view": View, "ingest": Ingest, "live": Live, "score": Score, "benchmark": Benchmark,
    "estimate-light": EstimateLight,
}


def _preset_in(argv: list[str]) -> str:
    """The value of --preset on the command line ('default' when absent or unknown: tyro then
    reports an unknown name itself)."""
    from nervp.presets import TRAIN_PRESETS

    for i, a in enumerate(argv):
        value = argv[i + 1] if a == "--preset" and i + 1 < len(argv) else a.removeprefix("--preset=")
        if (a == "--preset" or a.startswith("--preset=")) and value in TRAIN_PRESETS:
            return value
    return "default"


def command_type(argv: list[str]) -> Any:
    """The union of subcommands tyro parses, with preset-dependent defaults for the one named."""
    name = next((a for a in argv if not a.startswith("-")), None)
    options = []
    for sub, cls in COMMANDS.items():
        conf = tyro.conf.subcommand(sub)
        if sub == name and hasattr(cls, "default_for"):
            conf = tyro.conf.subcommand(sub, default=cls.default_for(_preset_in(argv), argv))
        options.append(Annotated[cls, conf])
    union = options[0]
    for o in options[1:]:
        union = union | o
    return union


RESUMABLE = ("simulate", "capture", "train", "reenact", "ingest", "benchmark")
"""Commands that keep their work when stopped: the same command again goes on from it."""


def _interrupted(e: Interrupted, name: str | None) -> int:
    """Print the one line for a stop by signal; return 128 + the signal's number."""
    try:
        sig = signal.Signals(e.signum).name
    except ValueError:
        sig = f"signal {e.signum}"
    how = ("what was done is saved: run the same command again to resume" if name in RESUMABLE
           else "nothing half-written was kept: run the same command again to start over")
    print(f"nervp: stopped by {sig}; {how}", file=sys.stderr)
    return 128 + e.signum


DISK_FULL = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
             errno.EFBIG: "a file grew past the file system's or the process's size limit (ulimit -f)"}
"""Write errors that mean 'no room': reported in one line, never as a traceback."""


def _disk_full(e: OSError, cmd: Any, name: str | None) -> str:
    """The one line for a write that found no room: what happened, the output, what to do."""
    out = getattr(cmd, "out", None) or getattr(cmd, "run_dir", None) or e.filename
    keep = ("what was done is saved: free space and run the same command again to resume"
            if name in RESUMABLE else "nothing half-written was kept: free space and run it again")
    where = f" writing {os.fspath(out)}" if out is not None else ""
    return f"{DISK_FULL[e.errno]}{where} ({e.strerror}); {keep}"


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; 0 on success, 2 on an error a user can act on, 128 + N when stopped
    by signal N (SIGINT 130, SIGTERM 143): a first SIGINT/SIGTERM asks the command to stop
    (long loops stop between saved units of work), a second stops it at once."""
    argv = sys.argv[1:] if argv is None else list(argv)
    cmd = tyro.cli(command_type(argv), args=argv, prog="nervp",
                   description="nervp: relightable neural video portraits from a light-stage capture")
    name = next((k for k, cls in COMMANDS.items() if type(cmd) is cls), None)
    previous = {}
    try:
        for s in (signal.SIGINT, signal.SIGTERM):
            previous[s] = signal.signal(s, lambda signum, _frame: request_stop(signum))
    except ValueError:  # not the main thread: keep Python's defaults
        pass
    try:
        cmd.run()
    except Interrupted as e:
        return _interrupted(e, name)
    except NervpError as e:
        print(f"nervp: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return _interrupted(Interrupted(signal.SIGINT), name)
    except OSError as e:
        if e.errno not in DISK_FULL:
            raise
        print(f"nervp: error: {_disk_full(e, cmd, name)}", file=sys.stderr)
        return 2
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        clear_stop()
    return 0


__all__ = ["COMMANDS", "main"]

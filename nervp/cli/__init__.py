"""The `nervp` command: one entry point, one subcommand per job.

Each subcommand is a dataclass whose fields are its options; a stage's config tree is one of
those fields, so every setting is declared once, in its stage's config, and reaches the CLI
as it is (nested settings as `--group.name`). Commands with presets (`simulate`, `train`,
`demo`) show the chosen preset's values as their defaults: the preset is read from the
command line first and the command's defaults are built from it (`default_for`).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import tyro

from nervp.cli.data import Capture, Inspect, Simulate
from nervp.cli.demo import Demo
from nervp.cli.parse import Condition, Track
from nervp.cli.relight import Relight
from nervp.cli.run import Evaluate, Reenact
from nervp.cli.train import Train
from nervp.errors import NervpError

COMMANDS: dict[str, type] = {
    "simulate": Simulate, "inspect": Inspect, "demo": Demo, "capture": Capture, "train": Train,
    "reenact": Reenact, "evaluate": Evaluate, "track": Track, "condition": Condition, "relight": Relight,
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    cmd = tyro.cli(command_type(argv), args=argv, prog="nervp",
                   description="nervp: relightable neural video portraits from a light-stage capture")
    try:
        cmd.run()
    except NervpError as e:
        print(f"nervp: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nervp: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    return 0


__all__ = ["COMMANDS", "main"]

"""One discipline for everything a command writes (docs/RELIABILITY.md, "Outputs").

Before any work, `claim` checks each output path and then holds an exclusive lock on it for
the whole write:

1. an output is never an input, inside one, nor around one (symlinks resolved);
2. an existing output is refused unless `overwrite`, and `overwrite` replaces only an
   earlier output of the same kind (`output_kind`): a nervp dataset of the same manifest
   `kind`, a nervp run directory, a picture, video or JSON report of the same file type;
   never an ordinary folder or a file of another type;
3. a second writer of the same output gets one clear error instead of racing the first:
   the lock is `fcntl.flock` on `.NAME.lock` beside the output (holding "PID COMMAND"),
   removed when the write ends; a lock file left by a killed process is taken over.

The lock is re-entrant within one process, so a command and the writer it calls can both
hold it. Sidecars (contact strips, sheets) are claimed like their main output.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from nervp.errors import NervpError

RUN_CONFIG = "config.json"
"""The file that makes a directory a nervp run (written by `nervp train`)."""
RUN_FILES = frozenset({RUN_CONFIG, "conditioning.safetensors", "regressor.safetensors", "target_params.json",
                       "target_params.safetensors", "model.safetensors", "final.json", "log.jsonl",
                       "checkpoints", "superseded", "tb"})
"""Everything `nervp train` writes into a run directory (other commands never overwrite these)."""
VIEW_FORMAT = "nervp-view 1"
"""The `format` of an exported `nervp view` page's scene.json (what makes a folder one)."""
MAGIC = {"png": (0, b"\x89PNG\r\n\x1a\n"), "exr": (0, b"\x76\x2f\x31\x01"), "mp4": (4, b"ftyp")}
"""File type -> (offset, the bytes every such file has there)."""


class OutputError(NervpError):
    """An output that must not or cannot be written (the message names the path and the fix)."""


@dataclass(frozen=True)
class Output:
    """One path a command writes and the kind of thing it is.

    kind: "dataset:<manifest kind>" (e.g. "dataset:olat"), "run", "png", "exr", "mp4", "json" or
    "view" (an exported `nervp view` page).
    """

    path: Path
    kind: str


def dataset(kind: str) -> str:
    """The output kind of a nervp dataset whose manifest `kind` is `kind`."""
    return f"dataset:{kind}"


def output_kind(path: Path) -> str | None:
    """What nervp output is at `path`: "dataset:<kind>", "run", "png", "exr", "mp4", "json",
    "view", or None (nothing nervp writes: an ordinary folder or file). `path` must exist."""
    path = Path(path)
    if path.is_dir():
        manifest = _json(path / "manifest.json")
        if isinstance(manifest, dict) and manifest.get("format") == "nervp" and isinstance(manifest.get("kind"), str):
            return dataset(manifest["kind"])
        config = _json(path / RUN_CONFIG)
        if isinstance(config, dict) and isinstance(config.get("train"), dict):
            return "run"
        scene = _json(path / "scene.json")
        if isinstance(scene, dict) and scene.get("format") == VIEW_FORMAT:
            return "view"
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return None
    for kind, (at, magic) in MAGIC.items():
        if head[at:at + len(magic)] == magic:
            return kind
    return "json" if head.lstrip()[:1] == b"{" and isinstance(_json(path), dict) else None


def _json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def describe(kind: str | None) -> str:
    """Words for an output kind, for messages."""
    if kind is None:
        return "not a nervp output"
    if kind.startswith("dataset:"):
        return f"a nervp {kind[8:]!r} dataset"
    return {"run": "a nervp run directory", "png": "a PNG picture", "exr": "an EXR picture",
            "mp4": "an MP4 video", "json": "a JSON report", "view": "an exported nervp view page"}.get(kind, kind)


def _real(path: Path) -> Path:
    return Path(os.path.realpath(Path(path).absolute()))


def check_not_input(out: Path, inputs: Iterable[Path]) -> None:
    """Refuse an output that is, is inside or contains an input (symlinks resolved)."""
    o = _real(out)
    for i in inputs:
        if i is None or not Path(i).exists():
            continue
        r = _real(i)
        if o == r:
            why = "is the input"
        elif r in o.parents:
            why = "is inside the input"
        elif o in r.parents:
            why = "contains the input"
        else:
            continue
        raise OutputError(f"cannot write {out}: it {why} {i}; choose an output outside the inputs")


def check_parent(out: Path) -> None:
    """The folder an output goes into exists and is writable."""
    parent = Path(out).absolute().parent
    if not parent.is_dir():
        raise OutputError(f"cannot write {out}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {out}: directory {parent} is not writable")


def check_output(out: Output, overwrite: bool, inputs: Iterable[Path] = ()) -> None:
    """All of the module's rules 1 and 2 for one output, before any work."""
    path = Path(out.path)
    check_not_input(path, inputs)
    check_parent(path)
    if not (path.exists() or path.is_symlink()):
        return
    if not overwrite:
        raise OutputError(f"{path} already exists: choose another output or pass --overwrite")
    have = output_kind(path)
    same = have is not None and (have == out.kind or (out.kind == "dataset:" and have.startswith("dataset:")))
    if not same:
        want = "a nervp dataset" if out.kind == "dataset:" else describe(out.kind)
        raise OutputError(f"{path} is {describe(have)}, not {want}: --overwrite replaces only an earlier "
                          "output of the same kind; choose another output (it was kept)")


def lock_path(path: Path) -> Path:
    """The lock file of an output: `.NAME.lock` beside it."""
    path = Path(path).absolute()
    return Path(os.path.realpath(path.parent)) / f".{path.name}.lock"


_HELD: dict[str, list[int]] = {}  # lock path -> [fd, depth], for re-entry by the same process
_GUARD = threading.Lock()


@contextlib.contextmanager
def output_lock(path: Path, what: str = "nervp command") -> Iterator[None]:
    """Hold the exclusive lock on output `path` inside the block (module docstring, rule 3);
    OutputError at once, naming the holder, when another process holds it. `what` names this
    command in the lock file and in messages."""
    key = str(lock_path(path))
    with _GUARD:
        held = _HELD.get(key)
        if held is not None:
            held[1] += 1
        else:
            _HELD[key] = [_acquire(Path(key), Path(path), what), 1]
    try:
        yield
    finally:
        with _GUARD:
            entry = _HELD[key]
            entry[1] -= 1
            if entry[1] == 0:
                del _HELD[key]
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(key)
                os.close(entry[0])


def _acquire(lock: Path, out: Path, what: str) -> int:
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise OutputError(f"cannot write {out}: cannot create its lock {lock} ({e.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(fd)
            os.close(fd)
            raise OutputError(_busy(out, lock, holder, what)) from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:  # its holder removed it as we opened it: take a fresh one
            same = False
        if not same:
            os.close(fd)
            continue
        holder = _holder(fd)
        if holder[0] > 0 and holder[0] != os.getpid() and _alive(holder[0]):  # a lock written without flock
            os.close(fd)
            raise OutputError(_busy(out, lock, holder, what))
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {what}".encode(), 0)
        return fd
    raise OutputError(f"cannot take the lock {lock} of {out}: try again")


def _holder(fd: int) -> tuple[int, str]:
    """(pid, command) written in a lock file; (0, "") when unreadable."""
    words = os.pread(fd, 200, 0).decode(errors="replace").split(None, 1)
    try:
        return int(words[0]), (words[1].strip() if len(words) > 1 else "")
    except (IndexError, ValueError):
        return 0, ""


def _busy(out: Path, lock: Path, holder: tuple[int, str], what: str) -> str:
    pid, name = holder
    who = f"another {name or what}" + (f" (pid {pid})" if pid > 0 else "")
    return (f"{who} is writing {out}: wait for it to end or choose another output "
            f"(remove {lock} only if that process is gone)")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def claim(outputs: Sequence[Output], overwrite: bool, inputs: Iterable[Path | None] = (),
          what: str = "nervp command") -> Iterator[None]:
    """Check every output (rules 1, 2) and hold all their locks (rule 3) inside the block.
    The checks run again once the locks are held, so a writer that finished meanwhile is seen."""
    inputs = [Path(i) for i in inputs if i is not None]
    for out in outputs:
        check_output(out, overwrite, inputs)
    with contextlib.ExitStack() as stack:
        for out in outputs:
            stack.enter_context(output_lock(out.path, what))
        for out in outputs:
            check_output(out, overwrite, inputs)
        yield


def existing_files(paths: Iterable[str | Path | None]) -> list[Path]:
    """The paths among `paths` that name existing files or folders (inputs given as options
    that may also be names, e.g. `--light sky`)."""
    return [Path(p) for p in paths if p is not None and str(p) and Path(p).exists()]


__all__ = ["MAGIC", "RUN_CONFIG", "RUN_FILES", "Output", "OutputError", "check_not_input", "check_output",
           "check_parent", "claim", "dataset", "describe", "existing_files", "lock_path", "output_kind",
           "output_lock"]

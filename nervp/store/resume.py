"""Resumable dataset writes: work that survives kill -9 and is picked up by the same command.

A write goes to the fixed-name work directory `.NAME.partial/` beside the output NAME
(`zstore.resumable_dir`):

    .NAME.partial/state.json     fingerprint of the job (settings, manifest); written last of
                                 the preparation, so a directory without it is started over
    .NAME.partial/data/          the dataset's zarr group, arrays created at preparation
    .NAME.partial/done/PREFIX-NNNNNNN.npz   one marker per unit of work (a frame, an image),
                                 written (atomically) after its chunks, holding its small values

A rerun with the same fingerprint skips every marked unit; one with another fingerprint is
refused (or, with --overwrite, started over). The work directory is locked (`flock`, released
by the kernel when the process dies) so two writers never share it. When every unit is marked
the writer writes its small arrays and manifest and `publish` renames `data/` to NAME.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from nervp.store.zstore import DatasetError, publish_dataset, resumable_dir

STATE = "state.json"
DATA = "data"
DONE = "done"


def fingerprint(job: Any) -> str:
    """SHA-256 of a JSON-able description of a job (keys sorted; non-JSON values by str())."""
    return hashlib.sha256(json.dumps(job, sort_keys=True, default=str).encode()).hexdigest()


class ResumableWrite:
    """The work directory of one resumable dataset write (module docstring). Use `open_work`."""

    def __init__(self, out: Path, work: Path, key: str) -> None:
        self.out, self.work, self.key = out, work, key
        self.group: zarr.Group | None = None

    @property
    def prepared(self) -> bool:
        return self.group is not None

    def _marker(self, prefix: str, i: int) -> Path:
        return self.work / DONE / f"{prefix}-{i:07d}.npz"

    def done(self, prefix: str, i: int) -> bool:
        """Whether unit `i` of kind `prefix` was completed by this or an earlier run."""
        return self.prepared and self._marker(prefix, i).is_file()

    def prepare(self, create: Callable[[zarr.Group], None]) -> zarr.Group:
        """Create the empty arrays (`create(group)`) in a fresh work directory, then the state."""
        for child in self.work.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        (self.work / DONE).mkdir()
        group = zarr.open_group(str(self.work / DATA), mode="w-")
        create(group)
        _write_atomic(self.work / STATE, json.dumps({"fingerprint": self.key, "output": self.out.name}).encode())
        self.group = group
        return group

    def mark(self, prefix: str, i: int, values: dict[str, np.ndarray]) -> None:
        """Record unit `i` as complete (its chunks are written), with its small `values`."""
        path = self._marker(prefix, i)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as f:
            np.savez(f, **{k: np.asarray(v) for k, v in values.items()})
        os.replace(tmp, path)

    def load(self, prefix: str, i: int) -> dict[str, np.ndarray]:
        """The small values recorded with unit `i`."""
        path = self._marker(prefix, i)
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError) as e:
            raise DatasetError(f"{path} is damaged ({e.__class__.__name__}): run the command again with "
                               "--overwrite to start over") from e

    def publish(self, manifest: dict[str, Any], overwrite: bool) -> None:
        """Write the manifest, rename the data to the output, remove the work directory."""
        publish_dataset(self.work / DATA, self.out, manifest, overwrite)
        shutil.rmtree(self.work, ignore_errors=True)


@contextlib.contextmanager
def open_work(out: Path, job: Any, overwrite: bool) -> Iterator[ResumableWrite]:
    """Lock and open the work directory of writing `out` for `job` (JSON-able settings).

    Resumes work of the same job; refuses work of another job in one line unless `overwrite`
    (then it is started over). The directory stays on any exception (the rerun resumes)."""
    out = Path(out).absolute()
    work = resumable_dir(out)
    key = fingerprint(job)
    work.mkdir(exist_ok=True)
    fd = os.open(work, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DatasetError(f"another nervp process is writing {out} (its work directory {work} is locked): "
                               "wait for it to finish") from None
        if not work.is_dir() or not os.path.samestat(os.fstat(fd), os.stat(work)):
            raise DatasetError(f"{work} was removed while waiting for it: run the command again")
        w = ResumableWrite(out, work, key)
        state = _read_state(work)
        if state is not None and state.get("fingerprint") != key and not overwrite:
            raise DatasetError(f"{work} holds an interrupted write of {out.name} with other settings: run that "
                               "command again to finish it, or add --overwrite to start over")
        if state is not None and state.get("fingerprint") == key and (work / DATA).is_dir():
            w.group = zarr.open_group(str(work / DATA), mode="r+")
        try:
            yield w
        except BaseException:
            if _read_state(work) is None:  # nothing worth keeping: leave no empty work directory
                shutil.rmtree(work, ignore_errors=True)
            raise
    finally:
        os.close(fd)


def _read_state(work: Path) -> dict | None:
    try:
        state = json.loads((work / STATE).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def replace_small(group: zarr.Group, name: str) -> None:
    """Remove array `name` from `group` if an interrupted finish left it (it is written again)."""
    if name in group:
        del group[name]

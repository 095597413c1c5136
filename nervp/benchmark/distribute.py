"""The benchmark's performers as Dask tasks: on local worker processes or a cluster.

Each performer (its simulation and every method's unit of work) is one task,
`run.run_performer`; tasks write into the shared OUT folder, so a cluster's workers must see it
at the same path. The driver prints each performer's log lines as it finishes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from nervp.benchmark.suite import Suite
from nervp.errors import ConfigError


@contextlib.contextmanager
def _client(workers: int, scheduler: str | None) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as e:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler} ({e}): check --scheduler") from e
        with client:
            yield client
        return
    with _environ_kept(), \
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                         dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


@contextlib.contextmanager
def _environ_kept() -> Iterator[None]:
    """Restore this process's environment afterwards: distributed's nanny writes its workers'
    settings (OMP_NUM_THREADS=1, MKL_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1, PYTHONHASHSEED, ...)
    into `os.environ` of the process that starts them, where every later subprocess (a training
    run, a tracker) would inherit them."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        for k in set(os.environ) - set(saved):
            del os.environ[k]
        os.environ.update({k: v for k, v in saved.items() if os.environ.get(k) != v})


def local_threads(workers: int) -> int:
    """Torch intra-op threads per local worker process: the machine's cores shared out."""
    return max(1, (os.cpu_count() or 1) // max(workers, 1))


def run_on_dask(out: Path, suite: Suite, device: str, log: Callable[[str], None], workers: int,
                scheduler: str | None, threads: int | None) -> None:
    """Every performer of `suite` as one task on `workers` local processes or at `scheduler`."""
    from distributed import as_completed

    from nervp.benchmark.run import run_performer

    if scheduler is None and threads is None:
        threads = local_threads(workers)
    where = f"the Dask cluster at {scheduler}" if scheduler else f"{workers} local Dask worker processes"
    log(f"{len(suite.seeds)} performer(s) on {where}")
    with _client(workers, scheduler) as client:
        futures = {client.submit(run_performer, out, suite, seed, device, threads, _quiet, key=f"performer-{seed}",
                                 pure=False): seed for seed in suite.seeds}
        for fut in as_completed(futures):
            for line in fut.result():  # re-raises a task's error here
                log(line)


def _quiet(msg: str) -> None:
    """Workers keep their log lines; the driver prints them."""


__all__ = ["local_threads", "run_on_dask"]

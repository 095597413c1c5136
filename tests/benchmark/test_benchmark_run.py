"""A micro suite end to end: every method, both tracks, the report files; resumed, and with nervp's
unit and the cross track's truth redone from scratch, it gives the same results.json byte for byte (CPU)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

import numpy as np

from nervp.benchmark.run import run_benchmark
from nervp.benchmark.suite import METHODS
from nervp.presets import SUITES


def micro():
    q = SUITES["quick"]
    train = dataclasses.replace(q.train, steps=2, ckpt_every=2, params="truth", batch=2, val_fraction=0.25,
                                loss=dataclasses.replace(q.train.loss, context=0.0))  # no shape regressor to fit
    return dataclasses.replace(q, name="micro", seeds=(0,), sim=dataclasses.replace(q.sim, frames=4, size=32),
                               source_frames=2, lightings=("ring-0", "sky"), mtp_iterations=2, train=train)


def test_micro_suite_runs_resumes_and_is_deterministic(tmp_path):
    suite = micro()
    a = tmp_path / "a"
    res = run_benchmark(a, suite, "cpu", log=lambda s: None)
    assert set(res["tracks"]["self"]) == set(METHODS) and set(res["tracks"]["cross"]) == set(METHODS)
    for track in ("self", "cross"):
        for r in res["tracks"][track].values():
            assert set(r["per_lighting"]) == {"ring-0", "sky"} and len(r["mean"]["psnr_db"]) == 2
    # the cross track scores every driving frame; the self track the held-out one
    score = json.loads((a / "units" / "0" / "nervp" / "score.json").read_text())
    assert score["self"]["frames"] == [3] and score["cross"]["frames"] == [0, 1]
    # DVP is driven by the same retargeted parameters the cross track's truth is rendered with
    from nervp.store.olat import load_olat

    n, d = (load_olat(a / "units" / "0" / m / "cross.olat") for m in ("nervp", "dvp"))
    assert np.array_equal(n.read("theta"), d.read("theta")) and np.array_equal(n.read("phi"), d.read("phi"))
    table = (a / "table.md").read_text()
    assert table.count("| DVP + MTP |") == 2 and (a / "figure.png").stat().st_size > 0
    first = (a / "results.json").read_bytes()
    run_benchmark(a, suite, "cpu", log=lambda s: None)  # resumed: every unit is done, nothing changes
    assert (a / "results.json").read_bytes() == first
    # nervp's unit from scratch (training, tracking, reenactment, relighting, scoring): the same bytes
    shutil.rmtree(a / "units" / "0" / "nervp")
    (a / "data" / "cross_0.olat").rename(tmp_path / "cross_first.olat")
    run_benchmark(a, suite, "cpu", log=lambda s: None)
    assert (a / "results.json").read_bytes() == first


def test_performers_on_dask_worker_processes_give_the_same_results(tmp_path):
    """Two performers on two local Dask worker processes, one torch thread each, write the same
    results.json as running them one after another in this process with one thread: each
    performer's work is the same pure function wherever it runs."""
    import torch

    suite = dataclasses.replace(micro(), seeds=(0, 1), methods=("nervp", "unrelit"))
    threads = torch.get_num_threads()
    try:
        run_benchmark(tmp_path / "seq", suite, "cpu", log=lambda s: None, threads=1)
    finally:
        torch.set_num_threads(threads)
    lines: list[str] = []
    environ = dict(os.environ)
    run_benchmark(tmp_path / "dask", suite, "cpu", log=lines.append, workers=2, threads=1)
    # the nanny sets its workers' OMP/MKL/OPENBLAS threads in the starting process's environment;
    # left there, every later subprocess of this process would compute with other thread counts
    assert dict(os.environ) == environ
    assert lines[0] == "2 performer(s) on 2 local Dask worker processes"
    assert sum("performer 1 · nervp: self" in ln for ln in lines) == 1  # the workers' lines reach the driver
    assert (tmp_path / "dask" / "results.json").read_bytes() == (tmp_path / "seq" / "results.json").read_bytes()


def test_every_suite_is_valid_and_named_by_its_key():
    """Each shipped suite passes its own validation (the checks `nervp benchmark` runs before any
    work) and records the name it is chosen by, so results.json names the suite that made it."""
    for key, suite in SUITES.items():
        suite.validate()
        assert suite.name == key and suite.version >= 1
    assert SUITES["cpu"].seeds == SUITES["standard"].seeds  # the CPU suite's performers are standard's

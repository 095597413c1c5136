"""The paper's Table 1 on the virtual light stage: `nervp benchmark --suite quick` (or another
suite), its results and table copied to results/table1_<suite>_<device>.json with the machine
record, and the dB margins of nervp over each baseline as ratios.

    python benchmarks/bench_table1.py [--suite quick] [--out out/bench_quick] [--device cpu]

The run is resumable: rerun the same command to go on after a stop. Times are wall-clock on the
machine recorded (the load average beside them: the development machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

from common import write_results

from nervp.benchmark.run import run_benchmark
from nervp.cli.bench import Benchmark
from nervp.presets import SUITES


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--suite", default="quick", choices=list(SUITES))
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seeds", type=int, nargs="*", default=())
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--params", default=None, choices=["fit", "truth"], help="default: the suite's (fit)")
    ap.add_argument("--workers", type=int, default=1, help="performers on N local Dask worker processes")
    ap.add_argument("--name", default=None, help="results file name (default table1_SUITE_DEVICE)")
    a = ap.parse_args()
    out = a.out or Path("out") / f"bench_{a.suite}"
    suite = Benchmark(out=out, suite=a.suite, seeds=tuple(a.seeds), steps=a.steps, params=a.params).resolved()
    t0 = time.perf_counter()
    res = run_benchmark(out, suite, a.device, workers=a.workers)
    wall = time.perf_counter() - t0
    cpu = sum(ru.ru_utime + ru.ru_stime for ru in (resource.getrusage(resource.RUSAGE_SELF),
                                                   resource.getrusage(resource.RUSAGE_CHILDREN)))
    timings = json.loads((out / "timings.json").read_text())
    ratios = {}
    for track, methods in res["tracks"].items():
        if "nervp" in methods:
            ours = methods["nervp"]["mean"]["psnr_db"][0]
            ratios.update({f"{track}_nervp_minus_{m}_psnr_db": ours - r["mean"]["psnr_db"][0]
                           for m, r in methods.items() if m != "nervp"})
    write_results(a.name or f"table1_{a.suite}_{a.device.split(':')[0]}",
                  method=(f"`nervp benchmark --suite {a.suite}` (overrides: seeds {list(a.seeds) or 'suite'}, "
                          f"steps {a.steps or 'suite'}, params {a.params or 'suite'}, {a.workers} worker process(es)) run once from an empty folder on this machine; "
                          "deterministic on CPU (results are a function of the suite). wall_s and cpu_s are this "
                          "invocation's (units finished by an earlier one are kept, not redone): simulation, "
                          "training of nervp and DVP, tracking, reenactment, the baselines and scoring."),
                  results={"tracks": res["tracks"], "suite": res["suite"], "timings": timings,
                           "wall_s": wall, "cpu_s": cpu, "table_md": (out / "table.md").read_text()},
                  ratios=ratios, machine_extra={"loadavg_end": os.getloadavg()})


if __name__ == "__main__":
    main()

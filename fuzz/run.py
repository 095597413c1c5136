"""Fuzz nervp's file readers: any exception other than `NervpError` is a crash.

    python fuzz/run.py TARGET [TARGET ...] --seconds N [--seed S]   # seeded mutation loop
    python fuzz/run.py all --seconds N --report fuzz/last.json
    python fuzz/run.py TARGET --atheris --seconds N                  # coverage-guided (atheris)
    python fuzz/run.py TARGET --replay FILE                          # rerun one saved input

Targets (fuzz/targets.py): manifest, zarr_array, zarr_group, run_config, hdr, exr,
weights_json, weights_npy, video. Seeds are generated on the fly in a scratch folder. Each
distinct crash (exception type and the innermost nervp line) is printed once with its
traceback and its input saved under --crashes (default fuzz/crashes/TARGET/). Not part of the
test suite: pytest collects only tests/.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import hashlib
import json
import os
import random
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from mutate import mutate  # noqa: E402
from targets import TARGETS, Target  # noqa: E402

from nervp.errors import NervpError  # noqa: E402

EXEC_TIMEOUT_S = 20


class Slow(Exception):
    """One execution took longer than EXEC_TIMEOUT_S (reported as a crash: a hang)."""


def _alarm(signum, frame):
    raise Slow(f"execution took over {EXEC_TIMEOUT_S} s")


def crash_key(e: BaseException) -> str:
    """Exception type and the innermost traceback line inside nervp/ (else the innermost)."""
    frames = traceback.extract_tb(e.__traceback__)
    ours = [f for f in frames if f"{os.sep}nervp{os.sep}" in f.filename] or frames[-1:]
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return f"{type(e).__name__}@{where}"


def execute(t: Target, path: Path, data: bytes) -> BaseException | str | None:
    """Write `data` to the target's file and read it: the crash, the kind of a refusal (its
    type and message without digits), or None when it was read."""
    path.write_bytes(data)
    signal.alarm(EXEC_TIMEOUT_S)
    try:
        t.check(path)
    except NervpError as e:
        return f"{type(e).__name__}:{re.sub(r'[0-9]+', '#', str(e))[:80]}"
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # noqa: BLE001 - anything else is what we are looking for
        return e
    finally:
        signal.alarm(0)
    return None


def fuzz_loop(t: Target, seconds: float, seed: int, crashes: Path) -> dict:
    """Mutate seeds for `seconds`; inputs that give a new kind of refusal join the corpus."""
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix=f"nervp-fuzz-{t.name}-"))
    try:
        path, corpus = t.prepare(work)
        original = path.read_bytes()
        for s in corpus:  # the seeds themselves must read cleanly
            if isinstance(e := execute(t, path, s), BaseException):
                raise RuntimeError(f"seed of {t.name} does not read: {e!r}")
        seen_refusals: set[str] = set()
        found: dict[str, int] = {}
        n, start, cpu0 = 0, time.monotonic(), time.process_time()
        while time.monotonic() - start < seconds:
            data = mutate(rng.choice(corpus), rng, corpus, t.json)
            e = execute(t, path, data)
            n += 1
            if e is None:
                continue
            if isinstance(e, str):  # a refusal: keep inputs that reach a new one, to mutate further
                if e not in seen_refusals and len(corpus) < 400:
                    seen_refusals.add(e)
                    corpus.append(data)
                continue
            key = crash_key(e)
            found[key] = found.get(key, 0) + 1
            if found[key] == 1:
                crashes.mkdir(parents=True, exist_ok=True)
                out = crashes / f"{key.replace('@', '-').replace(':', '-')}-{hashlib.sha1(data).hexdigest()[:8]}.bin"
                out.write_bytes(data)
                print(f"[{t.name}] CRASH {key} (input saved to {out})", flush=True)
                traceback.print_exception(e, limit=-4, file=sys.stdout)
            path.write_bytes(original)
        return {"target": t.name, "mode": "mutation", "seed": seed, "seconds": round(time.monotonic() - start, 1),
                "cpu_seconds": round(time.process_time() - cpu0, 1), "executions": n, "crashes": found}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_atheris(t: Target, seconds: float, crashes: Path) -> None:
    """Hand the target to atheris/libFuzzer (stops at the first crash, printing it)."""
    import atheris

    with atheris.instrument_imports(include=["nervp"]):
        import nervp.imaging.hdrio  # noqa: F401
        import nervp.relight.lighting  # noqa: F401
        import nervp.store.zstore  # noqa: F401
        import nervp.train.run  # noqa: F401
        import nervp.viz.video  # noqa: F401
    work = Path(tempfile.mkdtemp(prefix=f"nervp-atheris-{t.name}-"))
    path, corpus = t.prepare(work)
    cdir = work / "corpus"
    cdir.mkdir()
    for i, s in enumerate(corpus):
        (cdir / f"seed{i}").write_bytes(s)

    def one(data: bytes) -> None:
        path.write_bytes(data)
        with contextlib.suppress(NervpError):
            t.check(path)

    crashes.mkdir(parents=True, exist_ok=True)
    atheris.Setup([sys.argv[0], f"-max_total_time={int(seconds)}", f"-timeout={EXEC_TIMEOUT_S}",
                   f"-artifact_prefix={crashes}/",
                   "-rss_limit_mb=8192", "-print_final_stats=1", str(cdir)], one)
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("targets", nargs="+", help=f"'all' or any of: {', '.join(TARGETS)}")
    ap.add_argument("--seconds", type=float, default=60.0, help="time per target")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--atheris", action="store_true", help="coverage-guided fuzzing with atheris")
    ap.add_argument("--crashes", type=Path, default=Path(__file__).resolve().parent / "crashes")
    ap.add_argument("--report", type=Path, help="write the per-target results as JSON")
    ap.add_argument("--memory-gb", type=float, default=12.0, help="address-space limit of this process")
    ap.add_argument("--replay", type=Path, help="run the target once on this input and show the outcome")
    a = ap.parse_args(argv)
    names = list(TARGETS) if a.targets == ["all"] else a.targets
    if unknown := [n for n in names if n not in TARGETS]:
        ap.error(f"unknown targets {unknown}; choose from {', '.join(TARGETS)}")
    warnings.simplefilter("ignore")
    lim = int(a.memory_gb * 2**30)  # a reader that allocates without bound raises MemoryError, a crash
    resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    import torch

    torch.set_num_threads(1)
    if a.atheris:  # libFuzzer keeps its own SIGALRM timer (-timeout)
        run_atheris(TARGETS[names[0]], a.seconds, a.crashes / names[0])
        return 0
    signal.signal(signal.SIGALRM, _alarm)
    if a.replay:
        return replay(TARGETS[names[0]], a.replay)
    sys.stdout.reconfigure(line_buffering=True)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # native readers (OpenEXR, FFmpeg) chatter on fd 2
    sys.stderr = sys.stdout
    faulthandler.enable(sys.stdout)  # a native crash still says where
    results = [fuzz_loop(TARGETS[n], a.seconds, a.seed, a.crashes / n) for n in names]
    for r in results:
        print(f"{r['target']:13s} {r['seconds']:7.1f} s {r['executions']:8d} executions "
              f"{sum(r['crashes'].values()):6d} crashing inputs, {len(r['crashes'])} distinct")
    if a.report:
        a.report.write_text(json.dumps(results, indent=1) + "\n")
    return 1 if any(r["crashes"] for r in results) else 0


def replay(t: Target, data_path: Path) -> int:
    work = Path(tempfile.mkdtemp(prefix=f"nervp-replay-{t.name}-"))
    try:
        path, _ = t.prepare(work)
        e = execute(t, path, data_path.read_bytes())
        if not isinstance(e, BaseException):
            print(f"{t.name}: {data_path} is read or refused cleanly")
            return 0
        traceback.print_exception(e)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""Shared benchmark helpers: the machine record, timing with warm-up and median, and the one
results contract every benchmark writes (benchmarks/README.md):

    {"machine": machine(), "method": str, "results": {...}, "ratios": {...}}

`write_results` is the only writer of benchmarks/results/*.json.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import statistics
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"
CONTRACT_KEYS = ("machine", "method", "results", "ratios")
ENV_VARS = ("OPENBLAS_CORETYPE", "OMP_NUM_THREADS")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def _build_setting(key: str) -> str | None:
    """One `KEY=value` of torch's build settings (e.g. BLAS_INFO=mkl), None when absent."""
    m = re.search(rf"\b{key}=([^,\s]+)", torch.__config__.show())
    return m.group(1) if m else None


def machine() -> dict:
    """The machine record of every results JSON: CPU model, cores, memory, OS, Python, torch
    version and build, BLAS as torch reports it and its thread count, the CUDA device when
    present, and OPENBLAS_CORETYPE / OMP_NUM_THREADS when set."""
    cuda = torch.version.cuda
    info = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_build": f"cuda {cuda}" if cuda else "cpu",
        "blas": _build_setting("BLAS_INFO"),
        "torch_threads": torch.get_num_threads(),
        "env": {k: os.environ[k] for k in ENV_VARS if k in os.environ},
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name(0)
    return info


def check_results(payload: Mapping) -> None:
    """Raise ValueError unless `payload` follows the results contract (README.md)."""
    missing = [k for k in CONTRACT_KEYS if k not in payload]
    if missing:
        raise ValueError(f"results JSON lacks {missing}")
    if not isinstance(payload["machine"], dict) or not payload["machine"]:
        raise ValueError("machine must be a non-empty object")
    if not isinstance(payload["method"], str) or not payload["method"].strip():
        raise ValueError("method must be a non-empty text")
    for k in ("results", "ratios"):
        if not isinstance(payload[k], dict):
            raise ValueError(f"{k} must be an object")
    if not payload["results"]:
        raise ValueError("results must not be empty")


def write_results(path: str | Path, *, method: str, results: dict, ratios: dict,
                  machine_extra: Mapping | None = None) -> Path:
    """Write one results JSON atomically. `path`: a file, or a bare name for
    benchmarks/results/NAME.json. `ratios` may be {} only where the run has no baseline (say so
    in `method`). `machine_extra` adds run facts to the machine record (e.g. load average)."""
    path = Path(path)
    if path.suffix != ".json" and path.parent == Path("."):
        path = RESULTS / f"{path}.json"
    payload = {"machine": {**machine(), **(machine_extra or {})}, "method": method, "results": results,
               "ratios": ratios}
    check_results(payload)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    tmp.replace(path)
    return path


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timeit(fn: Callable[[], object], repeats: int = 5, warmup: int = 1, device: str = "cpu") -> dict:
    """Median and spread of `repeats` timed calls after `warmup` untimed ones (seconds)."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "repeats": repeats}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# The name older scripts import (blink_test.py): the same writer, the same keyword-only contract.
write = write_results

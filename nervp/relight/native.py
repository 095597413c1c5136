"""The compiled CPU kernel for float16 relighting (`relight_f16.c`), built on first use.

The torch path converts float16 to float32 into a scratch buffer before its matrix product;
for a low-rank field (few images, one multiply-add per value read) that conversion is most of
the time. The C kernel converts in registers and accumulates in L1, so it runs near the
memory's read rate (docs/RELIGHT.md has the figures).

It is compiled with the machine's C compiler (``$CC``, else ``cc``) for the machine's own
instruction set (``-march=native``) into ``$NERVP_CACHE`` (default ``~/.cache/nervp``), under a
name that hashes the source, the flags, the compiler's version and the CPU's feature flags, so a
cache directory shared between different machines never hands one another's build to a CPU that
cannot run it. Written to a temporary name and renamed, so concurrent first uses are safe.
Anything that fails (no compiler, not x86-64, no AVX2/F16C, ``NERVP_NATIVE=0``) leaves
`kernel()` returning None and relighting on the torch path; `status()` says why.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import subprocess
import tempfile
import threading
from pathlib import Path

SOURCE = Path(__file__).with_name("relight_f16.c")
FLAGS = ["-O3", "-march=native", "-fPIC", "-shared", "-std=c11"]

_lock = threading.Lock()
_state: dict[str, object] = {}


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor()


def _cache_dir() -> Path:
    root = os.environ.get("NERVP_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "nervp")
    return Path(root) / "native"


def _build() -> tuple[ctypes._CFuncPtr | None, str]:
    if os.environ.get("NERVP_NATIVE", "1") == "0":
        return None, "disabled by NERVP_NATIVE=0"
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None, f"no kernel for {platform.machine()}"
    flags = _cpu_flags()
    if not all(f in flags.split() for f in ("avx2", "fma", "f16c")):
        return None, "the CPU lacks AVX2/FMA/F16C"
    cc = os.environ.get("CC", "cc")
    try:
        version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"no C compiler ({cc}: {e})"
    src = SOURCE.read_bytes()
    key = hashlib.sha256(b"\0".join([src, " ".join(FLAGS).encode(), version.encode(), flags.encode()]))
    lib = _cache_dir() / f"relight_f16-{key.hexdigest()[:16]}.so"
    if not lib.exists():
        try:
            lib.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".so.tmp", dir=lib.parent)
            os.close(fd)
            r = subprocess.run([cc, *FLAGS, "-o", tmp, str(SOURCE)], capture_output=True, text=True, timeout=120)
            if r.returncode:
                os.unlink(tmp)
                return None, f"compile failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}"
            os.replace(tmp, lib)
        except (OSError, subprocess.SubprocessError) as e:
            return None, f"compile failed: {e}"
    try:
        fn = ctypes.CDLL(str(lib)).nervp_relight_f16  # CDLL: the call releases the GIL
    except (OSError, AttributeError) as e:
        return None, f"cannot load {lib}: {e}"
    fn.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                   ctypes.c_ssize_t]
    fn.restype = ctypes.c_int
    return fn, f"compiled kernel {lib}"


def kernel() -> ctypes._CFuncPtr | None:
    """The compiled ``nervp_relight_f16`` (see relight_f16.c), or None where it is unavailable."""
    if "fn" not in _state:
        with _lock:
            if "fn" not in _state:
                _state["fn"], _state["status"] = _build()
    return _state["fn"]  # type: ignore[return-value]


def status() -> str:
    """Why `kernel()` is or is not available (benchmarks record it)."""
    kernel()
    return str(_state["status"])


def reset() -> None:
    """Forget the loaded kernel (tests: re-read NERVP_NATIVE)."""
    with _lock:
        _state.clear()

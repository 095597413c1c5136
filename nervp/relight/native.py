"""The compiled CPU kernel for float16 relighting (`relight_f16.c`), built on first use.

The torch path converts float16 to float32 into a scratch buffer before its matrix product;
for a low-rank field (few images, one multiply-add per value read) that conversion is most of
the time. The C kernel converts in registers and accumulates in L1, so it runs near the
memory's read rate (docs/RELIGHT.md has the figures).

It is compiled with the machine's C compiler (``$CC``, else ``cc``) for the machine's own
instruction set (``-march=native``) into ``$NERVP_CACHE/native`` (default
``~/.cache/nervp/native``), under a name that is the sha256 of the source, the flags, the
compiler's path and version and the CPU's feature flags, so a cache directory shared between
different machines never hands one another's build to a CPU that cannot run it.

Security (docs/RELIABILITY.md, "Security"): loading a shared library runs its code, so the
library is loaded only from a folder that only this user can write (created 0700; refused when
it, the cache root or the library is group/world-writable or owned by someone else), and only
when the library's own sha256 equals the one recorded in its sidecar (``<name>.sha256``) when
it was built; a mismatch is rebuilt once, then refused. The file is hashed through an open
descriptor that must still be the file at that path when it is loaded. Builds go to a
temporary name and are renamed, so concurrent first uses are safe. Anything that fails (no compiler, not
x86-64, no AVX2/F16C, ``NERVP_NATIVE=0``, an unsafe cache) leaves `kernel()` returning None and
relighting on the torch path; `status()` says why, and a refusal prints one warning line.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

SOURCE = Path(__file__).with_name("relight_f16.c")
FLAGS = ["-O3", "-march=native", "-fPIC", "-shared", "-std=c11"]

_lock = threading.Lock()
_state: dict[str, object] = {}


class _Refused(Exception):
    """The cache or the library is not safe to load from (the message says why)."""


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor()


def _cache_root() -> Path:
    return Path(os.environ.get("NERVP_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "nervp"))


def _cache_dir() -> Path:
    return _cache_root() / "native"


def library_name(source: bytes, cc_path: str, cc_version: str, cpu_flags: str) -> str:
    """The library's file name: ``relight_f16-<sha256 of source, compiler path and version,
    flags and CPU features>.so`` (any change to one of them gives a new name)."""
    parts = [source, cc_path.encode(), cc_version.encode(), " ".join(FLAGS).encode(), cpu_flags.encode()]
    h = hashlib.sha256()
    for p in parts:  # length-prefixed, so no two different inputs hash the same bytes
        h.update(len(p).to_bytes(8, "little"))
        h.update(p)
    return f"relight_f16-{h.hexdigest()}.so"


def _unsafe(st: os.stat_result, what: str, path: Path) -> str | None:
    """Why a file or folder with this stat may not be trusted, or None."""
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return f"{what} {path} is owned by another user (uid {st.st_uid})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{what} {path} is group- or world-writable (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def _private_dir(folder: Path) -> None:
    """Create the cache root and `folder` 0700 where missing; raise _Refused unless both are
    real folders that only this user owns and can write."""
    for d in (folder.parent, folder):
        try:
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            st = os.lstat(d)
        except OSError as e:
            raise _Refused(f"cannot create the kernel cache {d}: {e.strerror or e}") from None
        if stat.S_ISLNK(st.st_mode) and d == folder:
            raise _Refused(f"kernel cache {d} is a symbolic link")
        st = os.stat(d)
        if not stat.S_ISDIR(st.st_mode):
            raise _Refused(f"kernel cache {d} is not a folder")
        why = _unsafe(st, "kernel cache", d)
        if why:
            raise _Refused(why)


def _sidecar(lib: Path) -> Path:
    return lib.with_name(lib.name + ".sha256")


def _compile(cc: str, lib: Path) -> str | None:
    """Build `lib` and its sidecar under temporary names, then rename both; the error, or None."""
    fd, tmp = tempfile.mkstemp(suffix=".so.tmp", dir=lib.parent)
    os.close(fd)
    try:
        r = subprocess.run([cc, *FLAGS, "-o", tmp, str(SOURCE)], capture_output=True, text=True, timeout=120)
        if r.returncode:
            return f"compile failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}"
        os.chmod(tmp, 0o700)
        digest = hashlib.sha256(Path(tmp).read_bytes()).hexdigest()
        sfd, stmp = tempfile.mkstemp(suffix=".sha256.tmp", dir=lib.parent)
        with os.fdopen(sfd, "w") as f:
            f.write(digest + "\n")
        os.replace(stmp, _sidecar(lib))
        os.replace(tmp, lib)
        return None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _open_checked(lib: Path) -> int | None:
    """An open descriptor on `lib` when its own sha256 equals its sidecar's; None when the
    library or its sidecar is missing or they disagree. _Refused when the file is unsafe."""
    try:
        fd = os.open(lib, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as e:
        raise _Refused(f"cannot open {lib} safely: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _Refused(f"{lib} is not a regular file")
        why = _unsafe(st, "library", lib)
        if why:
            raise _Refused(why)
        want = _sidecar(lib).read_text().strip() if _sidecar(lib).is_file() else ""
        h = hashlib.sha256()
        with os.fdopen(os.dup(fd), "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        if want and h.hexdigest() == want:
            return fd
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return None


def _load(fd: int, lib: Path) -> ctypes._CFuncPtr:
    """dlopen `lib` while `fd` (the checked file) is open, refusing if the path no longer
    names that file (only this user can write the folder, so nobody else can swap it)."""
    try:
        a, b = os.fstat(fd), os.stat(lib)
        if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino):
            raise _Refused(f"{lib} changed while it was being checked")
        return ctypes.CDLL(str(lib)).nervp_relight_f16
    finally:
        os.close(fd)


def _checked_library(cc: str, lib: Path) -> int | str:
    """A descriptor on a library that matches its recorded hash (built or rebuilt as needed),
    or why there is none. _Refused when the cache is unsafe or a rebuild still mismatches."""
    fd = _open_checked(lib)
    if fd is not None:
        return fd
    if lib.exists():
        _warn(f"compiled kernel {lib} does not match its recorded sha256; rebuilding it")
    err = _compile(cc, lib)
    if err:
        return err
    fd = _open_checked(lib)
    if fd is None:
        raise _Refused(f"rebuilt kernel {lib} does not match its recorded sha256")
    return fd


def _warn(msg: str) -> None:
    print(f"nervp: warning: {msg}", file=sys.stderr)


def _toolchain() -> tuple[str, str, str] | str:
    """(compiler command, its resolved path, its --version text), or why there is none."""
    cc = os.environ.get("CC", "cc")
    try:
        version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as e:
        return f"no C compiler ({cc}: {e})"
    return cc, os.path.realpath(shutil.which(cc) or cc), version


def _build() -> tuple[ctypes._CFuncPtr | None, str]:
    if os.environ.get("NERVP_NATIVE", "1") == "0":
        return None, "disabled by NERVP_NATIVE=0"
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None, f"no kernel for {platform.machine()}"
    cpu = _cpu_flags()
    if not all(f in cpu.split() for f in ("avx2", "fma", "f16c")):
        return None, "the CPU lacks AVX2/FMA/F16C"
    tools = _toolchain()
    if isinstance(tools, str):
        return None, tools
    cc, cc_path, version = tools
    lib = _cache_dir() / library_name(SOURCE.read_bytes(), cc_path, version, cpu)
    try:
        _private_dir(lib.parent)
        got = _checked_library(cc, lib)
    except _Refused as e:
        _warn(f"not loading the compiled relighting kernel: {e}; using the torch path")
        return None, f"refused: {e}"
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"compile failed: {e}"
    if isinstance(got, str):
        return None, got
    try:
        fn = _load(got, lib)  # CDLL: the call releases the GIL
    except _Refused as e:
        _warn(f"not loading the compiled relighting kernel: {e}; using the torch path")
        return None, f"refused: {e}"
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

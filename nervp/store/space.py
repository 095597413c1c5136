"""Disk-space and memory estimates checked before long writes, so a job that cannot finish is
refused in one line before it starts (not hours later, on a full disk)."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

from nervp.errors import NervpError

OLAT_RATIO = 0.30
"""Stored bytes per uncompressed byte of an OLAT dataset (Blosc zstd level 3, bitshuffle).
Measured once on the `tiny` preset (64², 96 LEDs, 4 frames): 2.55 MB stored for 9.9 MB of
arrays, 0.26; rounded up so the estimate errs on the safe side."""
CAPTURED_RATIO = 1.0
"""The same for OLAT sets captured from a camera: sensor noise fills the low bits of the float16
radiance. Measured at 512^2: 0.94 (simulated face) and 0.73 (noisy test pattern) with Blosc zstd,
1.00 with lz4 (capture's default compression); 1.0 never underestimates."""
RAW_RATIO = 0.60
"""The same for 8-bit Bayer images with shot and read noise (noise compresses poorly)."""
PNG_RATIO = 0.6
"""PNG (8-bit RGB) bytes per uncompressed byte; EXR half-float with zip compression alike."""


class SpaceError(NervpError):
    """An output would not fit on its disk, or a job would not fit in memory."""


def olat_frame_bytes(n_lights: int, height: int, width: int) -> int:
    """Uncompressed bytes of one OLAT frame: L float16 RGB images, float32 full-lit, float16
    normal, albedo and alpha, landmarks and parameters."""
    return height * width * (n_lights * 3 * 2 + 3 * 4 + 2 * 3 * 2 + 2) + 478 * 2 * 4 + 256


def gb(n: float) -> str:
    return f"{n / 1e9:.3g} GB"


def check_free_space(out: Path, need_bytes: float, what: str) -> None:
    """SpaceError when the file system that will hold `out` has less than `need_bytes` free."""
    parent = Path(out).absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    free = shutil.disk_usage(parent).free
    if need_bytes > free:
        raise SpaceError(f"{what} {out} needs about {gb(need_bytes)}, {gb(free)} free on {parent}: "
                         "free space, write elsewhere or ask for less (frames, size)")


def available_memory() -> int:
    """Bytes of memory available to a new job (Linux MemAvailable; else physical memory)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2 ** 62


def check_memory(need_bytes: float, what: str, fix: str) -> None:
    """SpaceError when `need_bytes` exceeds the memory available now."""
    have = available_memory()
    if math.isfinite(need_bytes) and need_bytes > have:
        raise SpaceError(f"{what} needs about {gb(need_bytes)} of memory, {gb(have)} available: {fix}")

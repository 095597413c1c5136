"""Bringing any camera's recording into the raw-stream format that `capture` reads.

A real light stage's recording is a sequence of 8-bit Bayer images, the lighting pattern
of each (LED index, or -1 for an all-on tracking image), their timestamps and exposure
gains, plus the dome geometry. `write_raw_stream` writes exactly that (docs/FORMAT.md, kind
"raw"), atomically, and plans the stream's own OLAT sets when none are given.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nervp.capture.plan import centred_sets
from nervp.errors import ConfigError
from nervp.imaging.bayer import PATTERNS
from nervp.lightstage.dome import Dome
from nervp.lightstage.schedule import TRACKING
from nervp.store.olat import OLATFrame
from nervp.store.raw import RawTruth, raw_manifest, write_raw


def write_raw_stream(path: Path | str, images: Iterable[np.ndarray], pattern: np.ndarray, time: np.ndarray,
                     gain: np.ndarray, dome: Dome, *, bayer: str = "RGGB", black_level: int = 0,
                     white_level: int = 255, fps: float | None = None, set_stride: int = 1,
                     sets: tuple[np.ndarray, np.ndarray] | None = None, extra: dict[str, Any] | None = None,
                     truth: Sequence[OLATFrame] | None = None, overwrite: bool = False) -> Path:
    """Write a raw stream of N images.

    Args:
        images: N arrays (H, W) uint8, Bayer digital numbers.
        pattern: (N,) LED lit for each image, or -1 (TRACKING) for all LEDs.
        time: (N,) float64 capture instants in seconds. gain: (N,) float32 exposure scales.
        dome: the LED geometry (L LEDs).
        sets: (middles (S,), olat (S, L)) image indices; None = a set centred on every
            `set_stride`-th tracking frame that has every LED around it.
        extra: further manifest fields (camera, sensor, ...).
        truth: ground-truth OLAT frames at the set middles (simulated streams only).
    """
    pattern = np.asarray(pattern, np.int16)
    time, gain = np.asarray(time, np.float64), np.asarray(gain, np.float32)
    N, L = pattern.shape[0], dome.n_lights
    if bayer not in PATTERNS:
        raise ConfigError(f"unknown Bayer pattern {bayer!r}; choose one of {', '.join(PATTERNS)}")
    if time.shape != (N,) or gain.shape != (N,):
        raise ConfigError(f"pattern, time and gain need one entry per image: {N}, {time.shape}, {gain.shape}")
    if sets is None:
        mids, olat = centred_sets(pattern, L)
        no = np.searchsorted(np.nonzero(pattern == TRACKING)[0], mids)
        keep = (no - no[:1]) % set_stride == 0 if mids.size else np.zeros(0, bool)
        sets = (mids[keep], olat[keep])
    mids, olat = np.asarray(sets[0], np.int64), np.asarray(sets[1], np.int64).reshape(-1, L)
    fps = float(fps if fps is not None else 1.0 / np.median(np.diff(time)))
    tracking_every = int(np.median(np.diff(np.nonzero(pattern == TRACKING)[0])))
    it = iter(images)
    try:
        first = np.asarray(next(it))
    except StopIteration:
        raise ConfigError("no images given") from None
    H, W = first.shape
    schedule = {"fps": fps, "tracking_every": tracking_every, "set_stride": set_stride, "n_images": N,
                "n_sets": int(mids.size), "output_fps": fps / (tracking_every * set_stride)}
    man = raw_manifest({}, height=H, width=W, n_images=N, n_sets=int(mids.size), dome=dome, bayer=bayer,
                       black_level=black_level, white_level=white_level, schedule=schedule)
    man.update(extra or {})
    return write_raw(path, man, dome, _chain(first, it), pattern, time, gain, mids, olat,
                     None if truth is None else RawTruth(truth), overwrite)


def _chain(first: np.ndarray, rest: Iterable[np.ndarray]) -> Iterable[np.ndarray]:
    yield first
    yield from rest

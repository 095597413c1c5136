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
from nervp.store.olat import OLATFrame, olat_manifest, write_olat_arrays
from nervp.store.raw import KIND
from nervp.store.zstore import atomic_dataset, frame_array, small_array


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
    man = {"kind": KIND, "height": H, "width": W, "n_images": N, "n_sets": int(mids.size), "n_lights": L,
           "bayer": bayer, "black_level": int(black_level), "white_level": int(white_level),
           "schedule": {"fps": fps, "tracking_every": tracking_every, "set_stride": set_stride, "n_images": N,
                        "n_sets": int(mids.size), "output_fps": fps / (tracking_every * set_stride)},
           "dome": dome.to_json(), "colour_space": "camera-raw-linear",
           "linearise": "radiance = (DN - black_level) / (white_level - black_level) / gain[i]", **(extra or {})}
    with atomic_dataset(Path(path), man, overwrite) as group:
        arr = frame_array(group, "images", (N, H, W), "uint8", "Bayer images (N, H, W), DN")
        count = 0
        for i, img in enumerate(_chain(first, it)):
            if i >= N:
                raise ConfigError(f"more images than pattern entries ({N})")
            img = np.asarray(img)
            if img.shape != (H, W) or img.dtype != np.uint8:
                raise ConfigError(f"image {i} is {img.dtype} {img.shape}, expected uint8 {(H, W)}")
            arr[i] = img
            count += 1
        if count != N:
            raise ConfigError(f"got {count} images for {N} pattern entries")
        small_array(group, "pattern", pattern, "LED lit per image, -1 = all-on tracking, (N,)")
        small_array(group, "time", time, "capture instant (s), (N,)")
        small_array(group, "gain", gain, "exposure scale per image, (N,)")
        small_array(group, "sets_middle", mids, "middle tracking image of each set, (S,)")
        small_array(group, "sets_olat", olat, "image of LED l in set s, (S, L)")
        if truth is not None:
            tman = olat_manifest(dome, len(truth), {"height": H, "width": W,
                                                   **{k: man[k] for k in ("camera", "head_model") if k in man}})
            tman["arrays"] = write_olat_arrays(group.create_group("truth"), truth, len(truth), L, H, W)
            man["truth"] = tman
    return Path(path)


def _chain(first: np.ndarray, rest: Iterable[np.ndarray]) -> Iterable[np.ndarray]:
    yield first
    yield from rest

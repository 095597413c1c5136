"""Bringing any camera's recording into the raw-stream format that `capture` reads.

A real light stage's recording is a sequence of 8-bit Bayer images, the lighting pattern
of each (LED index, or -1 for an all-on tracking image), their timestamps and exposure
gains, plus the dome geometry. `write_raw_stream` writes exactly that (docs/FORMAT.md, kind
"raw"), atomically, and plans the stream's own OLAT sets when none are given.

`ingest` (the `nervp ingest` command) does it from files: a folder of PNG/TIFF/DNG frames or a
video (`nervp.capture.frames`), the controller's schedule and the camera's timestamps
(`nervp.capture.sync`), with dropped and duplicated frames found and only complete sets kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nervp.capture.frames import FrameSource, open_frames
from nervp.capture.plan import centred_sets
from nervp.capture.sync import (
    SyncReport,
    match_frames,
    paper_schedule,
    read_schedule,
    read_timestamps,
    thumbnail,
    tracking_frames,
)
from nervp.errors import ConfigError
from nervp.imaging.bayer import PATTERNS
from nervp.lightstage.dome import Dome, build_dome, load_dome_file
from nervp.lightstage.schedule import TRACKING
from nervp.store.olat import OLATFrame
from nervp.store.raw import RawTruth, raw_manifest, write_raw, write_raw_recorded


def write_raw_stream(path: Path | str, images: Iterable[np.ndarray], pattern: np.ndarray, time: np.ndarray,
                     gain: np.ndarray, dome: Dome, *, bayer: str = "RGGB", black_level: int = 0,
                     white_level: int = 255, fps: float | None = None, set_stride: int = 1,
                     sets: tuple[np.ndarray, np.ndarray] | None = None, extra: dict[str, Any] | None = None,
                     truth: Sequence[OLATFrame] | None = None, overwrite: bool = False,
                     dropped: Sequence[tuple[int, int]] = (),
                     on_image: Callable[[int, int], None] | None = None) -> Path:
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
        dropped: (i, k) pairs: k frames the camera dropped right after image i (recorded in
            the schedule so that `capture` accepts those timestamp gaps).
        on_image: called as on_image(i, N) after image i is written.
    """
    it = iter(images)
    try:
        first = np.asarray(next(it))
    except StopIteration:
        raise ConfigError("no images given") from None
    man, pattern, time, gain, mids, olat = stream_manifest(
        first.shape, pattern, time, gain, dome, bayer=bayer, black_level=black_level, white_level=white_level,
        fps=fps, set_stride=set_stride, sets=sets, extra=extra, dropped=dropped)
    return write_raw(path, man, dome, _chain(first, it), pattern, time, gain, mids, olat,
                     None if truth is None else RawTruth(truth), overwrite, on_image)


def stream_manifest(shape: tuple[int, int], pattern: np.ndarray, time: np.ndarray, gain: np.ndarray, dome: Dome, *,
                    bayer: str, black_level: float, white_level: float, fps: float | None, set_stride: int,
                    sets: tuple[np.ndarray, np.ndarray] | None, extra: dict[str, Any] | None,
                    dropped: Sequence[tuple[int, int]]) -> tuple[dict[str, Any], np.ndarray, np.ndarray, np.ndarray,
                                                              np.ndarray, np.ndarray]:
    """The manifest of a recorded stream of images of `shape` (H, W) and its arrays, checked and
    typed: (manifest, pattern, time, gain, sets_middle, sets_olat); arguments as `write_raw_stream`'s."""
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
    H, W = shape
    schedule = {"fps": fps, "tracking_every": tracking_every, "set_stride": set_stride, "n_images": N,
                "n_sets": int(mids.size), "output_fps": fps / (tracking_every * set_stride)}
    if dropped:
        schedule["dropped"] = [[int(i), int(k)] for i, k in dropped]
    man = raw_manifest({}, height=H, width=W, n_images=N, n_sets=int(mids.size), dome=dome, bayer=bayer,
                       black_level=black_level, white_level=white_level, schedule=schedule)
    man.update(extra or {})
    return man, pattern, time, gain, mids, olat


def _chain(first: np.ndarray, rest: Iterable[np.ndarray]) -> Iterable[np.ndarray]:
    yield first
    yield from rest


@dataclass(frozen=True)
class IngestConfig:
    """How a folder of camera frames becomes a raw stream (`nervp ingest`)."""

    schedule: str = "paper"
    """The controller's schedule: a CSV (columns led[,time][,gain]) or JSON file, or `paper` for
    the paper's pattern (a tracking frame every --tracking-every images, LEDs in dome order)."""
    dome: Path | None = None
    """The stage's dome file (JSON/CSV, docs/FORMAT.md); None = the paper's 96-LED dome."""
    timestamps: Path | None = None
    """CSV of the camera's timestamps (columns file,time or time, seconds); finds dropped and
    duplicated frames exactly. Without it frames are one slot each and drops are found by the
    tracking frames (the frames of a group that lost one are then discarded)."""
    bayer: str | None = None
    """Colour-filter pattern RGGB|BGGR|GRBG|GBRG (default: the DNG's, else RGGB)."""
    black_level: float | None = None
    """Black level in the files' own DN (default: the DNG's, else 0)."""
    white_level: float | None = None
    """White level in the files' own DN (default: the DNG's, else 2**bits - 1)."""
    bits: int | None = None
    """Significant bits of each value (default: 8 for 8-bit files, 16 for 16-bit, a DNG's white level)."""
    fps: float | None = None
    """Camera frame rate (default: the schedule's, else 1000)."""
    tracking_every: int = 6
    """For `--schedule paper`: one tracking frame every this many images."""
    set_stride: int = 1
    """Plan a set on every k-th tracking frame (capture can re-plan with --set-stride)."""


@dataclass(frozen=True)
class IngestReport:
    """What `ingest` found and wrote.

    Attributes:
        n_frames: frames read. n_written: frames written (duplicates and discarded ones left out).
        n_sets: complete OLAT sets planned. n_sets_lost: sets dropped frames made incomplete.
        sync: how frames matched the schedule.
        n_slots: schedule length.
    """

    n_frames: int
    n_written: int
    n_sets: int
    n_sets_lost: int
    sync: SyncReport
    n_slots: int

    def summary(self) -> str:
        return (f"{self.sync.summary(self.n_slots)}\nwrote {self.n_written} images, {self.n_sets} complete OLAT sets"
                + (f" ({self.n_sets_lost} lost to dropped frames)" if self.n_sets_lost else ""))


def ingest(frames: Path | str, out: Path | str, cfg: IngestConfig = IngestConfig(), overwrite: bool = False,
           on_scan: Callable[[int, int], None] | None = None,
           on_image: Callable[[int, int], None] | None = None) -> IngestReport:
    """Read a camera's frames, match them to the schedule and write the raw stream at `out`.

    Two passes over the frames, one image in memory at a time: the first checks every frame
    (size, bit depth, range), finds duplicates and measures each frame's brightness pattern;
    the second writes. Raises ConfigError naming the file for bad input; nothing is left at
    `out` then.
    """
    dome = load_dome_file(cfg.dome) if cfg.dome is not None else build_dome()
    L = dome.n_lights
    if cfg.set_stride < 1:
        raise ConfigError(f"--set-stride must be >= 1, got {cfg.set_stride}")
    src = open_frames(frames, cfg.bits)
    M = src.n_frames
    times = None if cfg.timestamps is None else read_timestamps(cfg.timestamps, [f.name for f in src.files] or None, M)
    if cfg.schedule == "paper":
        fps = cfg.fps or 1000.0
        n = M if times is None else int(np.rint((times[-1] - times[0]) * fps)) + 1
        sched = paper_schedule(n, L, cfg.tracking_every, fps)
    else:
        sched = read_schedule(cfg.schedule, L, cfg.fps)
    bayer = cfg.bayer or src.bayer or "RGGB"
    if bayer not in PATTERNS:
        raise ConfigError(f"--bayer {bayer!r} is unknown; choose one of {', '.join(PATTERNS)}")
    top = 2 ** src.bits - 1
    black = cfg.black_level if cfg.black_level is not None else (src.black_level or 0.0)
    white = cfg.white_level if cfg.white_level is not None else (src.white_level or float(top))
    if not 0 <= black < white <= top:
        raise ConfigError(f"{src.path}: need 0 <= --black-level < --white-level <= {top} ({src.bits}-bit frames), got "
                          f"{black} and {white}")
    thumbs, same = _scan(src, black, on_scan)
    where = str(src.path)
    tracking = tracking_frames(thumbs, sched.tracking_every)
    sync = match_frames(sched, M, times, tracking, same, where)
    used = np.nonzero(sync.slot >= 0)[0]
    slots = sync.slot[used]
    pattern = sched.pattern[slots]
    time = times[used] if times is not None else sched.time[slots]
    gain = sched.gain[slots]
    mids, olat, lost = _complete_sets(sched.pattern, slots, L, cfg.set_stride)
    if mids.size == 0:
        raise ConfigError(f"{where}: no complete OLAT set ({L} LEDs between tracking frames) survives in the "
                          f"{M} frames{'; ' + sync.summary(sched.n_slots) if sync.dropped.size else ''}")
    gaps = np.diff(slots) - 1
    dropped = [(int(i), int(k)) for i, k in enumerate(gaps) if k > 0]
    extra = {"ingest": {"source": str(Path(frames).resolve()), "n_frames": M, "bits": src.bits,
                        "schedule": sched.source, "summary": sync.summary(sched.n_slots),
                        "dropped_slots": sync.dropped.tolist(), "duplicate_frames": sync.duplicates.tolist()}}
    man, pattern, time, gain, mids, olat = stream_manifest(
        (src.height, src.width), pattern, time, gain, dome, bayer=bayer, black_level=_level(src.to8(black)),
        white_level=_level(src.to8(white)), fps=sched.fps, set_stride=cfg.set_stride, sets=(mids, olat),
        extra=extra, dropped=dropped)

    def images_from(start: int) -> Iterator[np.ndarray]:
        """Written images from number `start` on (a resumed write skips what is done)."""
        if not src.is_video:
            for k in range(start, used.size):
                yield src.requantise(src.read(int(used[k])), int(used[k]))
            return
        k = 0
        for i, img in enumerate(src.frames()):
            if k < used.size and i == used[k]:
                if k >= start:
                    yield src.requantise(img, i)
                k += 1

    settings = {"source": [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in src.files] or
                [str(src.path), src.path.stat().st_size, src.path.stat().st_mtime_ns], "used": used.tolist(),
                "bits": src.bits}
    write_raw_recorded(out, man, dome, images_from, pattern, time, gain, mids, olat, settings, overwrite, on_image)
    return IngestReport(M, int(used.size), int(mids.size), lost, sync, sched.n_slots)


def _level(v: float) -> float | int:
    r = round(v, 6)
    return int(r) if float(r).is_integer() else r


def _scan(src: FrameSource, black: float, on_scan: Callable[[int, int], None] | None
          ) -> tuple[np.ndarray, np.ndarray]:
    """Pass 1: check every frame; (M, 256) brightness patterns and (M,) 'same as the frame before'."""
    thumbs, same, prev = [], [], None
    for i, img in enumerate(src.frames()):
        src.check_range(img, i)
        thumbs.append(thumbnail(img, black))
        same.append(prev is not None and np.array_equal(img, prev))
        prev = img
        if on_scan is not None:
            on_scan(i, src.n_frames)
    if len(thumbs) != src.n_frames:
        raise ConfigError(f"{src.path}: {len(thumbs)} frames decoded, {src.n_frames} expected")
    return np.stack(thumbs), np.asarray(same)


def _complete_sets(pattern: np.ndarray, slots: np.ndarray, L: int, stride: int
                   ) -> tuple[np.ndarray, np.ndarray, int]:
    """Sets planned on the full schedule (a set on every `stride`-th possible middle) whose
    images all arrived, with the tracking frames that align them; renumbered to written images.
    Returns (middles (S,), olat (S, L), sets lost)."""
    mids, olat = centred_sets(pattern, L)
    if mids.size == 0:
        return mids, olat, 0
    track = np.nonzero(pattern == TRACKING)[0]
    no = np.searchsorted(track, mids)
    sel = (no - no[0]) % stride == 0
    mids, olat = mids[sel], olat[sel]
    have = np.zeros(pattern.shape[0], bool)
    have[slots] = True
    index = np.full(pattern.shape[0], -1, np.int64)
    index[slots] = np.arange(slots.size)
    ok = []
    for m, row in zip(mids, olat, strict=True):
        lo, hi = min(int(row.min()), int(m)), max(int(row.max()), int(m))
        j0 = track[np.searchsorted(track, lo, side="right") - 1]
        j1 = track[min(np.searchsorted(track, hi, side="right"), track.size - 1)]
        need = track[(track >= j0) & (track <= j1)]
        ok.append(bool(have[row].all() and have[need].all()))
    ok = np.asarray(ok, bool)
    return index[mids[ok]], index[olat[ok]], int((~ok).sum())

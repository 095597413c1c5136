"""Checking a raw stream and planning the work: which images make which output set, and
which tracking-frame flows those sets need (paper section 6, Fig. 14).

A set is centred on a tracking frame: the L/2 OLAT images before it and the L - L/2 after
it, which hold every LED once when the LEDs fire in a repeating order. Any tracking frame
with such a window around it can be a set middle, so sets may overlap and one OLAT image
then serves several sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nervp.capture.config import CaptureConfig
from nervp.errors import ConfigError
from nervp.imaging.bayer import PATTERNS
from nervp.lightstage.schedule import TRACKING
from nervp.store.raw import KIND, RawStream, load_raw
from nervp.store.zstore import DatasetError, open_group, read_manifest


@dataclass(frozen=True)
class CapturePlan:
    """The map over sets, fixed before any pixel is read.

    Attributes:
        n_images, height, width, n_lights: stream size.
        bayer: colour-filter pattern used for demosaicing.
        tracking: (J,) int64 image index of every tracking frame, ascending.
        middles: (T,) int64 image index of each output set's middle tracking frame.
        olat: (T, L) int64 image index of LED l's image in set t.
        pairs: (P,) int64 tracking numbers j whose flows j <-> j+1 some set needs (empty
            when not aligning); flow slot p holds pair pairs[p].
        time: (T,) float64 instant of each set (its middle frame's timestamp), seconds.
        set_stride: tracking frames between consecutive set middles (0 when irregular).
        camera_fps: raw images per second.
        tracking_fps: tracking frames per second.
        output_fps: output sets per second.
    """

    n_images: int
    height: int
    width: int
    n_lights: int
    bayer: str
    tracking: np.ndarray
    middles: np.ndarray
    olat: np.ndarray
    pairs: np.ndarray
    time: np.ndarray
    set_stride: int
    camera_fps: float
    tracking_fps: float
    output_fps: float

    @property
    def n_sets(self) -> int:
        return int(self.middles.shape[0])

    @property
    def n_pairs(self) -> int:
        return int(self.pairs.shape[0])

    def track_no(self, image: int) -> int:
        """Tracking number j of the last tracking frame at or before `image`."""
        return int(np.searchsorted(self.tracking, image, side="right")) - 1

    def set_pairs(self, t: int) -> np.ndarray:
        """Tracking numbers j of the flows j <-> j+1 that set t chains through."""
        lo = self.track_no(int(self.olat[t].min()))
        hi = self.track_no(int(self.olat[t].max())) + 1
        return np.arange(min(lo, self.track_no(int(self.middles[t]))), hi)

    def slot(self, j: int) -> int:
        """Flow slot of pair j -> j+1."""
        p = int(np.searchsorted(self.pairs, j))
        if p >= self.n_pairs or self.pairs[p] != j:
            raise KeyError(f"pair {j} -> {j + 1} is not planned")
        return p

    def reuse_counts(self) -> np.ndarray:
        """(N,) how many output sets use each raw image as an OLAT image."""
        return np.bincount(self.olat.ravel(), minlength=self.n_images)

    def to_json(self) -> dict:
        return {"n_sets": self.n_sets, "set_stride": self.set_stride, "camera_fps": self.camera_fps,
                "tracking_fps": self.tracking_fps, "output_fps": self.output_fps,
                "n_flow_pairs": self.n_pairs}


def open_stream(path: Path | str, bayer: str | None = None) -> RawStream:
    """Open a raw stream and check everything capture relies on, before any work.

    Raises DatasetError naming the first problem: a missing or undecodable manifest, a
    missing image (by index), arrays that disagree with the image count, a Bayer image size
    or pattern that cannot be demosaiced, timestamps with gaps, LEDs that disagree with the
    stream's own sets.
    """
    path = Path(path)
    m = read_manifest(path, KIND)
    _check_frames_present(path, m)
    raw = load_raw(path)
    _check_sensor(raw, bayer)
    _check_schedule(raw)
    return raw


def _check_frames_present(path: Path, m: dict) -> None:
    """Name the missing images (load_raw only counts them)."""
    group = open_group(path)
    if "images" not in group or "n_images" not in m:
        return  # load_raw names the problem
    arr = group["images"]
    n = int(m["n_images"])
    if arr.shape[0] != n or arr.chunks[0] != 1 or arr.nchunks_initialized == arr.nchunks:
        return
    enc = arr.metadata.chunk_key_encoding
    zeros = (0,) * (arr.ndim - 1)
    missing = [i for i in range(n) if not (path / "images" / enc.encode_chunk_key((i, *zeros))).is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more: {_span(missing)})" if len(missing) > 1 else ""
        raise DatasetError(f"{path}: raw image {missing[0]} of 0..{n - 1} is missing{more}; "
                           "the stream was copied or written incompletely: copy or record it again")


def _span(idx: list[int]) -> str:
    return ", ".join(str(i) for i in idx[:8]) + (", ..." if len(idx) > 8 else "")


def _check_sensor(raw: RawStream, bayer: str | None) -> None:
    pattern = bayer or raw.bayer
    if pattern not in PATTERNS:
        raise DatasetError(f"{raw.path}: Bayer pattern {pattern!r} is unknown; choose one of "
                           f"{', '.join(PATTERNS)} (--bayer overrides the manifest)")
    if raw.height % 2 or raw.width % 2:
        raise DatasetError(f"{raw.path}: images are {raw.height}x{raw.width}; a {pattern} Bayer image needs "
                           "an even height and width (whole 2x2 colour blocks): crop the stream to even size")
    black, white = raw.manifest.get("black_level"), raw.manifest.get("white_level")
    if not (isinstance(black, int | float) and isinstance(white, int | float) and 0 <= black < white <= 255):
        raise DatasetError(f"{raw.path}: manifest needs 0 <= black_level < white_level <= 255, "
                           f"got black_level={black}, white_level={white}")


def _check_schedule(raw: RawStream) -> None:
    n = raw.n_images
    sched = raw.manifest.get("schedule", {})
    try:
        declared_n = int(sched["n_images"]) if "n_images" in sched else n
        declared_fps = float(sched.get("fps") or 0.0)
    except (TypeError, ValueError, OverflowError, AttributeError):
        raise DatasetError(f"{raw.path}: manifest schedule.n_images and schedule.fps must be numbers "
                           "(and schedule an object): ingest the take again") from None
    if declared_n != n:
        raise DatasetError(f"{raw.path}: the schedule describes {sched['n_images']} images but the stream "
                           f"holds {n}: the stream is truncated or the manifest belongs to another take")
    time = raw.small("time")
    dt = np.diff(time)
    bad = np.nonzero(~(dt > 0))[0]
    if bad.size:
        i = int(bad[0])
        raise DatasetError(f"{raw.path}: timestamp of image {i + 1} ({time[i + 1]:.6f} s) is not after "
                           f"image {i} ({time[i]:.6f} s)")
    fps = declared_fps or (1.0 / float(np.median(dt)) if dt.size else 0.0)
    if dt.size and fps > 0:
        try:  # frames the camera dropped, recorded by `nervp ingest`: their gaps are expected
            declared = {int(i): int(k) for i, k in sched.get("dropped", [])}
        except (TypeError, ValueError, OverflowError):
            raise DatasetError(f"{raw.path}: manifest schedule.dropped must be a list of [image, count] pairs") from None
        gap = np.nonzero(dt > 1.5 / fps)[0]
        gap = gap[[declared.get(int(i)) != int(round(dt[i] * fps)) - 1 for i in gap]] if declared else gap
        if gap.size:
            i = int(gap[0])
            k = int(round(dt[i] * fps)) - 1
            raise DatasetError(f"{raw.path}: {k} frame(s) missing after image {i}: timestamps jump from "
                               f"{time[i]:.6f} s to {time[i + 1]:.6f} s at {fps:g} fps")
    gain = raw.small("gain")
    bad = np.nonzero(~(np.isfinite(gain) & (gain > 0)))[0]
    if bad.size:
        raise DatasetError(f"{raw.path}: image {bad[0]} has exposure gain {gain[bad[0]]}; gains must be positive")
    pattern = raw.small("pattern")
    tracking = np.nonzero(pattern == TRACKING)[0]
    if tracking.size < 2:
        raise DatasetError(f"{raw.path}: the stream has {tracking.size} tracking (all-on) frame(s); alignment "
                           "needs at least two")
    mids, olat = raw.small("sets_middle"), raw.small("sets_olat")
    L = olat.shape[1]
    out = np.nonzero((olat < 0) | (olat >= n))[0]
    if out.size:
        s = int(out[0])
        raise DatasetError(f"{raw.path}: set {s} uses image {olat[s][(olat[s] < 0) | (olat[s] >= n)][0]} but the "
                           f"stream has images 0..{n - 1}: the schedule disagrees with the image count")
    bad = np.nonzero((mids < 0) | (mids >= n))[0]
    if bad.size:
        raise DatasetError(f"{raw.path}: set {bad[0]} is centred on image {mids[bad[0]]} but the stream has "
                           f"images 0..{n - 1}: the schedule disagrees with the image count")
    for s in range(olat.shape[0]):
        if pattern[mids[s]] != TRACKING:
            raise DatasetError(f"{raw.path}: set {s} is centred on image {mids[s]}, which is lit by LED "
                               f"{pattern[mids[s]]}, not a tracking frame")
        wrong = np.nonzero(pattern[olat[s]] != np.arange(L))[0]
        if wrong.size:
            l = int(wrong[0])
            raise DatasetError(f"{raw.path}: set {s} takes image {olat[s, l]} for LED {l}, but the pattern "
                               f"says image {olat[s, l]} is lit by {_lit(int(pattern[olat[s, l]]))}")


def _lit(p: int) -> str:
    return "all LEDs (tracking)" if p == TRACKING else f"LED {p}"


def centred_sets(pattern: np.ndarray, n_lights: int) -> tuple[np.ndarray, np.ndarray]:
    """Every tracking frame that can be a set middle, and its set.

    Returns (middles (M,) int64 image indices, olat (M, L) int64 image of LED l): the L/2
    OLAT images before the middle and L - L/2 after it, kept when they hold every LED once
    and lie between the first and last tracking frames.
    """
    L = n_lights
    tracking = np.nonzero(pattern == TRACKING)[0]
    olat_idx = np.nonzero(pattern != TRACKING)[0]
    before, after = L // 2, L - L // 2
    mids, sets = [], []
    for m in tracking:
        k = int(np.searchsorted(olat_idx, m))
        if k - before < 0 or k + after > olat_idx.size:
            continue
        window = olat_idx[k - before:k + after]
        if window[0] < tracking[0] or window[-1] > tracking[-1]:
            continue
        leds = pattern[window].astype(np.int64)
        if np.array_equal(np.sort(leds), np.arange(L)):
            row = np.empty(L, np.int64)
            row[leds] = window
            mids.append(int(m))
            sets.append(row)
    return np.asarray(mids, np.int64), np.asarray(sets, np.int64).reshape(-1, L)


def plan_capture(raw: RawStream, cfg: CaptureConfig | None = None) -> CapturePlan:
    """Decide the output sets (the stream's own, or centred on every k-th tracking frame)."""
    cfg = cfg or CaptureConfig()
    cfg.validate()
    pattern = raw.small("pattern")
    time = raw.small("time")
    L = int(raw.manifest["n_lights"])
    tracking = np.nonzero(pattern == TRACKING)[0].astype(np.int64)
    sched = raw.manifest.get("schedule", {})
    camera_fps = float(sched.get("fps") or 1.0 / np.median(np.diff(time)))
    tracking_fps = camera_fps / float(np.median(np.diff(tracking)))
    stride = cfg.set_stride
    if cfg.fps is not None:
        if cfg.fps > tracking_fps * (1 + 1e-6):
            raise ConfigError(f"--fps {cfg.fps:g} exceeds the tracking-frame rate {tracking_fps:g}: at most one "
                              "set per tracking frame (--set-stride 1)")
        stride = max(1, int(round(tracking_fps / cfg.fps)))
    if stride is None:
        middles, olat = raw.small("sets_middle").astype(np.int64), raw.small("sets_olat").astype(np.int64)
    else:
        cand, cand_olat = centred_sets(pattern, L)
        if cand.size == 0:
            raise DatasetError(f"{raw.path}: no tracking frame has {L} OLAT images (every LED once) around it: "
                               "the stream is shorter than one set or its LED order does not repeat")
        no = np.searchsorted(tracking, cand)
        keep = (no - no[0]) % stride == 0
        middles, olat = cand[keep], cand_olat[keep]
    if middles.size == 0:
        raise DatasetError(f"{raw.path}: the stream lists no OLAT sets; pass --set-stride to plan them")
    T = middles.size
    if T >= 2:
        steps = np.diff(np.searchsorted(tracking, middles))
        set_stride = int(steps[0]) if np.all(steps == steps[0]) else 0
        output_fps = float(1.0 / np.median(np.diff(time[middles])))
    else:
        set_stride = int(stride or sched.get("set_stride") or 0)
        output_fps = tracking_fps / set_stride if set_stride else 0.0
    plan = CapturePlan(raw.n_images, raw.height, raw.width, L, "", tracking, middles, olat,
                       np.zeros(0, np.int64), time[middles].astype(np.float64), set_stride,
                       camera_fps, tracking_fps, output_fps)
    for t in range(T):
        lo, hi = int(olat[t].min()), int(olat[t].max())
        if lo < tracking[0] or hi > tracking[-1]:
            raise DatasetError(f"{raw.path}: set {t} uses image {lo if lo < tracking[0] else hi}, outside the "
                               f"tracking frames {tracking[0]}..{tracking[-1]} that align it")
    pairs = np.unique(np.concatenate([plan.set_pairs(t) for t in range(T)])) if cfg.align else np.zeros(0)
    return CapturePlan(raw.n_images, raw.height, raw.width, L, cfg.bayer or raw.bayer, tracking, middles,
                       olat, pairs.astype(np.int64), plan.time, set_stride, camera_fps, tracking_fps, output_fps)

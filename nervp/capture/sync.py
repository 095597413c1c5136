"""Which LED lit each recorded frame: the controller's schedule, the camera's timestamps, and
the frames matched to the schedule's slots with dropped and duplicated frames found.

A *slot* is one entry of the schedule (the image the controller meant the camera to take).
With timestamps, frame i+1 sits `round((t[i+1] - t[i]) * fps)` slots after frame i: a step of
0 is a duplicate (the camera delivered the same exposure twice), a step of k > 1 means k - 1
dropped frames. Without timestamps frames are taken one slot each. Either way the tracking
frames are then recognised by their look (an all-on image resembles the other all-on images,
not a one-LED image; `tracking_score`) and where a recognised tracking frame does not sit on a
tracking slot the match is re-synchronised to the nearest tracking slot; without timestamps
the frames since the previous tracking frame cannot be told apart and are discarded.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nervp.errors import ConfigError
from nervp.lightstage.schedule import TRACKING


@dataclass(frozen=True)
class SlotSchedule:
    """The controller's schedule.

    Attributes:
        pattern: (N,) int16 LED lit in each slot, TRACKING (-1) for all-on.
        time: (N,) float64 nominal instant of each slot in seconds.
        gain: (N,) float32 exposure scale of each slot (DN per unit radiance, relative).
        fps: slots per second.
        source: where it came from (for messages).
    """

    pattern: np.ndarray
    time: np.ndarray
    gain: np.ndarray
    fps: float
    source: str

    @property
    def n_slots(self) -> int:
        return int(self.pattern.shape[0])

    @property
    def tracking_every(self) -> int:
        t = np.nonzero(self.pattern == TRACKING)[0]
        return int(np.median(np.diff(t))) if t.size >= 2 else 0


def paper_schedule(n_slots: int, n_lights: int, tracking_every: int = 6, fps: float = 1000.0,
                   led_order: tuple[int, ...] | None = None) -> SlotSchedule:
    """The paper's pattern: a tracking frame every `tracking_every`-th slot from slot 0, the
    LEDs in `led_order` (default dome order) cycling in between; unit gains."""
    if tracking_every < 2:
        raise ConfigError(f"--tracking-every must be >= 2, got {tracking_every}")
    if not (math.isfinite(fps) and fps > 0):
        raise ConfigError(f"--fps must be positive, got {fps}")
    order = np.arange(n_lights) if led_order is None else np.asarray(led_order, np.int64)
    idx = np.arange(n_slots)
    track = idx % tracking_every == 0
    rank = np.cumsum(~track) - 1
    pattern = np.where(track, TRACKING, order[rank % n_lights]).astype(np.int16)
    return SlotSchedule(pattern, idx / fps, np.ones(n_slots, np.float32), float(fps), f"paper pattern (tracking every "
                        f"{tracking_every})")


def _led(value: str, path: Path, row: int) -> int:
    v = value.strip().lower()
    if v in ("t", "tracking", "all", "-1"):
        return TRACKING
    try:
        led = int(v)
    except ValueError:
        raise ConfigError(f"{path}: row {row}: led {value!r} is neither an LED index nor 'tracking'") from None
    if not -1 <= led < 2**31:
        raise ConfigError(f"{path}: row {row}: led {value[:20]!r} is not an LED index (0, 1, 2, ...)")
    return led


def _numbers(values: object, dtype: type, what: str, path: Path) -> np.ndarray:
    """`values` as an array of `dtype`; ConfigError naming the file when they are not numbers."""
    try:
        with np.errstate(over="ignore"):
            return np.asarray(values, dtype)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"schedule {path}: {what} must be numbers, one per slot") from None


def read_schedule(path: Path | str, n_lights: int, fps: float | None = None) -> SlotSchedule:
    """A controller's schedule: CSV with columns led[, time][, gain] (one row per slot, in
    order; led = LED index, or -1 / 'tracking' for an all-on frame) or JSON {"led": [...],
    "time": [...], "gain": [...], "fps": F}. ConfigError naming the file for anything else,
    LED indices beyond the dome, or times that do not increase."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"schedule {path}: cannot be read ({e.__class__.__name__})") from None
    if path.suffix.lower() == ".json":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"schedule {path}: not valid JSON ({e.msg}, line {e.lineno})") from None
        if not isinstance(d, dict) or "led" not in d:
            raise ConfigError(f'schedule {path}: expected an object with "led" (and optional "time", "gain", "fps")')
        for key in ("led", "time", "gain"):
            if key in d and (d[key] is not None or key == "led") and not isinstance(d[key], list):
                raise ConfigError(f'schedule {path}: "{key}" must be a list, one entry per slot')
        if "fps" in d and not (isinstance(d["fps"], (int, float)) and not isinstance(d["fps"], bool)):
            raise ConfigError(f'schedule {path}: "fps" must be a number, got {d["fps"]!r:.40}')
        leds = [_led(str(v), path, k) for k, v in enumerate(d["led"])]
        time, gain, fps = d.get("time"), d.get("gain"), d.get("fps", fps)
    else:
        rows = list(csv.reader(ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")))
        head = [h.strip().lower() for h in rows[0]] if rows else []
        if "led" not in head:
            raise ConfigError(f"schedule {path}: needs a header with a 'led' column (led[,time][,gain]), got "
                              f"{rows[0] if rows else 'an empty file'}")
        body = rows[1:]
        bad = [k for k, r in enumerate(body) if len(r) != len(head)]
        if bad:
            raise ConfigError(f"schedule {path}: row {bad[0] + 2} has {len(body[bad[0]])} fields, the header has "
                              f"{len(head)}")
        col = {h: [r[k] for r in body] for k, h in enumerate(head)}
        leds = [_led(v, path, k + 2) for k, v in enumerate(col["led"])]
        try:
            time = [float(v) for v in col["time"]] if "time" in col else None
            gain = [float(v) for v in col["gain"]] if "gain" in col else None
        except ValueError as e:
            raise ConfigError(f"schedule {path}: {e}; time and gain must be numbers") from None
    pattern = np.asarray(leds, np.int64)
    n = pattern.size
    if n == 0:
        raise ConfigError(f"schedule {path}: lists no slots")
    bad = np.nonzero((pattern < TRACKING) | (pattern >= n_lights))[0]
    if bad.size:
        raise ConfigError(f"schedule {path}: slot {bad[0]} lights LED {pattern[bad[0]]} but the dome has LEDs "
                          f"0..{n_lights - 1} (give the stage's --dome)")
    t = None if time is None else _numbers(time, np.float64, "times", path)
    if t is not None and (t.shape != (n,) or not np.isfinite(t).all() or (np.diff(t) <= 0).any()):
        raise ConfigError(f"schedule {path}: times must be {n} finite, increasing seconds")
    if fps is None:
        if t is None or n < 2:
            raise ConfigError(f"schedule {path}: gives no times and no fps: pass --fps")
        fps = 1.0 / float(np.median(np.diff(t)))
    try:
        fps = float(fps)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"schedule {path}: fps must be a number, got {fps!r:.40}") from None
    if not (math.isfinite(fps) and fps > 0):
        raise ConfigError(f"schedule {path}: fps must be positive, got {fps}")
    if t is None:
        t = np.arange(n) / fps
    g = np.ones(n, np.float32) if gain is None else _numbers(gain, np.float32, "gains", path)
    if g.shape != (n,) or not (np.isfinite(g) & (g > 0)).all():
        raise ConfigError(f"schedule {path}: gains must be {n} finite positive numbers")
    return SlotSchedule(pattern.astype(np.int16), t, g, fps, str(path))


def read_timestamps(path: Path | str, names: list[str] | None, n_frames: int) -> np.ndarray:
    """(n_frames,) float64 camera timestamps (seconds) from a CSV: columns file,time (matched to
    the frame files by name) or one column time (in frame order)."""
    path = Path(path)
    try:
        rows = list(csv.reader(ln for ln in path.read_text().splitlines() if ln.strip()))
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"timestamps {path}: cannot be read ({e.__class__.__name__})") from None
    head = [h.strip().lower() for h in rows[0]] if rows else []
    if "time" not in head:
        raise ConfigError(f"timestamps {path}: needs a header with a 'time' column (file,time or time)")
    body = rows[1:]
    k = head.index("time")
    try:
        times = [float(r[k]) for r in body]
    except (ValueError, IndexError) as e:
        raise ConfigError(f"timestamps {path}: {e}; every row needs a time in seconds") from None
    if "file" in head and names is not None:
        f = head.index("file")
        by = {Path(r[f].strip()).name: t for r, t in zip(body, times, strict=True)}
        missing = [n for n in names if n not in by]
        if missing:
            raise ConfigError(f"timestamps {path}: no time for frame {missing[0]} ({len(missing)} frames lack one)")
        out = np.asarray([by[n] for n in names], np.float64)
    else:
        out = np.asarray(times, np.float64)
        if out.size != n_frames:
            raise ConfigError(f"timestamps {path}: {out.size} times for {n_frames} frames")
    if not np.isfinite(out).all():
        raise ConfigError(f"timestamps {path}: non-finite time")
    back = np.nonzero(np.diff(out) < 0)[0]
    if back.size:
        raise ConfigError(f"timestamps {path}: frame {back[0] + 1} ({out[back[0] + 1]:.6f} s) is before frame "
                          f"{back[0]} ({out[back[0]]:.6f} s); times must not decrease")
    return out


def thumbnail(img: np.ndarray, black: float, size: int = 16) -> np.ndarray:
    """(size*size,) float32 block means of a Bayer frame minus black (2x2 colour blocks kept
    whole), the frame's brightness pattern."""
    H, W = img.shape
    bh, bw = max(2, H // size // 2 * 2), max(2, W // size // 2 * 2)
    h, w = min(size, H // bh), min(size, W // bw)
    a = img[:h * bh, :w * bw].astype(np.float32).reshape(h, bh, w, bw).mean((1, 3)) - np.float32(black)
    return np.clip(a, 0, None).ravel()


def tracking_score(thumbs: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(M,) cosine similarity of each frame's brightness pattern to the all-on reference:
    independent of exposure gain, near 1 for tracking frames."""
    t = thumbs / np.maximum(np.linalg.norm(thumbs, axis=1, keepdims=True), 1e-12)
    r = reference / max(float(np.linalg.norm(reference)), 1e-12)
    return t @ r


def _split(x: np.ndarray, fraction: float) -> float | None:
    """A threshold that puts about `fraction` of the values `x` above it with a clear gap: the
    widest gap between sorted values whose upper side holds 0.5x to 1.5x that fraction; None
    when that gap is not wider than the spread within the upper side."""
    v = np.sort(x)
    n = v.size
    lo, hi = max(1, int(n * (1 - 1.5 * fraction))), min(n - 1, int(np.ceil(n * (1 - 0.5 * fraction))))
    if hi <= lo:
        return None
    gaps = v[lo:hi + 1] - v[lo - 1:hi]
    k = int(np.argmax(gaps))
    upper = v[lo + k:]
    if gaps[k] <= (upper[-1] - upper[0]) * 0.25:
        return None
    return float(0.5 * (v[lo + k - 1] + v[lo + k]))


def tracking_frames(thumbs: np.ndarray, tracking_every: int) -> np.ndarray | None:
    """(M,) bool: which frames are tracking (all-on) frames by their look, or None when the
    frames do not split clearly. About 1 in `tracking_every` frames is one. The look is the
    log mean brightness (all LEDs on is many times one LED), else the cosine of the frame's
    brightness pattern to the brightest frames' (for exposures that even out brightness)."""
    if thumbs.shape[0] < 2 * tracking_every or tracking_every < 2:
        return None
    frac = 1.0 / tracking_every
    bright = np.log(np.maximum(thumbs.mean(1), 1e-6))
    t = _split(bright, frac)
    if t is not None:
        return bright > t
    top = bright >= np.quantile(bright, 1 - 0.5 * frac)
    cos = tracking_score(thumbs, np.median(thumbs[top], axis=0))
    t = _split(cos, frac)
    return None if t is None else cos > t


@dataclass(frozen=True)
class SyncReport:
    """How the frames matched the schedule.

    Attributes:
        slot: (M,) int64 schedule slot of each frame, -1 for a frame not used (a duplicate, or
            a frame whose LED cannot be told).
        dropped: (D,) int64 slots no frame arrived for (discarded frames' slots included).
        duplicates: (K,) int64 frames that repeat the previous frame's slot (not used).
        discarded: (Q,) int64 frames whose LED could not be told (not used).
        resync: (frame, slot shift) where the tracking frames moved the match.
        tracking_check: whether the tracking frames' look was separable enough to check with.
    """

    slot: np.ndarray
    dropped: np.ndarray
    duplicates: np.ndarray
    discarded: np.ndarray
    resync: tuple[tuple[int, int], ...] = field(default_factory=tuple)
    tracking_check: bool = False

    @property
    def n_dropped(self) -> int:
        """Frames the camera dropped (slots left empty, less those of discarded frames)."""
        return int(self.dropped.size - self.discarded.size)

    def summary(self, n_slots: int) -> str:
        used = int((self.slot >= 0).sum())
        pct = 100.0 * self.n_dropped / max(n_slots, 1)
        parts = [f"{used} of {self.slot.size} frames on {n_slots} schedule slots; {self.n_dropped} frame(s) dropped "
                 f"by the camera ({pct:.2f} %)"]
        if self.dropped.size:
            parts.append(("empty slots " if self.discarded.size else "slots ") + _span(self.dropped.tolist()))
        if self.duplicates.size:
            parts.append(f"{self.duplicates.size} duplicated frame(s) skipped: {_span(self.duplicates.tolist())}")
        if self.discarded.size:
            parts.append(f"{self.discarded.size} frame(s) discarded (which LED lit them is unknown without "
                         "--timestamps)")
        if self.resync:
            parts.append("re-synchronised by tracking frames at " + ", ".join(f"frame {f} ({s:+d})"
                                                                            for f, s in self.resync[:6]))
        return "; ".join(parts)


def _span(v: list[int]) -> str:
    return ", ".join(str(x) for x in v[:10]) + (f", ... ({len(v)} in all)" if len(v) > 10 else "")


def match_frames(sched: SlotSchedule, n_frames: int, times: np.ndarray | None, tracking: np.ndarray | None,
                 same_as_previous: np.ndarray | None = None, where: str = "frames") -> SyncReport:
    """Match M frames to the schedule's slots (module docstring).

    Args:
        times: (M,) camera timestamps in seconds, or None.
        tracking: (M,) bool, frames that look like tracking frames (`tracking_frames`), or None
            to skip the tracking-frame check.
        same_as_previous: (M,) bool, frame identical to the one before (a duplicate), or None.
    """
    M, N = n_frames, sched.n_slots
    slot = np.full(M, -1, np.int64)
    dup = np.zeros(M, bool) if same_as_previous is None else same_as_previous.astype(bool).copy()
    dup[0] = False
    if times is not None:
        cur, last_t = 0, float(times[0])
        slot[0] = 0
        for i in range(1, M):
            step = int(np.rint((times[i] - last_t) * sched.fps))
            if dup[i] or step <= 0:
                dup[i] = True
                continue
            cur += step
            slot[i], last_t = cur, float(times[i])
    else:
        slot[~dup] = np.arange(int((~dup).sum()))
    is_track = sched.pattern == TRACKING
    track_slots = np.nonzero(is_track)[0]
    check, resync, discarded = False, [], []
    if tracking is not None and times is not None:  # trust the look only where it agrees with the clock
        on = (slot >= 0) & (slot < N)
        agree = float(np.mean(tracking[on] == is_track[slot[on]])) if on.any() else 0.0
        tracking = tracking if agree >= 0.98 else None
    if tracking is not None and track_slots.size >= 2:
        check = True
        shift, prev_track = 0, -1
        for i in range(M):
            if slot[i] < 0:
                continue
            slot[i] += shift
            s = int(slot[i])
            if tracking[i] and s < N and not is_track[s]:
                k = int(np.argmin(np.abs(track_slots - s)))
                d = int(track_slots[k] - s)
                shift += d
                slot[i] += d
                resync.append((i, d))
                if times is None:  # which OLAT frames since the last tracking frame were lost is unknown
                    for j in range(prev_track + 1, i):
                        if slot[j] >= 0:
                            discarded.append(j)
                            slot[j] = -1
            if tracking[i]:
                prev_track = i
    used = slot[slot >= 0]
    if used.size and used.max() >= N:
        i = int(np.argmax(slot >= N))
        raise ConfigError(f"{where}: frame {i} falls on schedule slot {slot[i]} but {sched.source} has {N} slots: "
                          f"the schedule is shorter than the recording ({M} frames)")
    if np.unique(used).size != used.size:
        raise ConfigError(f"{where}: two frames fall on one schedule slot after re-synchronising; the timestamps and "
                          "the tracking frames disagree: check --timestamps and --schedule")
    missing = np.setdiff1d(np.arange(N), used)
    tail = missing[missing > (used.max() if used.size else -1)]
    if tail.size > sched.tracking_every:
        raise ConfigError(f"{where}: {M} frames cover slots up to {used.max() if used.size else -1} but {sched.source} "
                          f"lists {N}: the schedule is longer than the recording (trim it or add the missing frames)")
    return SyncReport(slot, missing.astype(np.int64), np.nonzero(dup)[0].astype(np.int64),
                      np.asarray(sorted(discarded), np.int64), tuple(resync), check)

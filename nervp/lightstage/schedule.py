"""The high-speed capture schedule (paper section 6, Fig. 14).

The camera records at `fps` images per second. Every `tracking_every`-th image is a
*tracking* frame lit by all LEDs; the images between are OLAT images whose LED follows
`led_order` cyclically. Because the LED sequence cycles, any run of L consecutive OLAT
images holds every LED exactly once, so an OLAT *set* can be centred on any tracking frame:
the set centred on tracking image m is the L/2 OLAT images before m and the L/2 after it
(for odd L one more after). Sets centred on neighbouring tracking frames overlap, which is
what lets one OLAT image serve several sets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nervp.errors import ConfigError

TRACKING = -1
"""Pattern code of a tracking (all LEDs on) image."""


@dataclass(frozen=True)
class ScheduleConfig:
    """How the camera and LEDs are sequenced."""

    fps: float = 1000.0
    """Camera frame rate (images per second); the paper's camera runs at 1000 fps."""
    tracking_every: int = 6
    """One all-on tracking image every this many images (the paper: every 6)."""
    set_stride: int = 7
    """Centre an output OLAT set on every k-th tracking frame (1 = the highest output rate)."""
    led_order: tuple[int, ...] | None = None
    """Firing order of the LEDs; None = dome order 0..L-1."""


@dataclass(frozen=True)
class Schedule:
    """A concrete capture schedule.

    Attributes:
        pattern: (N,) int16 per image: LED index lit, or TRACKING (-1) for all-on.
        time: (N,) float64 capture instant of each image in seconds (start of exposure).
        sets_middle: (S,) int64 image index of each output set's middle tracking frame.
        sets_olat: (S, L) int64 image index of the OLAT image of LED l in set s.
        fps: camera frame rate.
        tracking_every: tracking period in images.
        set_stride: tracking frames between consecutive set middles.
    """

    pattern: np.ndarray
    time: np.ndarray
    sets_middle: np.ndarray
    sets_olat: np.ndarray
    fps: float
    tracking_every: int
    set_stride: int

    @property
    def n_images(self) -> int:
        return int(self.pattern.shape[0])

    @property
    def n_sets(self) -> int:
        return int(self.sets_middle.shape[0])

    @property
    def n_lights(self) -> int:
        return int(self.sets_olat.shape[1])

    @property
    def output_fps(self) -> float:
        """Rate of output OLAT sets (sets per second)."""
        return self.fps / (self.tracking_every * self.set_stride)

    def reuse_counts(self) -> np.ndarray:
        """(N,) how many sets use each image as an OLAT image (0 for tracking images)."""
        return np.bincount(self.sets_olat.ravel(), minlength=self.n_images)

    def to_json(self) -> dict:
        return {"fps": self.fps, "tracking_every": self.tracking_every, "set_stride": self.set_stride,
                "n_images": self.n_images, "n_sets": self.n_sets, "output_fps": self.output_fps}


def _check(cfg: ScheduleConfig, n_lights: int) -> np.ndarray:
    if n_lights < 1:
        raise ConfigError(f"a schedule needs at least one light, got {n_lights}")
    if cfg.tracking_every < 2:
        raise ConfigError(f"tracking_every must be >= 2 (one tracking + OLAT images), got {cfg.tracking_every}")
    if cfg.set_stride < 1:
        raise ConfigError(f"set_stride must be >= 1, got {cfg.set_stride}")
    if not cfg.fps > 0:
        raise ConfigError(f"fps must be positive, got {cfg.fps}")
    order = np.arange(n_lights) if cfg.led_order is None else np.asarray(cfg.led_order, dtype=np.int64)
    if sorted(order.tolist()) != list(range(n_lights)):
        raise ConfigError(f"led_order must be a permutation of 0..{n_lights - 1}")
    return order


def make_schedule(n_sets: int, n_lights: int, cfg: ScheduleConfig = ScheduleConfig()) -> Schedule:
    """The shortest stream that yields `n_sets` overlapping OLAT sets of `n_lights` LEDs."""
    if n_sets < 1:
        raise ConfigError(f"need at least one OLAT set, got {n_sets}")
    order = _check(cfg, n_lights)
    per_group = cfg.tracking_every - 1  # OLAT images between two tracking images
    before, after = n_lights // 2, n_lights - n_lights // 2
    first_mid = -(-before // per_group)  # tracking index with >= `before` OLAT images ahead of it
    last_mid = first_mid + (n_sets - 1) * cfg.set_stride
    n_tracking = last_mid + -(-after // per_group) + 1
    n_images = (n_tracking - 1) * cfg.tracking_every + 1
    idx = np.arange(n_images)
    is_track = idx % cfg.tracking_every == 0
    olat_rank = np.cumsum(~is_track) - 1  # index of each OLAT image among OLAT images
    pattern = np.where(is_track, TRACKING, order[olat_rank % n_lights]).astype(np.int16)
    time = idx / cfg.fps
    olat_idx = idx[~is_track]
    mids = (first_mid + np.arange(n_sets) * cfg.set_stride) * cfg.tracking_every
    sets = np.empty((n_sets, n_lights), dtype=np.int64)
    for s, m in enumerate(mids):
        k = np.searchsorted(olat_idx, m)  # OLAT images before m: olat_idx[:k]
        window = olat_idx[k - before: k + after]
        sets[s, pattern[window]] = window
    return Schedule(pattern, time, mids.astype(np.int64), sets, cfg.fps, cfg.tracking_every, cfg.set_stride)

"""A raw stream drawn in numpy, no rendering: a textured Lambertian ball drifting across the
frame, lit by each LED of a dome in turn and by all of them on tracking frames, mosaicked and
quantised like the virtual stage's camera (tracking and OLAT images with their own gains).
Costs milliseconds per image, so streams of hundreds of images and domes of 156 LEDs fit in
a unit test; the light stage's physics is the virtual stage's job, not this one's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nervp.capture.ingest import write_raw_stream
from nervp.imaging.bayer import mosaic
from nervp.lightstage.dome import Dome
from nervp.lightstage.schedule import TRACKING, ScheduleConfig, make_schedule


def ball_radiance(dome: Dome, size: int, t: float, leds: np.ndarray, motion: float = 1.0) -> np.ndarray:
    """(len(leds), size, size, 3) linear radiance of the ball at time t under each LED (-1 = all);
    `motion` scales how far it drifts (0 = still)."""
    y, x = (np.mgrid[0:size, 0:size] + 0.5) / size * 2 - 1
    x = x - motion * 0.3 * np.sin(2 * np.pi * 3 * t)  # drifts a few pixels within a set
    y = y - motion * 0.2 * np.cos(2 * np.pi * 2 * t)
    r2 = (x * x + y * y) / 0.7 ** 2
    inside = r2 < 1
    n = np.stack([x / 0.7, -y / 0.7, np.sqrt(np.clip(1 - r2, 0, None))], -1)
    albedo = np.stack([0.6 + 0.3 * np.sin(9 * x), 0.5 + 0.3 * np.cos(7 * y), 0.4 + 0.2 * np.sin(5 * (x + y))], -1)
    out = []
    for led in leds:
        idx = np.arange(dome.n_lights) if led == TRACKING else np.array([led])
        cos = np.clip(n @ dome.direction[idx].T, 0, None)  # (H, W, k)
        rad = (cos[..., None] * dome.intensity[idx][None, None]).sum(2) * albedo
        out.append(np.where(inside[..., None], rad, 0.02))
    return np.asarray(out, np.float64)


def synthetic_stream(path: Path, dome: Dome, n_sets: int, size: int = 32, tracking_every: int = 3,
                     seed: int = 0, motion: float = 1.0) -> Path:
    """Write a raw stream of `n_sets` sets (a set on every tracking frame) at `path`."""
    sched = make_schedule(n_sets, dome.n_lights, ScheduleConfig(tracking_every=tracking_every, set_stride=1))
    g_track = 0.8 * 4 / dome.n_lights  # tracking frames about 4x an average OLAT image's brightness
    gain = np.where(sched.pattern == TRACKING, g_track, 0.8).astype(np.float32)
    rng = np.random.default_rng(seed)
    black, white = 6, 255

    def images():
        for i in range(sched.n_images):
            rad = ball_radiance(dome, size, float(sched.time[i]), np.array([sched.pattern[i]]), motion)[0]
            sig = mosaic(torch.from_numpy(rad)).numpy() * gain[i]
            dn = black + sig * (white - black) + rng.normal(0, 0.5, sig.shape)
            yield np.clip(np.rint(dn), 0, 255).astype(np.uint8)

    return write_raw_stream(path, images(), sched.pattern, sched.time, gain, dome, black_level=black,
                            white_level=white, fps=sched.fps, sets=(sched.sets_middle, sched.sets_olat))

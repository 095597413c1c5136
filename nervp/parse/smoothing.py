"""Temporal smoothing of landmark tracks: the One-Euro filter, causal or zero-phase.

The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) is a first-order low-pass whose
cutoff rises with the signal's speed: ``cutoff = min_cutoff + beta * |speed|``. At rest it
removes jitter (a low cutoff); in fast motion it follows (a high cutoff, little lag).

Here every landmark has its own filter and one cutoff for both coordinates (the speed is the
2-D speed of the point). Positions are divided by a scale (the clip's inter-ocular distance
in pixels) before filtering, so `beta` and the speeds are in inter-ocular distances per
second and the same settings work at every image size.

Modes:
    * ``causal``: one forward pass, usable live; lag at rest is about tau = 1 / (2 pi
      min_cutoff) seconds, shrinking as the point moves.
    * ``offline`` (default): a forward then a backward pass over the whole clip (zero phase:
      no lag at all, twice the attenuation). Parsing is an offline job, so this is the default.
    * ``off``: no smoothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

SmoothMode = Literal["offline", "causal", "off"]


@dataclass(frozen=True)
class SmoothConfig:
    """Landmark smoothing (see the module docstring for the trade-off)."""

    mode: SmoothMode = "offline"
    """offline: zero-lag forward-backward One-Euro; causal: forward only (live use); off."""
    min_cutoff_hz: float = 1.0
    """Cutoff at rest, Hz: lower removes more jitter but lags (causal) or blurs slow motion."""
    beta: float = 10.0
    """Cutoff increase per unit speed (Hz per inter-ocular distance per second): higher follows
    fast motion (blinks, speech) more closely and smooths less while moving."""
    d_cutoff_hz: float = 1.0
    """Cutoff of the speed estimate, Hz."""

    def validate(self) -> None:
        from nervp.errors import ConfigError

        if self.mode not in ("offline", "causal", "off"):
            raise ConfigError(f"smoothing mode must be offline, causal or off, got {self.mode!r}")
        if not (self.min_cutoff_hz > 0 and self.d_cutoff_hz > 0 and self.beta >= 0):
            raise ConfigError("smoothing needs --min-cutoff-hz > 0, --d-cutoff-hz > 0 and --beta >= 0")

    def to_json(self) -> dict:
        return {"mode": self.mode, "min_cutoff_hz": self.min_cutoff_hz, "beta": self.beta,
                "d_cutoff_hz": self.d_cutoff_hz}


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


def one_euro(x: np.ndarray, fps: float, cfg: SmoothConfig, scale: float = 1.0) -> np.ndarray:
    """Causal One-Euro filter of point tracks x (T, P, D) sampled at `fps`; returns (T, P, D).

    Every point p has its own filter state; its cutoff uses the norm of its D-dimensional
    speed. `scale` divides positions before the speed enters the cutoff (so `beta` is in
    1 / scale units). No NaN allowed (fill gaps first).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"one_euro expects (T, P, D) tracks, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("one_euro got NaN or inf positions: fill gaps before smoothing")
    T = x.shape[0]
    out = np.empty_like(x)
    if T == 0:
        return out
    dt = 1.0 / fps
    a_d = _alpha(cfg.d_cutoff_hz, dt)
    xh = x[0].copy()
    dxh = np.zeros_like(xh)
    out[0] = xh
    for t in range(1, T):
        dx = (x[t] - xh) / dt
        dxh += a_d * (dx - dxh)
        speed = np.linalg.norm(dxh, axis=-1, keepdims=True) / scale
        a = _alpha(cfg.min_cutoff_hz + cfg.beta * speed, dt)
        xh += a * (x[t] - xh)
        out[t] = xh
    return out


class OneEuro:
    """The causal One-Euro filter of `one_euro`, one sample at a time (live use).

    `step(x)` takes the points (P, D) of the next sample and returns them filtered, with the
    same float64 arithmetic as `one_euro`, so stepping through a clip gives exactly
    `one_euro` of it. `reset()` forgets the state: the next sample starts a new run.
    """

    def __init__(self, fps: float, cfg: SmoothConfig, scale: float = 1.0) -> None:
        if not (fps > 0 and scale > 0):
            raise ValueError(f"OneEuro needs fps > 0 and scale > 0, got {fps}, {scale}")
        self.dt = 1.0 / fps
        self.cfg = cfg
        self.scale = scale
        self.a_d = _alpha(cfg.d_cutoff_hz, self.dt)
        self.xh: np.ndarray | None = None
        self.dxh: np.ndarray | None = None

    def reset(self) -> None:
        self.xh = self.dxh = None

    def step(self, x: np.ndarray) -> np.ndarray:
        """Filtered (P, D) float64 copy of the sample x (P, D) (finite values only)."""
        x = np.asarray(x, dtype=np.float64)
        if not np.isfinite(x).all():
            raise ValueError("OneEuro got NaN or inf positions: reset() at a gap instead")
        if self.xh is None:
            self.xh, self.dxh = x.copy(), np.zeros_like(x)
            return self.xh.copy()
        dt, cfg = self.dt, self.cfg
        dx = (x - self.xh) / dt
        self.dxh += self.a_d * (dx - self.dxh)
        speed = np.linalg.norm(self.dxh, axis=-1, keepdims=True) / self.scale
        a = _alpha(cfg.min_cutoff_hz + cfg.beta * speed, dt)
        self.xh += a * (x - self.xh)
        return self.xh.copy()


def one_euro_reference(x: np.ndarray, fps: float, cfg: SmoothConfig, scale: float = 1.0) -> np.ndarray:
    """Slow twin of `one_euro`: a scalar loop per point, written to be obviously right."""
    x = np.asarray(x, dtype=np.float64)
    T, P, D = x.shape
    out = np.empty_like(x)
    dt = 1.0 / fps
    for p in range(P):
        prev = [float(v) for v in x[0, p]]
        dprev = [0.0] * D
        out[0, p] = prev
        for t in range(1, T):
            a_d = _alpha(cfg.d_cutoff_hz, dt)
            dprev = [dprev[k] + a_d * ((x[t, p, k] - prev[k]) / dt - dprev[k]) for k in range(D)]
            speed = math.sqrt(sum(v * v for v in dprev)) / scale
            a = _alpha(cfg.min_cutoff_hz + cfg.beta * speed, dt)
            prev = [prev[k] + a * (x[t, p, k] - prev[k]) for k in range(D)]
            out[t, p] = prev
    return out


def smooth_track(x: np.ndarray, fps: float, cfg: SmoothConfig, scale: float = 1.0) -> np.ndarray:
    """Smooth tracks x (T, P, D) by `cfg.mode`; NaN frames split the clip into runs that are
    filtered independently (and stay NaN). Returns float32 (T, P, D)."""
    cfg.validate()
    x = np.asarray(x, dtype=np.float64)
    if cfg.mode == "off":
        return x.astype(np.float32)
    ok = np.isfinite(x).all(axis=(1, 2))
    out = np.full_like(x, np.nan)
    t = 0
    while t < len(ok):
        if not ok[t]:
            t += 1
            continue
        e = t
        while e < len(ok) and ok[e]:
            e += 1
        run = one_euro(x[t:e], fps, cfg, scale)
        if cfg.mode == "offline":
            run = one_euro(run[::-1], fps, cfg, scale)[::-1]
        out[t:e] = run
        t = e
    return out.astype(np.float32)


def fill_gaps(x: np.ndarray, found: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Linearly interpolate (T, ...) values across runs of at most `max_gap` missing frames
    that have found frames on both sides. Returns (filled copy, filled mask (T,) bool)."""
    x = np.array(x, dtype=np.float32, copy=True)
    found = np.asarray(found, bool)
    filled = np.zeros(len(found), bool)
    idx = np.flatnonzero(found)
    for a, b in zip(idx[:-1], idx[1:], strict=True):
        n = b - a - 1
        if 0 < n <= max_gap:
            w = (np.arange(1, n + 1) / (n + 1)).reshape(-1, *([1] * (x.ndim - 1)))
            x[a + 1:b] = (1 - w) * x[a] + w * x[b]
            filled[a + 1:b] = True
    return x, filled

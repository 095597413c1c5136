"""Measurements of parsing quality: jitter, lag, pose and expression recovery.

Jitter (of a still region): the median frame-to-frame motion of the nose-bridge landmark
(MediaPipe 168) over the frames where the head is still, in inter-ocular distances (IOD).
"Still" frames are those whose head speed -- the motion of the centroid of the 468 mesh
landmarks after a Gaussian blur of sigma 3 frames, which averages the tracker noise away --
is below `STILL_SPEED` IOD per second (about 4 mm/s for an adult face).

Lag: the time shift k (frames, in steps of 0.05) that best aligns the smoothed track with
the raw one, ``argmin_k mean |smoothed(t) - raw(t - k)|^2`` with linear interpolation of the
raw track, over all mesh landmarks; positive = the smoothed track is late.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

NOSE_BRIDGE = 168


STILL_SPEED = 0.075
"""Head speed (IOD per second) below which the head counts as still."""


def still_frames(raw: np.ndarray, scale: float, fps: float, max_speed: float = STILL_SPEED) -> np.ndarray:
    """(T - 1,) bool: the head is still between frames t and t + 1 (see the module docstring).
    raw: (T, 478, 2) tracked landmarks (no NaN); scale: IOD in pixels."""
    c = gaussian_filter1d(raw[:, :468].astype(np.float64).mean(1), 3.0, axis=0)
    speed = np.linalg.norm(np.diff(c, axis=0), axis=-1) / scale * fps
    return speed < max_speed


def jitter(track: np.ndarray, still: np.ndarray, scale: float, point: int = NOSE_BRIDGE) -> float:
    """Median frame-to-frame motion of landmark `point` over the still frames, in `scale` units."""
    d = np.linalg.norm(np.diff(track[:, point].astype(np.float64), axis=0), axis=-1) / scale
    return float(np.median(d[still]))


def lag_frames(smoothed: np.ndarray, raw: np.ndarray, max_lag: float = 4.0, step: float = 0.05) -> float:
    """Shift in frames that best aligns `smoothed` (T, P, 2) with `raw` (see the module docstring)."""
    s, r = smoothed[:, :468].astype(np.float64), raw[:, :468].astype(np.float64)
    T = len(r)
    m = int(math.ceil(max_lag)) + 1
    t = np.arange(m, T - m)
    best, best_k = np.inf, 0.0
    for k in np.arange(-max_lag, max_lag + step / 2, step):
        q = t - k
        i0 = np.floor(q).astype(int)
        w = (q - i0)[:, None, None]
        shifted = (1 - w) * r[i0] + w * r[i0 + 1]
        e = float(((s[t] - shifted) ** 2).mean())
        if e < best:
            best, best_k = e, float(k)
    return round(best_k, 4)


def rotation_error_deg(theta_a: torch.Tensor, theta_b: torch.Tensor) -> torch.Tensor:
    """(T,) angle in degrees of the relative rotation between the poses' axis-angle parts."""
    from nervp.face import pose_matrix

    ra, _ = pose_matrix(theta_a.double())
    rb, _ = pose_matrix(theta_b.double())
    rel = ra.transpose(1, 2) @ rb
    cos = ((rel.diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2).clamp(-1, 1)
    return torch.rad2deg(torch.acos(cos)).float()


def correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation per column of (T, E) arrays; NaN where a column does not vary."""
    a = a - a.mean(0)
    b = b - b.mean(0)
    den = np.sqrt((a * a).sum(0) * (b * b).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 1e-12, (a * b).sum(0) / np.where(den > 0, den, 1), np.nan)

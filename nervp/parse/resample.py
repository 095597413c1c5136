"""Resampling a performer's head-model parameters in time (high-frame-rate reenactment).

The translator maps face parameters to a reflectance field, so a field at any frame rate can be
made by resampling the source's tracked parameters before conditioning (paper section 4.1,
Fig. 7): rotations along the unit-quaternion sphere (slerp), translation and expression along a
uniform Catmull-Rom spline through the tracked values. Both splines pass through every knot, so
resampling at the source's own rate gives the source back unchanged.

Times are in source frames: position p = k · f_src / f_out for output frame k; knot i sits at p = i.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from nervp.errors import ConfigError, NervpError
from nervp.structures.face import FaceParams

RotationMode = Literal["spline", "slerp"]

GAP_TOLERANCE = 0.5
"""A step between timestamps more than (1 + this) source frame intervals long is a gap."""


# --------------------------------------------------------------------------- quaternions (w, x, y, z)


def quat_from_axis_angle(aa: np.ndarray) -> np.ndarray:
    """(N, 4) float64 unit quaternions (w, x, y, z) of (N, 3) axis-angle rotations (rad)."""
    aa = np.asarray(aa, np.float64).reshape(-1, 3)
    angle = np.linalg.norm(aa, axis=1)
    half = 0.5 * angle
    # sin(a/2)/a, with its Taylor series near 0 (exact to float64 below 1e-4 rad)
    k = np.where(angle > 1e-4, np.sin(half) / np.maximum(angle, 1e-300), 0.5 - angle ** 2 / 48)
    return np.concatenate([np.cos(half)[:, None], aa * k[:, None]], axis=1)


def axis_angle_from_quat(q: np.ndarray) -> np.ndarray:
    """(N, 3) axis-angle (rad, angle in [0, π]) of (N, 4) quaternions (w, x, y, z), normalised first."""
    q = np.asarray(q, np.float64).reshape(-1, 4)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    q = np.where(q[:, :1] < 0, -q, q)  # the same rotation with w >= 0: angle <= π
    s = np.linalg.norm(q[:, 1:], axis=1)
    angle = 2 * np.arctan2(s, q[:, 0])
    k = np.where(s > 1e-12, angle / np.maximum(s, 1e-300), 2.0)  # angle / sin(angle / 2) -> 2
    return q[:, 1:] * k[:, None]


def slerp(q0: np.ndarray, q1: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Spherical linear interpolation of (N, 4) unit quaternions at (N,) fractions `u` (any real
    number: outside [0, 1] it continues along the same great circle). Takes the shorter arc
    (q1 is negated where q0 · q1 < 0); returns unit quaternions, q0 at u = 0 and ±q1 at u = 1."""
    q0, q1 = np.asarray(q0, np.float64), np.asarray(q1, np.float64)
    u = np.asarray(u, np.float64)[:, None]
    d = (q0 * q1).sum(1, keepdims=True)
    q1 = np.where(d < 0, -q1, q1)
    d = np.abs(d).clip(max=1.0)
    omega = np.arccos(d)
    so = np.sin(omega)
    near = so < 1e-8  # (nearly) the same rotation: the chord is the arc
    s0 = np.where(near, 1 - u, np.sin((1 - u) * omega) / np.where(near, 1, so))
    s1 = np.where(near, u, np.sin(u * omega) / np.where(near, 1, so))
    q = s0 * q0 + s1 * q1
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def _lerp(a: np.ndarray, b: np.ndarray, u: np.ndarray) -> np.ndarray:
    return a + (b - a) * np.asarray(u, np.float64)[:, None]


# --------------------------------------------------------------------------- splines


def _neighbours(n: int, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For positions in [0, n - 1]: the knot i at or before each, and the fraction in [0, 1)."""
    i = np.clip(np.floor(pos).astype(np.int64), 0, max(n - 2, 0))
    return i, pos - i


def catmull_rom(knots: np.ndarray, pos: np.ndarray, lerp: Callable = _lerp) -> np.ndarray:
    """Uniform Catmull-Rom spline through `knots` (T, D) (knot i at position i) evaluated at
    `pos` (N,) in [0, T - 1], in the Barry-Goldman pyramid form: six interpolations of the four
    knots around each position. With `lerp` = linear interpolation this is the cubic Catmull-Rom
    spline (C1, through every knot); with `slerp` on unit quaternions, its spherical analogue.
    Beyond the ends one phantom knot continues the first (last) step along the same line (great
    circle), so straight-line data stays straight up to the ends. Positions on a knot return it
    exactly."""
    knots = np.asarray(knots, np.float64)
    pos = np.asarray(pos, np.float64)
    T = knots.shape[0]
    if T == 1:
        return np.repeat(knots, pos.size, axis=0)
    two = np.full(1, 2.0)
    padded = np.concatenate([lerp(knots[1:2], knots[:1], two), knots, lerp(knots[-2:-1], knots[-1:], two)])
    i, u = _neighbours(T, pos)
    p0, p1, p2, p3 = padded[i], padded[i + 1], padded[i + 2], padded[i + 3]
    a1, a2, a3 = lerp(p0, p1, u + 1), lerp(p1, p2, u), lerp(p2, p3, u - 1)
    b1, b2 = lerp(a1, a2, (u + 1) / 2), lerp(a2, a3, u / 2)
    out = lerp(b1, b2, u)
    exact = np.isclose(pos, np.round(pos), rtol=0, atol=1e-12)
    return np.where(exact[:, None], knots[np.clip(np.round(pos).astype(np.int64), 0, T - 1)], out)


def catmull_rom_reference(knots: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """The same spline from its matrix form, one position at a time (the slow reference):
    p(u) = ½ [1 u u² u³] M [p0 p1 p2 p3]ᵀ."""
    knots = np.asarray(knots, np.float64)
    M = np.array([[0, 2, 0, 0], [-1, 0, 1, 0], [2, -5, 4, -1], [-1, 3, -3, 1]], np.float64) / 2
    T = knots.shape[0]
    out = []
    for p in np.asarray(pos, np.float64):
        i = min(max(int(math.floor(p)), 0), T - 2)
        u = p - i
        before = knots[i - 1] if i > 0 else 2 * knots[0] - knots[1]
        after = knots[i + 2] if i + 2 < T else 2 * knots[T - 1] - knots[T - 2]
        P = np.stack([before, knots[i], knots[i + 1], after])
        out.append(np.array([1, u, u * u, u ** 3]) @ M @ P)
    return np.stack(out)


def rotation_track(aa: np.ndarray, pos: np.ndarray, mode: RotationMode = "spline") -> np.ndarray:
    """(N, 3) axis-angle rotations of the track `aa` (T, 3) at positions `pos` (N,): along the
    spherical Catmull-Rom spline ("spline": smooth angular velocity) or by slerp between the
    two neighbouring knots ("slerp": piecewise geodesic). The knots' quaternions are made
    sign-continuous first, so each step takes the shorter arc."""
    q = quat_from_axis_angle(aa)
    for t in range(1, len(q)):
        if (q[t] * q[t - 1]).sum() < 0:
            q[t] = -q[t]
    pos = np.asarray(pos, np.float64)
    if mode == "spline":
        out = catmull_rom(q, pos, slerp)
    elif len(q) == 1:
        out = np.repeat(q, pos.size, axis=0)
    else:
        i, u = _neighbours(len(q), pos)
        out = slerp(q[i], q[i + 1], u)
    return axis_angle_from_quat(out)


# --------------------------------------------------------------------------- the timeline


@dataclass(frozen=True)
class Timeline:
    """Output frames on a source's timeline.

    Attributes:
        pos: (N,) float64 position of output frame k in source frames, k · f_src / f_out.
        fps: output frames per second. source_fps: the source's.
        start: instant (s) of source frame 0 (output frame k is at start + k / fps).
    """

    pos: np.ndarray
    fps: float
    source_fps: float
    start: float = 0.0

    @property
    def n_frames(self) -> int:
        return int(self.pos.size)

    @property
    def ratio(self) -> float:
        return self.fps / self.source_fps

    @property
    def times(self) -> np.ndarray:
        return self.start + np.arange(self.n_frames) / self.fps


def output_fps(source_fps: float, fps: float | None, slowmo: float | None) -> float | None:
    """The output rate asked for by --fps or --slowmo (None: the source's own frames), checked:
    ConfigError naming the flag for zero, negative, non-finite, both given, or below the source rate."""
    check_rate_flags(fps, slowmo)
    if slowmo is not None:
        return source_fps * slowmo
    if fps is None:
        return None
    if fps < source_fps * (1 - 1e-9):
        raise ConfigError(f"--fps {fps:g} is below the source's {source_fps:g} fps: resampling only adds frames "
                          f"(give --fps {source_fps:g} or more, or --slowmo N)")
    return float(fps)


def check_rate_flags(fps: float | None, slowmo: float | None) -> None:
    """The checks of `output_fps` that need no source: ConfigError for --fps zero, negative or
    not finite, --slowmo below 1, or both given."""
    if fps is not None and slowmo is not None:
        raise ConfigError("give --fps or --slowmo, not both")
    if slowmo is not None and not (math.isfinite(slowmo) and slowmo >= 1):
        raise ConfigError(f"--slowmo must be a finite factor >= 1 (N times the source's rate), got {slowmo:g}")
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise ConfigError(f"--fps must be a positive number of frames per second, got {fps:g}")


def timeline(n_source: int, source_fps: float, fps: float, start: float = 0.0) -> Timeline:
    """Output frames at `fps` spanning the source's first to last frame (k · f_src / f_out ≤ T - 1)."""
    if n_source < 1:
        raise ValueError("a timeline needs at least one source frame")
    n = int(math.floor((n_source - 1) * fps / source_fps + 1e-9)) + 1
    k = np.arange(n, dtype=np.float64)
    pos = np.minimum((k * source_fps) / fps, n_source - 1)
    return Timeline(pos, float(fps), float(source_fps), float(start))


def check_times(times: np.ndarray, fps: float, where: str) -> None:
    """NervpError naming `where` when the frame instants `times` (T,) s are not one regular run at
    `fps`: not increasing, or a step longer than (1 + GAP_TOLERANCE) frame intervals (dropped frames)."""
    t = np.asarray(times, np.float64)
    if t.size < 2:
        return
    if not np.isfinite(t).all():
        raise NervpError(f"{where} has non-finite timestamps: resampling needs one instant per frame")
    step = np.diff(t)
    bad = np.flatnonzero(~(step > 0))
    if bad.size:
        raise NervpError(f"{where}: timestamps do not increase at frame {bad[0] + 1} ({t[bad[0]]:.6g} s then "
                         f"{t[bad[0] + 1]:.6g} s): resample a source whose frames are in time order")
    gap = np.flatnonzero(step > (1 + GAP_TOLERANCE) / fps)
    if gap.size:
        g = gap[0]
        raise NervpError(f"{where} has a gap in its timestamps after frame {g} ({t[g]:.6g} s to {t[g + 1]:.6g} s, "
                         f"{step[g] * fps:.2f} frame intervals at {fps:g} fps): resampling would bridge missing "
                         "frames; reenact the parts on either side of the gap separately")


def resample_params(params: FaceParams, tl: Timeline, rotation: RotationMode = "spline") -> FaceParams:
    """`params` at the output frames of `tl`: rotations along the quaternion sphere
    (`rotation_track`), translation and expression along the Catmull-Rom spline, expression
    clipped to the range the source spans (the spline may overshoot between knots). Identity,
    colours and camera are kept; `fps` becomes the timeline's. At the source's own rate the
    parameters come back unchanged."""
    T = params.n_frames
    if tl.n_frames == T and np.array_equal(tl.pos, np.arange(T, dtype=np.float64)):
        return params.replace(fps=tl.fps)
    theta = params.theta.double().numpy()
    phi = params.phi.double().numpy()
    rot = rotation_track(theta[:, :3], tl.pos, rotation)
    trans = catmull_rom(theta[:, 3:], tl.pos)
    expr = np.clip(catmull_rom(phi, tl.pos), phi.min(0), phi.max(0)) if phi.shape[1] else phi[:0].reshape(
        tl.n_frames, 0)
    near = np.clip(np.round(tl.pos).astype(np.int64), 0, T - 1)
    bf = None if params.beta_frames is None else params.beta_frames[torch.from_numpy(near)]
    return params.replace(theta=torch.from_numpy(np.concatenate([rot, trans], 1)).float(),
                          phi=torch.from_numpy(expr).float(), residual=params.residual[torch.from_numpy(near)],
                          valid=params.valid[torch.from_numpy(near)], beta_frames=bf, fps=tl.fps)


def window_stride(fps: float, trained_fps: float, mode: Literal["trained", "output"]) -> int:
    """Frames between the translator's window entries on an output timeline at `fps`: "output" 1
    (the 11 newest output frames), "trained" the output frames per frame of the rate the run was
    trained at (the window spans the same seconds as in training), at least 1."""
    if mode == "output":
        return 1
    return max(1, int(round(fps / trained_fps)))


__all__ = ["GAP_TOLERANCE", "RotationMode", "Timeline", "axis_angle_from_quat", "catmull_rom", "catmull_rom_reference",
           "check_rate_flags", "check_times", "output_fps", "quat_from_axis_angle", "resample_params", "rotation_track", "slerp",
           "timeline", "window_stride"]

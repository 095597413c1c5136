"""Faces as they pass between stages: tracks, fitted head-model parameters, the statistics
of eq. 6, and conditioning maps (written by `parse`, stored by `store`, read by `train`,
`reenact` and `evaluate`).

Every object is a frozen dataclass whose fields state shape, dtype, units and colour space.
Frame-indexed arrays share one length T: frame t of the input video or OLAT dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import Tensor

from nervp.render.camera import Camera

N_LANDMARKS = 478

# How a frame's face was found (`FaceTrack.method`).
LOST, TRACKED, REDETECTED, FULL_FRAME, INTERPOLATED = 0, 1, 2, 3, 4
METHOD_NAMES = ("lost", "tracked", "redetected", "full-frame", "interpolated")


@dataclass(frozen=True)
class FaceTrack:
    """MediaPipe FaceMesh landmarks of one face through a clip.

    Attributes:
        landmarks: (T, 478, 2) float32 pixels (x right, y down; (0, 0) is the top-left corner
            of the top-left pixel) after temporal smoothing and gap filling; NaN where
            `valid` is False.
        raw: (T, 478, 2) float32 pixels exactly as the tracker returned them; NaN where
            `found` is False.
        found: (T,) bool, the tracker found a face in frame t.
        valid: (T,) bool, `landmarks[t]` is usable: found, or interpolated across a gap of at
            most `max_gap` frames between found frames.
        method: (T,) int8, how frame t was obtained (LOST, TRACKED, REDETECTED, FULL_FRAME,
            INTERPOLATED; names in METHOD_NAMES).
        width, height: image size in pixels.
        fps: frame rate of the source, frames per second.
        source: where the frames came from (path), for reports.
        smoothing: description of the smoothing applied (mode and parameters), for reports.
    """

    landmarks: np.ndarray
    raw: np.ndarray
    found: np.ndarray
    valid: np.ndarray
    method: np.ndarray
    width: int
    height: int
    fps: float
    source: str = ""
    smoothing: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        T = self.found.shape[0]
        for name, shape in (("landmarks", (T, N_LANDMARKS, 2)), ("raw", (T, N_LANDMARKS, 2)),
                            ("valid", (T,)), ("method", (T,))):
            if getattr(self, name).shape != shape:
                raise ValueError(f"FaceTrack.{name} must have shape {shape}, got {getattr(self, name).shape}")

    @property
    def n_frames(self) -> int:
        return int(self.found.shape[0])

    def gaps(self) -> list[tuple[int, int]]:
        """Runs of frames without a found face, as (first, last) inclusive."""
        out, start = [], None
        for t, f in enumerate(self.found):
            if not f and start is None:
                start = t
            if f and start is not None:
                out.append((start, t - 1))
                start = None
        if start is not None:
            out.append((start, self.n_frames - 1))
        return out


@dataclass(frozen=True)
class FaceParams:
    """Head-model parameters of one performer through a clip: G(β, θ_t, φ_t).

    Attributes:
        beta: (n_id,) float32 identity β̄, the average of per-frame identity estimates.
        theta: (T, 6) float32 head pose per frame: axis-angle (rad), translation (m), world space
            of `camera` (x_cam = R x_world + t).
        phi: (T, E) float32 expression coefficients (names in `expr_names`; 1 = full expression).
        residual: (T,) float32 median landmark fitting error of frame t in inter-ocular distances
            (2-D distance between the tracked iris centres); NaN where not fitted.
        valid: (T,) bool, frame t was fitted to landmarks; other frames hold the nearest valid
            frame's parameters.
        camera: the camera the parameters live in (batch 1).
        fps: frames per second.
        id_names, expr_names: the head model's dimension names, in order.
        colour: (V', 3) float32 per-vertex diffuse colour of the colour mesh (the head model's
            mesh subdivided `colour_levels` times), sRGB-encoded in [0, 1]; None if not sampled.
        colour_levels: subdivision levels of the colour mesh.
        beta_frames: (T, n_id) float32 per-frame identity estimates β_t (NaN where invalid);
            None if not kept.
    """

    beta: Tensor
    theta: Tensor
    phi: Tensor
    residual: Tensor
    valid: Tensor
    camera: Camera
    fps: float
    id_names: tuple[str, ...]
    expr_names: tuple[str, ...]
    colour: Tensor | None = None
    colour_levels: int = 1
    beta_frames: Tensor | None = None

    def __post_init__(self) -> None:
        T = self.theta.shape[0]
        checks = (("beta", self.beta, (len(self.id_names),)), ("theta", self.theta, (T, 6)),
                  ("phi", self.phi, (T, len(self.expr_names))), ("residual", self.residual, (T,)),
                  ("valid", self.valid, (T,)))
        for name, x, shape in checks:
            if tuple(x.shape) != shape:
                raise ValueError(f"FaceParams.{name} must have shape {shape}, got {tuple(x.shape)}")
        if self.colour is not None and (self.colour.ndim != 2 or self.colour.shape[1] != 3):
            raise ValueError(f"FaceParams.colour must be (V', 3), got {tuple(self.colour.shape)}")
        if self.camera.batch != 1:
            raise ValueError(f"FaceParams.camera must hold one camera, got {self.camera.batch}")

    @property
    def n_frames(self) -> int:
        return int(self.theta.shape[0])

    def replace(self, **changes) -> FaceParams:
        return replace(self, **changes)

    def select(self, frames: slice | Tensor) -> FaceParams:
        """The parameters of a subset of frames (identity, camera and colour unchanged)."""
        bf = None if self.beta_frames is None else self.beta_frames[frames]
        return replace(self, theta=self.theta[frames], phi=self.phi[frames],
                       residual=self.residual[frames], valid=self.valid[frames], beta_frames=bf)


@dataclass(frozen=True)
class NormStats:
    """Per-dimension distribution of a performer's pose and expression (eq. 6).

    Attributes:
        theta_mean, theta_std: (6,) float64 mean and population standard deviation (ddof 0) of
            θ over the valid frames (rad for rotation, m for translation).
        phi_mean, phi_std: (E,) float64, the same for φ.
        n_frames: number of valid frames the statistics come from.
        expr_names: names of the φ dimensions.
    """

    theta_mean: np.ndarray
    theta_std: np.ndarray
    phi_mean: np.ndarray
    phi_std: np.ndarray
    n_frames: int
    expr_names: tuple[str, ...]

    def to_json(self) -> dict:
        return {"theta_mean": self.theta_mean.tolist(), "theta_std": self.theta_std.tolist(),
                "phi_mean": self.phi_mean.tolist(), "phi_std": self.phi_std.tolist(),
                "n_frames": self.n_frames, "expr_names": list(self.expr_names)}

    @classmethod
    def from_json(cls, d: dict) -> NormStats:
        return cls(np.asarray(d["theta_mean"], np.float64), np.asarray(d["theta_std"], np.float64),
                   np.asarray(d["phi_mean"], np.float64), np.asarray(d["phi_std"], np.float64),
                   int(d["n_frames"]), tuple(d["expr_names"]))


@dataclass(frozen=True)
class ConditioningMaps:
    """The conditioning feature maps F_t = {I^d, I^c, I^l} of eq. 7, one set per frame.

    Attributes:
        diffuse: (T, H, W, 3) float32 I^d, the target's per-vertex diffuse colour rendered on
            G(β̄, θ_t, φ_t), sRGB-encoded in [0, 1]; 0 off the face.
        pncc: (T, H, W, 3) float32 I^c, the projected normalised coordinate code: the canonical
            (mean-shape, model-space) position of the visible surface point mapped to [0, 1]^3
            by `pncc_box`; 0 off the face.
        landmark: (T, H, W, 3) float32 I^l in {0, 1}: channel 0 face oval, brows and nose
            lines; channel 1 eye-lid and lip contours; channel 2 the irises (gaze), clipped
            to the eye openings.
        mask: (T, H, W) bool, the head-model surface covers the pixel.
        theta: (T, 6), phi: (T, E) float32, the parameters actually rendered (normalised
            and/or pose-fixed).
        pncc_box: (2, 3) float32 rows min and max of the canonical coordinates (metres, model
            space); pncc = (x - min) / (max - min).
    """

    diffuse: Tensor
    pncc: Tensor
    landmark: Tensor
    mask: Tensor
    theta: Tensor
    phi: Tensor
    pncc_box: Tensor

    @property
    def n_frames(self) -> int:
        return int(self.diffuse.shape[0])

    def stacked(self) -> Tensor:
        """(T, 9, H, W) float32 channels-first network input: diffuse, pncc, landmark."""
        return torch.cat([self.diffuse, self.pncc, self.landmark], dim=-1).permute(0, 3, 1, 2)

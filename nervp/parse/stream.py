"""Causal parsing: one source video frame in, the target's driven θ and φ out (live use).

The offline chain (`track_frames` -> `fit_track` -> `retarget`) looks at the whole clip:
zero-phase smoothing, gaps interpolated from both sides, β̄ averaged over frames spread over
the clip, eq. 6 with the clip's statistics, a fixed pose at the clip's mean translation.
A live stream has only the past, so `CausalParser` does each step causally:

* tracking: MediaPipe's face mesh in video mode (`FaceTracker(streaming=True)`);
* smoothing: the causal One-Euro filter (`OneEuro`, the arithmetic of `one_euro`), its
  positions scaled by the inter-ocular distance of the first frame with a face; a frame
  without a face restarts the filter at the next face (as `smooth_track` splits runs);
* identity: β̄ is the running mean of per-frame identities fitted on the first
  `fit.identity_frames` frames with a face, then fixed;
* pose and expression: `fit_landmarks` with that β̄ (the offline fit, one frame);
* eq. 6: `CausalNormalizer` (running source statistics, shift-only warm-up), φ clipped;
* `pose="fixed"`: zero rotation at the target's mean translation (its saved statistics).

`nervp reenact --causal` runs this same object over a clip, so offline and live agree frame
for frame when the live pipeline drops nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from nervp.errors import ConfigError
from nervp.parse.fit import FitConfig, fit_landmarks, video_camera
from nervp.parse.normalize import CausalNormalizer, check_compatible
from nervp.parse.smoothing import OneEuro, SmoothConfig
from nervp.parse.track import FaceTracker, TrackConfig, inter_ocular
from nervp.structures.face import NormStats

PoseMode = Literal["tracked", "fixed"]


@dataclass(frozen=True)
class CausalConfig:
    """Causal parsing settings (`nervp live`, `nervp reenact --causal`)."""

    track: TrackConfig = field(default_factory=lambda: TrackConfig(smoothing=SmoothConfig(mode="causal")))
    """Tracker and smoothing (mode causal or off: offline smoothing needs the future)."""
    fit: FitConfig = field(default_factory=lambda: FitConfig(iterations=4, identity_frames=10))
    """Head-model fit; `identity_frames` here counts the first frames with a face."""
    warmup: int = 25
    """Frames before eq. 6 scales by the source's running deviations (shifted only before)."""

    def validate(self) -> None:
        self.track.validate()
        self.fit.validate()
        if self.track.smoothing.mode == "offline":
            raise ConfigError("--parse.track.smoothing.mode offline needs the whole clip: use causal or off "
                              "for a live stream")
        if self.warmup < 2:
            raise ConfigError(f"--parse.warmup must be at least 2 frames, got {self.warmup}")


@dataclass(frozen=True)
class DrivenFrame:
    """The target's parameters for one source frame.

    Attributes:
        theta: (6,) float32 pose on the target (rotation vector, rad; translation, m);
            frontal at the target's mean translation when the pose is fixed.
        phi: (E,) float32 expression on the target's statistics, clipped to the model's range.
        landmarks: (478, 2) float32 smoothed source landmarks, pixels.
    """

    theta: torch.Tensor
    phi: torch.Tensor
    landmarks: np.ndarray


class CausalParser:
    """Use as a context manager; `parser(image)` takes the next (H, W, 3) uint8 sRGB frame and
    returns a `DrivenFrame`, or None when the frame shows no face."""

    def __init__(self, stats: NormStats, width: int, height: int, fps: float,
                 cfg: CausalConfig = CausalConfig(), normalize: bool = True, pose: PoseMode = "tracked") -> None:
        from nervp.face import load_head_model

        cfg.validate()
        if pose not in ("tracked", "fixed"):
            raise ConfigError(f"--pose must be tracked or fixed, got {pose!r}")
        self.cfg, self.fps, self.pose = cfg, float(fps), pose
        self.model = load_head_model()
        check_compatible(stats, self.model)
        self.camera = video_camera(width, height, cfg.fit.fov_y_deg, cfg.fit.camera_distance_m)
        self.size = (int(width), int(height))
        self.normalizer = CausalNormalizer(stats, enabled=normalize, warmup=cfg.warmup)
        self.fixed_translation = torch.from_numpy(np.asarray(stats.theta_mean[3:], np.float64)).float()
        self.tracker = FaceTracker(cfg.track, streaming=True)
        self.smoother: OneEuro | None = None
        self.beta_sum = torch.zeros(self.model.n_id, dtype=torch.float64)
        self.beta_n = 0

    def __enter__(self) -> CausalParser:
        self.tracker.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.tracker.__exit__(*exc)

    @property
    def beta(self) -> torch.Tensor:
        """(n_id,) float32 the source's identity so far (zeros before the first face)."""
        return (self.beta_sum / max(self.beta_n, 1)).float()

    def __call__(self, image: np.ndarray) -> DrivenFrame | None:
        if tuple(image.shape[1::-1]) != self.size:
            raise ValueError(f"frames must be {self.size[0]}x{self.size[1]}, got {image.shape[1]}x{image.shape[0]}")
        lm, _method = self.tracker(image)
        if lm is None:
            if self.smoother is not None:
                self.smoother.reset()
            return None
        sm = self.cfg.track.smoothing
        if sm.mode == "causal":
            if self.smoother is None:
                self.smoother = OneEuro(self.fps, sm, max(float(inter_ocular(lm)), 1e-6))
            lm = self.smoother.step(lm).astype(np.float32)
        if self.beta_n < self.cfg.fit.identity_frames:
            _, _, b = fit_landmarks(lm[None], self.camera, self.cfg.fit, self.model, single=False)
            self.beta_sum += b[0]
            self.beta_n += 1
        th, ph, _ = fit_landmarks(lm[None], self.camera, self.cfg.fit, self.model, beta=self.beta, single=False)
        theta, phi = self.normalizer(th[0], ph[0])
        if self.pose == "fixed":
            theta = torch.cat([torch.zeros(3), self.fixed_translation])
        return DrivenFrame(theta, phi, lm)


__all__ = ["CausalConfig", "CausalParser", "DrivenFrame"]

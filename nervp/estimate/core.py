"""`estimate_light`: the lighting of a photo or video as LED weights on a dome.

Per frame: MediaPipe finds the face (`nervp.parse.track`); the learned estimator reads the
face crop (`crop`, `model`), or the baseline fits order-2 SH to the shading on the fitted head
model (`baseline`). Either gives SH radiance coefficients in the photo's linear units; a video's
are smoothed over time; they become LED weights on the dome (`sh.sh_to_weights`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from nervp.errors import ConfigError, NervpError
from nervp.estimate import crop as C
from nervp.estimate.photo import Plate
from nervp.estimate.sh import sh_to_weights
from nervp.lightstage.dome import Dome

Method = Literal["learned", "sh"]
FORMAT = "nervp-light-estimate"
VERSION = 1


@dataclass(frozen=True)
class EstimateConfig:
    """Settings of `nervp estimate-light`."""

    method: Method = "learned"
    """learned: the shipped CNN on the face crop; sh: order-2 SH least squares on the fitted head model."""
    smooth_s: float = 0.25
    """Video: standard deviation (seconds) of the Gaussian that smooths the estimate over time."""
    max_frames: int = 2000
    """Longest video read (frames)."""
    gain: float = 2.2
    """LED gain of the dome the weights are for (the virtual stage's `exposure`; a run's dataset
    gives its own)."""

    def validate(self) -> None:
        if not (math.isfinite(self.smooth_s) and self.smooth_s >= 0):
            raise ConfigError(f"--smooth-s must be a finite number >= 0, got {self.smooth_s}")
        if self.max_frames < 2:
            raise ConfigError(f"--max-frames must be at least 2, got {self.max_frames}")
        if not (math.isfinite(self.gain) and self.gain > 0):
            raise ConfigError(f"--gain must be positive, got {self.gain}")


@dataclass(frozen=True)
class LightEstimate:
    """The lighting of each frame of a photo (T = 1) or video.

    Attributes:
        sh: (T, K, 3) float64 SH radiance coefficients (`nervp.estimate.sh`), linear RGB in the
            photo's units (a photo twice as exposed gives twice the values).
        weights: (T, L, 3) float32 linear RGB LED multipliers on `dome` (calibrated by `gain`).
        dominant_direction: (T, 3) unit vectors, world frame (+x image right, +y up, +z camera):
            the irradiance-weighted mean LED direction.
        ambient: (T, 3) linear RGB mean radiance over the sphere.
        dome: the dome the weights are for. gain: its LED gain.
        method, model: how it was estimated. width, height, kind, fps, source: the input.
    """

    sh: np.ndarray
    weights: np.ndarray
    dominant_direction: np.ndarray
    ambient: np.ndarray
    dome: Dome
    gain: float
    method: str
    model: dict
    width: int
    height: int
    kind: str
    fps: float | None
    source: str

    def to_json(self) -> dict:
        """The OUT.json document (docs/ESTIMATE.md); a photo's arrays drop the frame axis."""
        one = self.kind == "photo"

        def arr(a: np.ndarray, digits: int = 6) -> list:
            return np.round(a[0] if one else a, digits).tolist()

        return {
            "format": FORMAT, "version": VERSION, "method": self.method, "model": self.model,
            "input": {"path": self.source, "kind": self.kind, "width": self.width, "height": self.height,
                      "frames": int(self.weights.shape[0]), "fps": self.fps},
            "dome": {"n_lights": self.dome.n_lights, "radius_m": self.dome.radius, "gain": self.gain},
            "led_directions": np.round(self.dome.direction, 6).tolist(),
            "weights": arr(self.weights), "dominant_direction": arr(self.dominant_direction),
            "ambient": arr(self.ambient), "sh": arr(self.sh),
        }


def summarise(weights: np.ndarray, dome: Dome, calibration: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """((T, 3) dominant directions, (T, 3) ambient RGB) of weights (T, L, 3)."""
    irr = weights * calibration[None]  # irradiance each LED delivers at the centre
    lum = irr @ np.array([0.2126, 0.7152, 0.0722])
    v = lum @ dome.direction
    n = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(n > 0, n, 1.0), irr.sum(1) / (4 * math.pi)


def track_landmarks(plate: Plate) -> np.ndarray:
    """(T, 478, 2) landmarks of every frame (held across frames without a face);
    NervpError when no frame shows one."""
    from nervp.parse.track import FaceTracker, TrackConfig, finish_track

    raw = np.full((plate.n_frames, 478, 2), np.nan, np.float32)
    method = np.zeros(plate.n_frames, np.int8)
    with FaceTracker(TrackConfig()) as tracker:
        for t in range(plate.n_frames):
            lm, m = tracker(plate.display[t])
            if lm is not None:
                raw[t] = lm
            method[t] = m
    found = np.isfinite(raw).all(axis=(1, 2))
    if not found.any():
        what = "the photo" if plate.kind == "photo" else f"any of the {plate.n_frames} frames"
        raise NervpError(f"{plate.source}: no face found in {what}; give a photo or video showing a face "
                         "(frontal to profile, at least ~40 pixels across)")
    if plate.kind == "photo":
        return raw
    track = finish_track(raw, method, plate.width, plate.height, plate.fps or 25.0, plate.source)
    lm = track.landmarks.copy()
    good = np.flatnonzero(np.isfinite(lm).all(axis=(1, 2)))
    for t in np.flatnonzero(~np.isfinite(lm).all(axis=(1, 2))):
        lm[t] = lm[good[np.abs(good - t).argmin()]]
    return lm


def face_crops(plate: Plate, landmarks: np.ndarray, frames: range | None = None) -> np.ndarray:
    """(T, V, 64, 64, 3) linear face crops: the `crop.views` of each frame (of `frames`, default all)."""
    frames = range(plate.n_frames) if frames is None else frames
    return np.stack([C.views(np.minimum(plate.linear[t], np.float32(1e6)), C.face_box(landmarks[t])) for t in frames])


def learned_sh(net, plate: Plate, landmarks: np.ndarray, chunk: int = 32) -> np.ndarray:
    """(T, K, 3) SH radiance of every frame: the mean of the network's estimates of its views
    (`crop.views`), `chunk` frames at a time (a long video's crops never all in memory)."""
    from nervp.estimate.model import predict

    out = []
    for t0 in range(0, plate.n_frames, chunk):
        crops = face_crops(plate, landmarks, range(t0, min(t0 + chunk, plate.n_frames)))
        sh = predict(net, crops.reshape(-1, *crops.shape[2:]))
        out.append(sh.reshape(*crops.shape[:2], *sh.shape[1:]).mean(1))
    return np.concatenate(out)


def smooth(sh: np.ndarray, fps: float | None, sigma_s: float) -> np.ndarray:
    """Gaussian smoothing of (T, K, 3) over time (edges mirrored)."""
    if fps is None or sigma_s <= 0 or sh.shape[0] < 2:
        return sh
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(sh, sigma_s * fps, axis=0, mode="nearest")


def estimate_light(plate: Plate, cfg: EstimateConfig = EstimateConfig(), dome: Dome | None = None,
                   weights_file: Path | None = None, landmarks: np.ndarray | None = None) -> LightEstimate:
    """Estimate the lighting of every frame of `plate` (module docstring); `landmarks`
    (T, 478, 2) from `track_landmarks` skip the tracking when given."""
    from nervp.lightstage import DomeConfig, build_dome
    from nervp.relight.weights import led_calibration

    cfg.validate()
    dome = dome or build_dome(DomeConfig())
    cal = led_calibration(dome, cfg.gain)
    landmarks = track_landmarks(plate) if landmarks is None else landmarks
    if cfg.method == "sh":
        from nervp.estimate.baseline import estimate_sh

        sh = np.stack([estimate_sh(plate.linear[t], landmarks[t], plate.clip) for t in range(plate.n_frames)])
        model = {"name": "sh-order-2", "albedo": "mean virtual-stage skin"}
    else:
        from nervp.estimate.model import WEIGHTS, load_net

        path = weights_file or WEIGHTS
        net, meta = load_net(path)
        sh = learned_sh(net, plate, landmarks)
        model = {"name": "generic" if path == WEIGHTS else Path(path).stem, "order": net.cfg.order,
                 "train": {k: meta[k] for k in ("seed", "steps", "performers", "mode", "dataset") if k in meta}}
    sh = smooth(sh, plate.fps, cfg.smooth_s)
    w = np.stack([sh_to_weights(s, dome, cal) for s in sh])
    direction, ambient = summarise(w.astype(np.float64), dome, cal)
    return LightEstimate(sh, w, direction, ambient, dome, cfg.gain, cfg.method, model, plate.width,
                         plate.height, plate.kind, plate.fps, plate.source)

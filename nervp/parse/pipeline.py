"""The two jobs of the parsing stage as the CLI runs them: `track` and `condition`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from nervp.errors import ConfigError
from nervp.parse.conditioning import (
    MapSettings,
    iter_conditioning_maps,
    map_camera,
    sample_vertex_colours,
)
from nervp.parse.fit import FitConfig, fit_track
from nervp.parse.normalize import param_stats, retarget
from nervp.parse.reports import ConditionReport, FitSummary, TrackReport, TrackSeconds
from nervp.parse.track import TrackConfig, load_frames, track_frames, track_summary
from nervp.store.conditioning import write_conditioning
from nervp.store.params import camera_json, load_params, write_params
from nervp.store.zstore import check_output
from nervp.structures.face import FaceParams

Progress = Callable[[str, int, int | None], None]  # (stage, done, total)


@dataclass(frozen=True)
class ParseConfig:
    """Everything `nervp track` decides."""

    track: TrackConfig = field(default_factory=TrackConfig)
    fit: FitConfig = field(default_factory=FitConfig)
    colour_levels: int = 1
    """Subdivision levels of the colour mesh (1: 3.4k triangles, 2: 13.6k)."""
    colour_frames: int = 32
    """Frames the per-vertex diffuse colour is averaged over."""

    def validate(self) -> None:
        self.track.validate()
        self.fit.validate()
        if not 0 <= self.colour_levels <= 3:
            raise ConfigError(f"--colour-levels must be 0..3, got {self.colour_levels}")
        if self.colour_frames < 1:
            raise ConfigError(f"--colour-frames must be at least 1, got {self.colour_frames}")


def fit_summary(params: FaceParams) -> FitSummary:
    r = params.residual.numpy()
    r = r[np.isfinite(r)]
    return FitSummary(fitted_frames=int(params.valid.sum()), median_residual_iod=float(np.median(r)),
                      p90_residual_iod=float(np.percentile(r, 90)), max_residual_iod=float(r.max()))


def track_clip(source: Path, out: Path, cfg: ParseConfig = ParseConfig(), overwrite: bool = False,
               progress: Progress | None = None) -> TrackReport:
    """Track, fit and colour-sample a video file or OLAT dataset; write a `face_params`
    dataset at `out`. Returns what it did (tracking, fitting, timings)."""
    cfg.validate()
    check_output(out, overwrite)
    step = progress or (lambda *a: None)
    t0 = time.perf_counter()
    frames = load_frames(source)
    t1 = time.perf_counter()
    track = track_frames(frames, cfg.track, on_frame=lambda t: step("track", t + 1, frames.n_frames))
    t2 = time.perf_counter()
    step("fit", 0, None)
    params = fit_track(track, frames.camera, cfg.fit)
    t3 = time.perf_counter()
    step("colour", 0, None)
    colour = sample_vertex_colours(frames.images, params, cfg.colour_levels, cfg.colour_frames)
    params = params.replace(colour=colour, colour_levels=cfg.colour_levels)
    t4 = time.perf_counter()
    stats = param_stats(params)
    report = TrackReport(track_summary(track), fit_summary(params),
                         TrackSeconds(read=t1 - t0, track=t2 - t1, fit=t3 - t2, colour=t4 - t3))
    assumed = None
    if frames.camera is None:
        assumed = {"fov_y_deg": cfg.fit.fov_y_deg, "distance_m": cfg.fit.camera_distance_m,
                   "principal_point": "image centre"}
    extra = {"source": {"path": str(source), "kind": frames.kind, "exposure": frames.exposure},
             "smoothing": track.smoothing, "fit_config": cfg.fit.to_json(), "summary": {k: v for k, v in report.to_json().items() if k != "seconds"}}  # no timings: deterministic bytes
    write_params(out, params, stats, track, extra, assumed, overwrite)
    return report


@dataclass(frozen=True)
class ConditionConfig:
    """Everything `nervp condition` decides besides its inputs and output."""

    maps: MapSettings = field(default_factory=lambda: MapSettings(chunk=8))
    """How the maps are drawn (size, pose, chunk, line width, device)."""
    normalize: bool = True
    """Normalise the source's θ and φ to the target's (eq. 6); --no-normalize for the ablation."""
    clip: bool = True
    """Clip the normalised φ to the model's range; --no-clip keeps eq. 6's output exactly."""

    def validate(self) -> None:
        """ConfigError (or the maps' error) naming the flag for settings no maps can be drawn with."""
        size = self.maps.size
        sizes = size if isinstance(size, tuple) else (() if size is None else (size,))
        if not all(isinstance(v, int) and 16 <= v <= 4096 for v in sizes):
            raise ConfigError(f"--maps.size must be in 16..4096 pixels, got {size}")
        self.maps.validate()


def condition(params_path: Path, out: Path, target_path: Path | None = None,
              cfg: ConditionConfig = ConditionConfig(), overwrite: bool = False,
              progress: Progress | None = None) -> ConditionReport:
    """Render the conditioning maps of `params_path` into a `conditioning` dataset at `out`.

    Without `target_path` the parameters are the target's own (training maps). With it, they
    are a source performer's, normalised to the target (eq. 6, unless `normalize` is False),
    φ clipped to the model's range (unless `clip` is False) and rendered with the target's
    identity, colour and camera (reenactment).
    """
    cfg.validate()
    check_output(out, overwrite)
    size = cfg.maps.size
    normalize, pose = cfg.normalize, cfg.maps.pose
    src = load_params(params_path)
    norm_json, rep = None, None
    if target_path is None:
        params = src.params
    else:
        target = load_params(target_path)
        params, rep = retarget(src.params, target.params, target.stats, enabled=normalize, clip=cfg.clip)
        norm_json = rep.to_json() if rep is not None else None
    cam = map_camera(params.camera, size)
    T = params.n_frames
    manifest = {
        "fps": params.fps, "camera": camera_json(cam), "pose": pose,
        "params": str(params_path), "target": str(target_path) if target_path else None,
        "normalized": bool(target_path is not None and normalize), "normalization": norm_json,
        "head_model": {"id_names": list(params.id_names), "expr_names": list(params.expr_names)},
        "colour_space": {"diffuse": "sRGB-encoded [0, 1]", "pncc": "canonical coordinates in [0, 1]",
                         "landmark": "{0, 1}: oval+brows+nose, lids+lips, irises"},
    }
    chunks = iter_conditioning_maps(params, replace(cfg.maps, size=None), camera=cam)  # cam is sized
    t0 = time.perf_counter()
    write_conditioning(out, chunks, T, cam.height, cam.width, manifest, overwrite,
                       on_frames=lambda n: (progress or (lambda *a: None))("maps", n, T))
    return ConditionReport(frames=T, width=cam.width, height=cam.height, seconds=time.perf_counter() - t0,
                           normalization=rep)


__all__ = ["ConditionConfig", "ParseConfig", "condition", "fit_summary", "track_clip"]

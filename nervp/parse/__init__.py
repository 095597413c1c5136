"""Portrait parsing (paper section 3.2, supplementary section 7): track a face, fit the head
model G(β̄, θ_t, φ_t), normalise a source performer to a target (eq. 6), and render the
conditioning maps F_t = {I^d, I^c, I^l} (eq. 7). See docs/PARSING.md."""

from nervp.parse.conditioning import (
    MapSettings,
    conditioning_maps,
    fixed_pose,
    iter_conditioning_maps,
    map_mesh,
    sample_vertex_colours,
)
from nervp.parse.fit import (
    FitConfig,
    fit_landmarks,
    fit_track,
    landmark_errors,
    scale_camera,
    video_camera,
)
from nervp.parse.normalize import NormReport, clip_phi, normalize, param_stats, retarget
from nervp.parse.pipeline import ParseConfig, condition, track_clip
from nervp.parse.smoothing import SmoothConfig, one_euro, smooth_track
from nervp.parse.track import (
    FaceTracker,
    Frames,
    TrackConfig,
    finish_track,
    load_frames,
    track_frames,
)

__all__ = [
    "FaceTracker",
    "FitConfig",
    "MapSettings",
    "Frames",
    "NormReport",
    "ParseConfig",
    "SmoothConfig",
    "TrackConfig",
    "clip_phi",
    "condition",
    "conditioning_maps",
    "finish_track",
    "fit_landmarks",
    "fit_track",
    "fixed_pose",
    "iter_conditioning_maps",
    "landmark_errors",
    "load_frames",
    "map_mesh",
    "normalize",
    "one_euro",
    "param_stats",
    "retarget",
    "sample_vertex_colours",
    "scale_camera",
    "smooth_track",
    "track_clip",
    "track_frames",
    "video_camera",
]

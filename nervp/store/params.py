"""Datasets of kind ``face_params``: one performer's track and fitted head-model parameters
(β̄, θ, φ, residuals), the per-vertex diffuse colour, the camera, and the statistics eq. 6
needs. Layout in docs/FORMAT.md; written by `parse`, read by `parse`, `train`, `reenact`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nervp.render.camera import Camera
from nervp.store.zstore import (
    DatasetError,
    array_list,
    atomic_dataset,
    open_dataset,
    read_chunk,
    small_array,
)
from nervp.structures.face import FaceParams, FaceTrack, NormStats

KIND = "face_params"


def camera_json(camera: Camera, assumed: dict | None = None) -> dict:
    out = {"K": camera.K[0].tolist(), "R": camera.R[0].tolist(), "t": camera.t[0].tolist(),
           "width": camera.width, "height": camera.height,
           "convention": "x_cam = R x_world + t; OpenCV axes; pixels, top-left origin"}
    if assumed:
        out["assumed"] = assumed
    return out


def camera_from_json(d: dict) -> Camera:
    f32 = torch.float32
    return Camera(torch.tensor([d["R"]], dtype=f32), torch.tensor([d["t"]], dtype=f32),
                  torch.tensor([d["K"]], dtype=f32), int(d["width"]), int(d["height"]))


@dataclass(frozen=True)
class ParamsFile:
    """A loaded `face_params` dataset: parameters, the track they were fitted to (if stored),
    the statistics of eq. 6, and the manifest."""

    path: Path
    params: FaceParams
    track: FaceTrack | None
    stats: NormStats
    manifest: dict[str, Any] = field(repr=False)


def write_params(path: Path, params: FaceParams, stats: NormStats, track: FaceTrack | None = None,
                 extra: dict | None = None, camera_assumed: dict | None = None,
                 overwrite: bool = False) -> None:
    """Write parameters (+ track) as a `face_params` dataset at `path`, atomically. `extra`:
    more manifest entries (source, summaries); `camera_assumed`: how a video's camera was
    assumed (None when it came with the data)."""
    T = params.n_frames
    man: dict[str, Any] = {
        "kind": KIND, "n_frames": T, "height": params.camera.height, "width": params.camera.width,
        "fps": params.fps, "camera": camera_json(params.camera, camera_assumed),
        "head_model": {"id_names": list(params.id_names), "expr_names": list(params.expr_names),
                       "theta": "axis-angle rx, ry, rz (rad) then tx, ty, tz (m), world space of the camera"},
        "stats": stats.to_json(),
        "colour": None if params.colour is None else {
            "levels": params.colour_levels, "vertices": int(params.colour.shape[0]),
            "colour_space": "sRGB-encoded, [0, 1]"},
        "units": {"residual": "inter-ocular distances (2-D, tracked iris centres)", "landmarks": "pixels"},
        **(extra or {}),
    }
    with atomic_dataset(path, man, overwrite) as g:
        small_array(g, "beta", params.beta.float().numpy(), "identity β̄ (average of per-frame β_t), (n_id,)")
        small_array(g, "theta", params.theta.float().numpy(), "head pose: axis-angle (rad), translation (m), (T, 6)")
        small_array(g, "phi", params.phi.float().numpy(), "expression coefficients, (T, E)")
        small_array(g, "residual", params.residual.float().numpy(), "median landmark fit error (IOD), NaN unfitted, (T,)")
        small_array(g, "valid", params.valid.numpy().astype(bool), "frame fitted to landmarks, (T,)")
        small_array(g, "time", np.arange(T, dtype=np.float64) / params.fps, "frame instant (s), (T,)")
        if params.beta_frames is not None:
            small_array(g, "beta_frames", params.beta_frames.float().numpy(), "per-frame β_t, NaN where unused, (T, n_id)")
        if params.colour is not None:
            small_array(g, "colour", params.colour.float().numpy(), "per-vertex diffuse colour, sRGB [0, 1], (V', 3)")
        if track is not None:
            small_array(g, "landmarks", track.landmarks, "smoothed, gap-filled landmarks (px), NaN invalid, (T, 478, 2)")
            small_array(g, "landmarks_raw", track.raw, "tracker landmarks as returned (px), NaN lost, (T, 478, 2)")
            small_array(g, "found", track.found, "face found by the tracker, (T,)")
            small_array(g, "method", track.method, "0 lost, 1 tracked, 2 redetected, 3 full frame, 4 interpolated, (T,)")
        man["arrays"] = array_list(g)


def load_params(path: Path | str) -> ParamsFile:
    """Open and validate a `face_params` dataset; raises DatasetError naming any problem."""
    path = Path(path)
    man, g = open_dataset(path, KIND, "track the clip again")
    arrays = man["arrays"]
    try:
        T = int(man["n_frames"])
        ids, exprs = tuple(man["head_model"]["id_names"]), tuple(man["head_model"]["expr_names"])
        camera = camera_from_json(man["camera"])
        stats = NormStats.from_json(man["stats"])
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise DatasetError(f"{path}: manifest lacks or garbles {e}: track the clip again") from e

    def rd(name: str) -> np.ndarray:
        if name not in arrays:
            raise DatasetError(f"{path}: array {name!r} is missing: track the clip again")
        return read_chunk(g[name], slice(None), path, name)

    def opt(name: str) -> np.ndarray | None:
        return rd(name) if name in arrays else None

    try:
        colour, bf = opt("colour"), opt("beta_frames")
        params = FaceParams(
            beta=torch.from_numpy(rd("beta")), theta=torch.from_numpy(rd("theta")),
            phi=torch.from_numpy(rd("phi")), residual=torch.from_numpy(rd("residual")),
            valid=torch.from_numpy(rd("valid").astype(bool)), camera=camera, fps=float(man["fps"]),
            id_names=ids, expr_names=exprs,
            colour=None if colour is None else torch.from_numpy(colour),
            colour_levels=int((man.get("colour") or {}).get("levels", 1)),
            beta_frames=None if bf is None else torch.from_numpy(bf))
    except ValueError as e:
        raise DatasetError(f"{path}: inconsistent arrays ({e}): track the clip again") from e
    if params.n_frames != T:
        raise DatasetError(f"{path}: theta has {params.n_frames} frames, manifest says {T}")
    track = None
    if "landmarks" in arrays:
        track = FaceTrack(rd("landmarks"), rd("landmarks_raw"), rd("found").astype(bool),
                          rd("valid").astype(bool), rd("method"), int(man["width"]), int(man["height"]),
                          float(man["fps"]), str(man.get("source", {}).get("path", "")),
                          man.get("smoothing", {}))
    return ParamsFile(path, params, track, stats, man)

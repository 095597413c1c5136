"""On-disk formats of the parsing stage: face parameters and conditioning maps.

Both are nervp datasets (zarr v3 group + `manifest.json` written last, atomically; see
docs/FORMAT.md and docs/PARSING.md) of two new kinds:

* ``face_params``: one performer's track and fitted head-model parameters (β̄, θ, φ,
  residuals), the per-vertex diffuse colour, the camera, and the statistics eq. 6 needs.
* ``conditioning``: the maps F_t = {I^d, I^c, I^l} (+ mask) rendered from parameters, one
  chunk per frame, with the parameters actually rendered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import zarr

from nervp.parse.types import ConditioningMaps, FaceParams, FaceTrack, NormStats
from nervp.render.camera import Camera
from nervp.store.zstore import (
    DatasetError,
    StoredFrames,
    atomic_dataset,
    check_arrays,
    frame_array,
    open_group,
    read_chunk,
    read_manifest,
    small_array,
)

PARAMS_KIND = "face_params"
MAPS_KIND = "conditioning"


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


def _arrays(group: zarr.Group) -> dict:
    return {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in group.arrays()}


# --------------------------------------------------------------------------- face_params


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
        "kind": PARAMS_KIND, "n_frames": T, "height": params.camera.height, "width": params.camera.width,
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
        man["arrays"] = _arrays(g)


def load_params(path: Path | str) -> ParamsFile:
    """Open and validate a `face_params` dataset; raises DatasetError naming any problem."""
    path = Path(path)
    man = read_manifest(path, PARAMS_KIND)
    g = open_group(path)
    arrays = man.get("arrays", {})
    check_arrays(g, path, {k: tuple(v["shape"]) for k, v in arrays.items()})
    try:
        T = int(man["n_frames"])
        ids, exprs = tuple(man["head_model"]["id_names"]), tuple(man["head_model"]["expr_names"])
        camera = camera_from_json(man["camera"])
        stats = NormStats.from_json(man["stats"])
    except (KeyError, TypeError, ValueError) as e:
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


# --------------------------------------------------------------------------- conditioning

_MAP_ARRAYS = {
    "diffuse": ("float16", 3, "I^d diffuse colour, sRGB-encoded [0, 1], (T, H, W, 3)"),
    "pncc": ("float16", 3, "I^c normalised canonical coordinates in [0, 1], (T, H, W, 3)"),
    "landmark": ("uint8", 3, "I^l lines/irises in {0, 1}: oval+brows+nose, lids+lips, irises, (T, H, W, 3)"),
    "mask": ("uint8", 0, "head-model surface coverage in {0, 1}, (T, H, W)"),
}


def write_conditioning(path: Path, chunks: Iterator[tuple[int, ConditioningMaps]], n_frames: int,
                       height: int, width: int, manifest: dict, overwrite: bool = False,
                       on_frames: Callable[[int], None] | None = None) -> None:
    """Write maps streamed as (first frame, maps of a chunk of frames) into a `conditioning`
    dataset, one zarr chunk per frame, atomically."""
    man = {"kind": MAPS_KIND, "n_frames": n_frames, "height": height, "width": width, **manifest}
    with atomic_dataset(path, man, overwrite) as g:
        arrs = {}
        for name, (dtype, c, desc) in _MAP_ARRAYS.items():
            shape = (n_frames, height, width) + ((c,) if c else ())
            arrs[name] = frame_array(g, name, shape, dtype, desc)
        thetas, phis, box, done = [], [], None, 0
        for start, m in chunks:
            sl = slice(start, start + m.n_frames)
            arrs["diffuse"][sl] = m.diffuse.numpy().astype(np.float16)
            arrs["pncc"][sl] = m.pncc.numpy().astype(np.float16)
            arrs["landmark"][sl] = m.landmark.numpy().astype(np.uint8)
            arrs["mask"][sl] = m.mask.numpy().astype(np.uint8)
            thetas.append(m.theta.numpy())
            phis.append(m.phi.numpy())
            box = m.pncc_box
            done += m.n_frames
            if on_frames is not None:
                on_frames(done)
        if done != n_frames:
            raise ValueError(f"wrote {done} frames of maps, declared {n_frames}")
        small_array(g, "theta", np.concatenate(thetas).astype(np.float32), "rendered head pose, (T, 6)")
        small_array(g, "phi", np.concatenate(phis).astype(np.float32), "rendered expression, (T, E)")
        man["pncc_box"] = box.tolist()
        man["arrays"] = _arrays(g)


@dataclass(frozen=True)
class ConditioningDataset(StoredFrames):
    """A validated, lazily read `conditioning` dataset. Open with `load_conditioning`."""

    def maps(self, frames: slice = slice(None)) -> ConditioningMaps:
        """The maps of `frames` as float32 tensors (landmark and mask as stored values)."""
        def rd(name: str) -> np.ndarray:
            return read_chunk(self.group[name], frames, self.path, name)

        return ConditioningMaps(
            diffuse=torch.from_numpy(rd("diffuse").astype(np.float32)),
            pncc=torch.from_numpy(rd("pncc").astype(np.float32)),
            landmark=torch.from_numpy(rd("landmark").astype(np.float32)),
            mask=torch.from_numpy(rd("mask").astype(bool)),
            theta=torch.from_numpy(rd("theta")), phi=torch.from_numpy(rd("phi")),
            pncc_box=torch.tensor(self.manifest["pncc_box"], dtype=torch.float32))


def load_conditioning(path: Path | str) -> ConditioningDataset:
    """Open and validate a `conditioning` dataset; raises DatasetError naming any problem."""
    path = Path(path)
    man = read_manifest(path, MAPS_KIND)
    g = open_group(path)
    arrays = man.get("arrays")
    if not isinstance(arrays, dict) or any(k not in arrays for k in (*_MAP_ARRAYS, "theta", "phi")):
        raise DatasetError(f"{path}: manifest lists no complete set of maps: render them again")
    check_arrays(g, path, {k: tuple(v["shape"]) for k, v in arrays.items()})
    T, H, W = int(man["n_frames"]), int(man["height"]), int(man["width"])
    if tuple(arrays["diffuse"]["shape"]) != (T, H, W, 3):
        raise DatasetError(f"{path}: diffuse shape {arrays['diffuse']['shape']} disagrees with "
                           f"n_frames={T}, {W}x{H}")
    return ConditioningDataset(path, man, g)

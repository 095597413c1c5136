"""The target's side of training: its head-model parameters, colours and conditioning maps,
and the same for a source performer at reenactment time (normalised to the target, eq. 6)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nervp.errors import NervpError
from nervp.fileio import write_json_atomic, write_tensors_atomic
from nervp.parse.conditioning import MapSettings, conditioning_maps, sample_vertex_colours
from nervp.parse.fit import fit_track
from nervp.parse.normalize import param_stats
from nervp.parse.track import Frames, load_frames, track_frames
from nervp.render.camera import Camera
from nervp.store.olat import OLATDataset
from nervp.store.params import KIND as PARAMS_KIND
from nervp.store.params import load_params
from nervp.store.zstore import DatasetError, one_line, read_json, read_manifest
from nervp.structures.face import FaceParams, NormStats
from nervp.train.checkpoint import read_tensors

PARAMS = "target_params"


@dataclass(frozen=True)
class TargetConditioning:
    """cond: (T, C, H, W) maps of every target frame; beta_bar: (n_id,); beta_frames: (T, n_id)
    per-frame identity estimates (β̄ where a frame has none); params: the fitted parameters;
    meta: JSON-able summary (parameter source, fitting residual, normalisation statistics)."""

    cond: Tensor
    beta_bar: Tensor
    beta_frames: Tensor
    params: FaceParams
    meta: dict


def is_tracked(path: Path) -> bool:
    """Whether `path` is a face-parameters dataset (what `nervp track` writes)."""
    try:
        return read_manifest(Path(path)).get("kind") == PARAMS_KIND
    except DatasetError:
        return False


def tracked_params(path: Path, frames: Frames | None = None) -> FaceParams:
    """The parameters `nervp track` wrote to `path`, checked against the clip they stand for
    (same frame count and image size) when `frames` is given."""
    pf = load_params(path)
    p = pf.params
    if frames is not None:
        H, W = frames.images.shape[1:3]
        if p.n_frames != frames.n_frames or (p.camera.height, p.camera.width) != (H, W):
            raise NervpError(f"{path} holds {p.n_frames} frames at {p.camera.width}x{p.camera.height} but the "
                             f"capture has {frames.n_frames} at {W}x{H}: track this capture with `nervp track`")
    if p.colour is None:
        raise NervpError(f"{path} has no diffuse colour: track the clip again with `nervp track`")
    return p


def performer_params(path: Path, mode: str) -> FaceParams:
    """Parameters of the performer in a video, OLAT dataset or face-parameters dataset, with
    per-vertex colours.

    A face-parameters dataset (`nervp track`'s output) is used as it is. Otherwise `mode`
    "fit": MediaPipe tracking and head-model fitting (any footage); "truth": the virtual light
    stage's own parameters (simulated datasets only); any other value: the path of a
    face-parameters dataset tracked from `path` (checked to match it)."""
    from nervp.face import load_head_model
    from nervp.store.olat import load_olat

    if is_tracked(path):
        return tracked_params(path)
    frames = load_frames(path)
    model = load_head_model()
    if mode == "truth":
        if frames.kind != "olat":
            raise NervpError(f"{path}: --params truth needs a simulated OLAT dataset; use --params fit for video")
        ds = load_olat(path)
        if not (ds.has("theta") and ds.has("phi") and ds.has("beta")):
            raise NervpError(f"{path} carries no ground-truth parameters (not simulated): use --params fit")
        T = ds.n_frames
        beta = torch.from_numpy(ds.read("beta").astype(np.float32))
        params = FaceParams(beta=beta, theta=torch.from_numpy(ds.read("theta").astype(np.float32)),
                            phi=torch.from_numpy(ds.read("phi").astype(np.float32)), residual=torch.zeros(T),
                            valid=torch.ones(T, dtype=torch.bool), camera=frames.camera, fps=frames.fps,
                            id_names=model.id_names, expr_names=model.expr_names, beta_frames=beta.expand(T, -1).clone())
    elif mode == "fit":
        params = fit_track(track_frames(frames), frames.camera)
    elif is_tracked(Path(mode)):
        return tracked_params(Path(mode), frames)
    else:
        raise NervpError(f"--params {mode!r} is neither 'fit', 'truth' nor a face-parameters dataset "
                         "(write one with `nervp track`)")
    colour = sample_vertex_colours(frames.images, params, levels=1)
    return params.replace(colour=colour, colour_levels=1)


def target_conditioning(ds: OLATDataset, cfg, run_dir: Path) -> TargetConditioning:
    """Parameters, colours and conditioning maps of the target's own frames; also saved to
    `run_dir` (target_params.*) for reenactment."""
    params = performer_params(ds.path, cfg.params)
    maps = conditioning_maps(params, MapSettings(size=(ds.height, ds.width)))
    bf = params.beta_frames if params.beta_frames is not None else params.beta.expand(params.n_frames, -1)
    bf = torch.where(torch.isnan(bf), params.beta.expand_as(bf), bf)
    stats = param_stats(params)
    save_target(run_dir, params, stats)
    res = params.residual[params.valid]
    meta = {"params": cfg.params, "median_fit_residual_iod": float(res.median()) if res.numel() else None,
            "norm_stats": stats.to_json()}
    return TargetConditioning(maps.stacked().float(), params.beta.float(), bf.float(), params, meta)


def save_target(run_dir: Path, params: FaceParams, stats: NormStats) -> None:
    cam = params.camera
    tensors = {"beta": params.beta.float().contiguous(), "theta": params.theta.float().contiguous(),
               "phi": params.phi.float().contiguous(), "R": cam.R.contiguous(), "t": cam.t.contiguous(),
               "K": cam.K.contiguous()}
    if params.colour is not None:
        tensors["colour"] = params.colour.float().contiguous()
    write_tensors_atomic(run_dir / f"{PARAMS}.safetensors", tensors)
    meta = {"width": cam.width, "height": cam.height, "fps": params.fps, "id_names": list(params.id_names),
            "expr_names": list(params.expr_names), "colour_levels": params.colour_levels, "stats": stats.to_json()}
    write_json_atomic(run_dir / f"{PARAMS}.json", meta)


def load_target(run_dir: Path) -> tuple[FaceParams, NormStats]:
    """The target's parameters (β̄, colours, camera) and statistics saved with a run."""
    fix = "its run directory is damaged: train a new run (or copy the file back)"
    js = Path(run_dir) / f"{PARAMS}.json"
    t = read_tensors(Path(run_dir) / f"{PARAMS}.safetensors", NervpError, fix, ("beta", "theta", "phi", "R", "t", "K"))
    meta = read_json(js, NervpError, fix)
    try:
        cam = Camera(t["R"], t["t"], t["K"], int(meta["width"]), int(meta["height"]))
        T = t["theta"].shape[0]
        params = FaceParams(beta=t["beta"], theta=t["theta"], phi=t["phi"], residual=torch.zeros(T),
                            valid=torch.ones(T, dtype=torch.bool), camera=cam, fps=float(meta["fps"]),
                            id_names=tuple(meta["id_names"]), expr_names=tuple(meta["expr_names"]),
                            colour=t.get("colour"), colour_levels=int(meta["colour_levels"]))
        return params, NormStats.from_json(meta["stats"])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError, OverflowError) as e:
        raise NervpError(f"{js} lacks or garbles {one_line(e)} ({e.__class__.__name__}): {fix}") from e

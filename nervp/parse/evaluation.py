"""Quality numbers of the parsing stage (docs/PARSING.md states them; the benchmark script
`benchmarks/bench_parse.py --quality` reproduces them).

* `real_clip_report`: on a real video -- tracked fraction, landmark fitting residual, jitter
  of the nose bridge on still frames with and without smoothing, and the smoothing lag.
* `synthetic_report`: on a virtual-light-stage OLAT dataset with ground truth -- recovered θ
  against the truth, φ correlation per named dimension and landmark reprojection error, both
  for the whole pipeline (MediaPipe on the rendered frames) and for the fitter alone (fed the
  true projected landmarks).
* `synthetic_track`: a FaceTrack of the model's own landmarks with known parameters (the
  Fig. 10 blink experiment built on it is `nervp.evaluate.blink.synthetic_blink_test`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from nervp.face import G, HeadModel, load_head_model
from nervp.parse.fit import FitConfig, fit_track, landmark_errors
from nervp.parse.metrics import correlation, jitter, lag_frames, rotation_error_deg, still_frames
from nervp.parse.smoothing import SmoothConfig, smooth_track
from nervp.parse.track import TrackConfig, finish_track, inter_ocular, load_frames, track_frames
from nervp.render.camera import Camera, project
from nervp.structures.face import FaceTrack


def _with_smoothing(track_cfg: TrackConfig, mode: str) -> TrackConfig:
    return dataclasses.replace(track_cfg, smoothing=dataclasses.replace(track_cfg.smoothing, mode=mode))


def smoothing_report(raw: np.ndarray, fps: float, cfg: SmoothConfig) -> dict:
    """Jitter (still frames) and lag of `cfg` against no smoothing, on a track (T, 478, 2)."""
    scale = float(np.median(inter_ocular(raw)))
    still = still_frames(raw, scale, fps)
    j_raw = jitter(raw, still, scale) if still.any() else float("nan")
    out = {"still_frames": int(still.sum()), "jitter_raw_iod": j_raw}
    for mode in ("offline", "causal"):
        sm = smooth_track(raw, fps, dataclasses.replace(cfg, mode=mode), scale)
        j = jitter(sm, still, scale) if still.any() else float("nan")
        out[mode] = {"jitter_iod": j, "jitter_reduction": j_raw / j if j > 0 else float("nan"),
                     "lag_frames": lag_frames(sm, raw)}
    return out


def real_clip_report(video: Path, track_cfg: TrackConfig = TrackConfig(), fit_cfg: FitConfig = FitConfig(),
                     max_frames: int | None = None) -> dict:
    """Tracking, fitting and smoothing numbers on a real clip (module docstring)."""
    frames = load_frames(video)
    if max_frames is not None:
        frames = dataclasses.replace(frames, images=frames.images[:max_frames])
    raw_track = track_frames(frames, _with_smoothing(track_cfg, "off"))
    track = finish_track(raw_track.raw, raw_track.method, frames.width, frames.height, frames.fps,
                         str(video), track_cfg)
    params = fit_track(track, frames.camera, fit_cfg)
    model = load_head_model()
    v = np.flatnonzero(track.valid)
    errs = landmark_errors(model, params.camera, params.beta, params.theta[v], params.phi[v],
                           torch.as_tensor(track.landmarks[v])).numpy()
    found = raw_track.found
    raw = raw_track.raw[found]  # the still/jitter analysis needs a gap-free run
    return {
        "clip": Path(video).name, "frames": frames.n_frames, "size": [frames.width, frames.height],
        "fps": frames.fps, "tracked_fraction": float(found.mean()),
        "residual_median_iod": float(np.median(errs)),
        "residual_median_of_frame_medians_iod": float(np.nanmedian(params.residual.numpy())),
        "residual_p90_iod": float(np.percentile(errs, 90)),
        "smoothing": {**smoothing_report(raw, frames.fps, track_cfg.smoothing),
                      "config": track_cfg.smoothing.to_json()},
    }


def _pose_numbers(theta: torch.Tensor, truth: torch.Tensor) -> dict:
    rot = rotation_error_deg(theta, truth)
    # relative pose: both sequences about their own mean (what eq. 6 sees)
    rel = rotation_error_deg(theta - theta.mean(0) * torch.tensor([1, 1, 1, 0, 0, 0.0]),
                             truth - truth.mean(0) * torch.tensor([1, 1, 1, 0, 0, 0.0]))
    tr = (theta[:, 3:] - truth[:, 3:]).norm(dim=-1) * 1000
    tr_rel = ((theta[:, 3:] - theta[:, 3:].mean(0)) - (truth[:, 3:] - truth[:, 3:].mean(0))).norm(dim=-1) * 1000
    corr = correlation(theta.numpy(), truth.numpy())
    return {"rotation_error_deg_median": float(rot.median()), "rotation_error_deg_p90": float(rot.quantile(0.9)),
            "rotation_bias_deg": np.degrees((theta[:, :3] - truth[:, :3]).mean(0).numpy()).round(2).tolist(),
            "rotation_error_about_mean_deg_median": float(rel.median()),
            "translation_error_mm_median": float(tr.median()),
            "translation_error_about_mean_mm_median": float(tr_rel.median()),
            "theta_correlation": [round(float(c), 3) for c in corr]}


def synthetic_report(dataset: Path, track_cfg: TrackConfig = TrackConfig(), fit_cfg: FitConfig = FitConfig()) -> dict:
    """Recovered parameters against a simulated dataset's truth (module docstring)."""
    from nervp.store.olat import load_olat

    ds = load_olat(dataset)
    for name in ("theta", "phi", "beta", "landmarks"):
        if not ds.has(name):
            raise ValueError(f"{dataset} has no ground-truth {name!r} (not simulated)")
    frames = load_frames(dataset)
    truth_th = torch.from_numpy(ds.read("theta"))
    truth_ph = ds.read("phi")
    truth_lm = ds.read("landmarks")
    model = load_head_model()
    names = ds.manifest["head_model"]["expr_names"]
    iod = inter_ocular(truth_lm)
    out: dict = {"dataset": str(dataset), "frames": ds.n_frames, "size": ds.width}
    mp_track = track_frames(frames, track_cfg)
    mp_err = np.linalg.norm(mp_track.raw - truth_lm, axis=-1) / iod[:, None]
    out["mediapipe_vs_truth_iod_median"] = float(np.nanmedian(mp_err))
    clean = finish_track(truth_lm.astype(np.float32), np.ones(ds.n_frames, np.int8), ds.width, ds.height,
                         frames.fps, "truth", _with_smoothing(track_cfg, "off"))
    for label, track in (("pipeline_mediapipe", mp_track), ("fitter_true_landmarks", clean)):
        p = fit_track(track, frames.camera, fit_cfg, model)
        ok = torch.as_tensor(track.valid)
        e_truth = landmark_errors(model, frames.camera, p.beta, p.theta[ok], p.phi[ok],
                                  torch.from_numpy(truth_lm[ok.numpy()]))
        corr = correlation(p.phi.numpy()[ok.numpy()], truth_ph[ok.numpy()])
        out[label] = {
            **_pose_numbers(p.theta[ok], truth_th[ok]),
            "phi_correlation": {n: (None if not np.isfinite(c) else round(float(c), 3)) for n, c in zip(names, corr, strict=True)},
            "phi_correlation_mean": float(np.nanmean(corr)),
            "reprojection_error_vs_truth_iod_median": float(e_truth.median()),
            "fit_residual_vs_input_iod_median": float(np.nanmedian(p.residual.numpy())),
            "beta_error_rms": float(np.sqrt(((p.beta.numpy() - ds.read("beta")) ** 2).mean())),
        }
    return out


# --------------------------------------------------------------------------- synthetic landmarks


def synthetic_track(model: HeadModel, camera: Camera, beta: torch.Tensor, theta: torch.Tensor,
                    phi: torch.Tensor, fps: float, noise_px: float = 0.3, seed: int = 0) -> FaceTrack:
    """A FaceTrack of the model's own landmarks G(β, θ_t, φ_t) seen by `camera`, plus Gaussian
    pixel noise, unsmoothed (for tests and experiments with known parameters)."""
    T = theta.shape[0]
    cam = Camera(camera.R.expand(T, 3, 3), camera.t.expand(T, 3), camera.K.expand(T, 3, 3),
                 camera.width, camera.height)
    lm = project(G(model, beta[None].expand(T, -1).float(), theta.float(), phi.float()), cam)[..., :2].numpy()
    lm = lm + np.random.default_rng(seed).normal(0.0, noise_px, lm.shape)
    return finish_track(lm.astype(np.float32), np.ones(T, np.int8), camera.width, camera.height, fps,
                        "synthetic", TrackConfig(SmoothConfig(mode="off")))

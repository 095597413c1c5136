"""Reenactment: drive a trained target with a source performer's head pose and expression.

source video or dataset -> track and fit -> normalise to the target (eq. 6) -> conditioning
maps on the target's identity, colours and camera -> translator over 11-frame windows ->
a reflectance-field dataset (kind "olat": the target's OLAT images, normal, albedo, alpha) that
`nervp relight` renders under any lighting.

High frame rate (docs/HFR.md): with `fps` the source's parameters are first resampled to that
rate (`nervp.parse.resample`: rotations on the quaternion sphere, translation and expression on a
Catmull-Rom spline) and the translator runs once per output frame, its 11-frame windows taken on
the resampled timeline.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from nervp.errors import NervpError
from nervp.parse.conditioning import MapSettings, conditioning_maps
from nervp.parse.normalize import retarget
from nervp.parse.resample import (
    RotationMode,
    check_rate_flags,
    check_times,
    output_fps,
    resample_params,
    timeline,
    window_stride,
)
from nervp.store.olat import OLATFrame, write_olat_resumable
from nervp.store.space import OLAT_RATIO, check_free_space, olat_frame_bytes
from nervp.structures.face import FaceParams, NormStats
from nervp.train.data import network_input
from nervp.train.run import FinishedRun, load_run
from nervp.train.targets import load_target, performer_params


def driven_params(target: FaceParams, stats: NormStats, source: FaceParams,
                  normalize: bool = True) -> tuple[FaceParams, dict]:
    """The source's θ and φ -- normalised to the target's statistics (eq. 6) unless `normalize`
    is False, then clipped to the model's range -- on the target's identity β̄, colours and
    camera: what `source_conditioning` renders (the same `retarget` as `nervp parse condition`).
    Returns them and a JSON-able report."""
    driven, rep = retarget(source, target, stats, enabled=normalize)
    report: dict = {"normalized": normalize}
    if rep is not None:
        report["guarded_dimensions"] = list(rep.guarded)
        report["clipped_fraction"] = rep.clipped
    return driven, report


def source_conditioning(run: FinishedRun, source: FaceParams, normalize: bool = True,
                        pose: Literal["tracked", "fixed"] = "tracked",
                        resample: Callable[[FaceParams], FaceParams] | None = None,
                        ) -> tuple[torch.Tensor, FaceParams, dict]:
    """(T, C, H, W) conditioning maps of `source` retargeted to the run's target (then, given
    `resample`, resampled in time: the normalisation's statistics are the source's own frames')."""
    target, stats = load_target(run.path)
    driven, report = driven_params(target, stats, source, normalize)
    if resample is not None:
        driven = resample(driven)
    maps = conditioning_maps(driven, MapSettings(size=(run.info.height, run.info.width), pose=pose))
    return maps.stacked().float(), driven.replace(theta=maps.theta, phi=maps.phi), report


@torch.no_grad()
def predict_frames(run: FinishedRun, cond: torch.Tensor, batch: int = 4,
                   frames: list[int] | None = None, stride: int = 1) -> Iterator[tuple[int, OLATFrame]]:
    """Run the translator over each frame's window (every frame of `cond`, or only `frames`;
    window entries `stride` frames apart); yield (t, the predicted `OLATFrame`: linear OLAT
    images, their sum as the full-lit image, alpha, normal, albedo premultiplied by alpha; no
    parameters or time)."""
    model = run.translator
    dev = next(model.parameters()).device
    n_in = run.cfg.model.in_frames
    todo = torch.arange(cond.shape[0]) if frames is None else torch.as_tensor(frames, dtype=torch.long)
    for chunk in todo.split(batch):
        x = network_input(cond, chunk, n_in, run.cfg.multi_frame, stride)
        pred = model(x.to(dev))
        olat = (pred.olat.float() * run.olat_scale).permute(0, 1, 3, 4, 2).cpu().numpy()  # (B, L, H, W, 3)
        alpha = pred.alpha[:, 0].float().cpu().numpy()
        normal = (pred.normal.float().permute(0, 2, 3, 1).cpu().numpy()) * (alpha[..., None] > 0.5)
        albedo = pred.albedo.float().permute(0, 2, 3, 1).cpu().numpy()  # premultiplied by alpha
        for k, t in enumerate(chunk.tolist()):
            yield t, OLATFrame(olat=olat[k], full_lit=olat[k].sum(0), alpha=alpha[k], normal=normal[k],
                               albedo=albedo[k])


def _digest(run: FinishedRun, cond: torch.Tensor) -> str:
    """SHA-256 of the translator's weights and the conditioning maps: what decides the frames."""
    h = hashlib.sha256(cond.numpy().tobytes())
    for k, v in sorted(run.translator.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


@dataclasses.dataclass(frozen=True)
class RateSettings:
    """The output's frame rate (docs/HFR.md). All None: the source's own frames."""

    fps: float | None = None
    """Output frames per second, at least the source's rate: the source's parameters are resampled."""
    slowmo: float | None = None
    """Shorthand for --fps N × the source's rate."""
    rotation: RotationMode = "spline"
    """Head rotation between source frames: 'spline' (spherical Catmull-Rom of quaternions, smooth
    angular velocity) or 'slerp' (geodesic between the two neighbouring frames)."""
    window: Literal["trained", "output"] = "trained"
    """The 11-frame window on the resampled timeline: 'trained' spaces its entries by the run's
    training frame interval (the same span in seconds the network was trained on), 'output' takes
    the 11 newest output frames."""


def source_times(path: Path, n_frames: int, fps: float) -> np.ndarray:
    """Instants (s) of a source's frames: an OLAT dataset's `time` array, else (video decoded at a
    constant rate, face parameters stored one per frame interval) k / fps."""
    from nervp.store.zstore import DatasetError, read_manifest

    try:
        man = read_manifest(Path(path))
    except (DatasetError, OSError):
        man = {}
    if man.get("kind") == "olat" and "time" in man.get("arrays", {}):
        from nervp.store.olat import load_olat

        t = load_olat(path).read("time").astype(np.float64)
        if t.shape == (n_frames,):
            return t
    return np.arange(n_frames, dtype=np.float64) / fps


@dataclasses.dataclass(frozen=True)
class Driving:
    """What drives the translator: cond (T, C, H, W) conditioning maps of the output frames,
    driven (their parameters on the target), times (T,) s their instants, stride (the window's
    spacing in frames), report (JSON-able: normalisation, and `resampled` when resampled)."""

    cond: torch.Tensor
    driven: FaceParams
    times: np.ndarray
    stride: int
    report: dict


def drive(run: FinishedRun, source: Path, src: FaceParams, normalize: bool = True,
          pose: Literal["tracked", "fixed"] = "tracked", rate: RateSettings = RateSettings()) -> Driving:
    """The output frames of `src` (the parameters of the performer at `source`) on the run's
    target: at the source's frames, or resampled to `rate`'s frame rate (timestamps checked)."""
    if src.n_frames < 1:
        raise NervpError(f"{source} has no frames")
    fps = output_fps(src.fps, rate.fps, rate.slowmo)
    times = source_times(Path(source), src.n_frames, src.fps)
    stride, hfr, resample = 1, None, None
    if fps is not None:
        check_times(times, src.fps, str(source))
        tl = timeline(src.n_frames, src.fps, fps, float(times[0]) if times.size else 0.0)
        times = tl.times
        stride = window_stride(fps, run.info.fps, rate.window)
        hfr = {"fps": fps, "source_fps": tl.source_fps, "rotation": rate.rotation, "window": rate.window,
               "window_stride": stride}

        def resample(p: FaceParams) -> FaceParams:
            return resample_params(p, tl, rate.rotation)
    else:
        times = np.arange(src.n_frames) / max(src.fps, 1e-6)
    cond, driven, report = source_conditioning(run, src, normalize, pose, resample)
    return Driving(cond, driven, times, stride, {**report, **({"resampled": hfr} if hfr else {})})


def reenact(run_dir: Path, source: Path, out: Path, params: Literal["fit", "truth"] = "fit",
            normalize: bool = True, pose: Literal["tracked", "fixed"] = "tracked", overwrite: bool = False,
            device: str = "auto", on_frame: Callable[[int, int], None] | None = None,
            rate: RateSettings = RateSettings()) -> Path:
    """Write the target's reflectance field driven by `source` to the dataset `out` (at
    `rate.fps` frames per second when given: the source's parameters resampled first; the
    translator runs once per output frame).

    Resumable (`write_olat_resumable`): after a crash, kill or SIGINT/SIGTERM the same call
    goes on from the frames already written (recomputing at most the rest of a batch of 4)."""
    from nervp.store.zstore import check_output

    check_output(Path(out), overwrite)
    run = load_run(run_dir, device)
    check_rate_flags(rate.fps, rate.slowmo)  # refused before any tracking
    d = drive(run, Path(source), performer_params(Path(source), params), normalize, pose, rate)
    cond, driven, stride = d.cond, d.driven, d.stride
    T = cond.shape[0]
    dome = run.info.dome_model()
    check_free_space(out, T * olat_frame_bytes(dome.n_lights, run.info.height, run.info.width) * OLAT_RATIO,
                     "the reenacted dataset")

    batch = 4

    def render(todo: list[int]) -> Iterator[tuple[int, OLATFrame]]:
        # whole batches of the uninterrupted run's partition, so every frame sees the same batch
        starts = sorted({t - t % batch for t in todo})
        redo = [t for s in starts for t in range(s, min(s + batch, T))]
        for t, f in predict_frames(run, cond, batch, redo, stride):
            if on_frame is not None:
                on_frame(t, T)
            yield t, dataclasses.replace(f, theta=driven.theta[t].numpy(), phi=driven.phi[t].numpy(),
                                         time=float(d.times[t]))

    manifest = {"height": run.info.height, "width": run.info.width, "fps": float(driven.fps),
                "camera": run.info.camera, "source": "translator",
                "reenactment": {"run": str(Path(run_dir).resolve()), "source": str(source), "params": params,
                                "pose": pose, "step": run.step, **d.report}}
    settings = {"batch": batch, "inputs": _digest(run, cond), **({"stride": stride} if stride > 1 else {})}
    write_olat_resumable(Path(out), render, T, manifest, dome, settings=settings,
                         beta=run.beta_bar.numpy(), overwrite=overwrite)
    return Path(out)

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
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from nervp.errors import ConfigError, NervpError
from nervp.parse.conditioning import MapSettings, conditioning_maps
from nervp.parse.normalize import retarget
from nervp.parse.resample import (
    RotationMode,
    Timeline,
    check_rate_flags,
    check_times,
    output_fps,
    resample_params,
    timeline,
    window_stride,
)
from nervp.parse.stream import CausalConfig
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
    start: float = 0.0
    """With --fps/--slowmo: begin the output this many seconds after the source's first frame
    (the translator's window still reaches back before it, into the source)."""
    seconds: float | None = None
    """With --fps/--slowmo: the output's length in seconds of the source's time (default: to the
    source's end). A short stretch at 1000 fps is what slow motion usually needs."""

    def validate(self) -> None:
        """ConfigError naming the flag for rates or a stretch no output can have."""
        check_rate_flags(self.fps, self.slowmo)
        if not (math.isfinite(self.start) and self.start >= 0):
            raise ConfigError(f"--start must be a number of seconds >= 0, got {self.start:g}")
        if self.seconds is not None and not (math.isfinite(self.seconds) and self.seconds > 0):
            raise ConfigError(f"--seconds must be a positive number of seconds, got {self.seconds:g}")
        if (self.start or self.seconds is not None) and self.fps is None and self.slowmo is None:
            raise ConfigError("--start and --seconds pick the stretch to resample: give --fps or --slowmo too")


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
    skip: int = 0
    """Leading frames of `cond` and `driven` that only feed the first output frames' windows
    (`--start`): output frame t is frame t + skip of them."""

    @property
    def n_frames(self) -> int:
        return self.cond.shape[0] - self.skip


def drive(run: FinishedRun, source: Path, src: FaceParams, normalize: bool = True,
          pose: Literal["tracked", "fixed"] = "tracked", rate: RateSettings = RateSettings()) -> Driving:
    """The output frames of `src` (the parameters of the performer at `source`) on the run's
    target: at the source's frames, or resampled to `rate`'s frame rate (timestamps checked)."""
    if src.n_frames < 1:
        raise NervpError(f"{source} has no frames")
    rate.validate()
    fps = output_fps(src.fps, rate.fps, rate.slowmo)
    times = source_times(Path(source), src.n_frames, src.fps)
    stride, hfr, resample, skip = 1, None, None, 0
    if fps is not None:
        check_times(times, src.fps, str(source))
        tl = timeline(src.n_frames, src.fps, fps, float(times[0]) if times.size else 0.0)
        stride = window_stride(fps, run.info.fps, rate.window)
        hfr = {"fps": fps, "source_fps": tl.source_fps, "rotation": rate.rotation, "window": rate.window,
               "window_stride": stride}
        if rate.start or rate.seconds is not None:
            tl, skip, hfr["span"] = _stretch(tl, rate, (run.cfg.model.in_frames - 1) * stride, source)
        times = tl.times[skip:]

        def resample(p: FaceParams) -> FaceParams:
            return resample_params(p, tl, rate.rotation)
    else:
        times = np.arange(src.n_frames) / max(src.fps, 1e-6)
    cond, driven, report = source_conditioning(run, src, normalize, pose, resample)
    return Driving(cond, driven, times, stride, {**report, **({"resampled": hfr} if hfr else {})}, skip)


def _stretch(tl: Timeline, rate: RateSettings, history: int, source: Path) -> tuple[Timeline, int, dict]:
    """The part of `tl` that `--start`/`--seconds` keep, preceded by up to `history` frames for the
    first windows: (that timeline, how many of its frames are history, a report)."""
    duration = (tl.n_frames - 1) / tl.fps
    if rate.start > duration + 1e-9:
        raise ConfigError(f"--start {rate.start:g} s is past the end of {source} ({duration:.4g} s from its "
                          "first frame to its last)")
    k0 = min(int(math.ceil(rate.start * tl.fps - 1e-6)), tl.n_frames - 1)
    end = duration if rate.seconds is None else min(duration, rate.start + rate.seconds)
    k1 = max(k0, min(int(math.floor(end * tl.fps + 1e-6)), tl.n_frames - 1))
    first = max(0, k0 - history)
    sub = Timeline(tl.pos[first:k1 + 1], tl.fps, tl.source_fps, tl.start + first / tl.fps)
    return sub, k0 - first, {"start": rate.start, "seconds": rate.seconds, "frames": [k0, k1]}


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
    rate.validate()  # refused before any tracking
    d = drive(run, Path(source), performer_params(Path(source), params), normalize, pose, rate)
    cond, driven, stride, skip = d.cond, d.driven, d.stride, d.skip
    T = d.n_frames
    dome = run.info.dome_model()
    check_free_space(out, T * olat_frame_bytes(dome.n_lights, run.info.height, run.info.width) * OLAT_RATIO,
                     "the reenacted dataset")

    batch = 4

    def render(todo: list[int]) -> Iterator[tuple[int, OLATFrame]]:
        # whole batches of the uninterrupted run's partition, so every frame sees the same batch
        starts = sorted({t - t % batch for t in todo})
        redo = [t for s in starts for t in range(s, min(s + batch, T))]
        for k, f in predict_frames(run, cond, batch, [t + skip for t in redo], stride):
            t = k - skip
            if on_frame is not None:
                on_frame(t, T)
            yield t, dataclasses.replace(f, theta=driven.theta[k].numpy(), phi=driven.phi[k].numpy(),
                                         time=float(d.times[t]))

    manifest = {"height": run.info.height, "width": run.info.width, "fps": float(driven.fps),
                "camera": run.info.camera, "source": "translator",
                "reenactment": {"run": str(Path(run_dir).resolve()), "source": str(source), "params": params,
                                "pose": pose, "step": run.step, **d.report}}
    settings = {"batch": batch, "inputs": _digest(run, cond), **({"stride": stride} if stride > 1 else {}),
                **({"skip": skip} if skip else {})}
    write_olat_resumable(Path(out), render, T, manifest, dome, settings=settings,
                         beta=run.beta_bar.numpy(), overwrite=overwrite)
    return Path(out)


def causal_conditioning(run: FinishedRun, source: Path, normalize: bool = True,
                        pose: Literal["tracked", "fixed"] = "tracked",
                        cfg: CausalConfig | None = None) -> tuple[torch.Tensor, np.ndarray, FaceParams, dict]:
    """What `nervp live` computes from `source`, frame after frame, without dropping any: the
    causal parser (`nervp.parse.stream.CausalParser`) on each frame in order, the maps of the
    frames with a face. Returns (cond (N, C, H, W) of the N frames with a face, hold (T,) int64:
    which of them each source frame shows -- the last one with a face up to it, the first for
    frames before any face --, the driven parameters of the N frames, a report)."""
    from nervp.parse.stream import CausalParser
    from nervp.parse.track import load_frames

    frames = load_frames(Path(source))
    target, stats = load_target(run.path)
    cfg = cfg or CausalConfig()
    driven = []
    with CausalParser(stats, frames.width, frames.height, frames.fps, cfg, normalize, pose) as parser:
        for img in frames.images:
            driven.append(parser(img))
    good = [t for t, d in enumerate(driven) if d is not None]
    if not good:
        raise NervpError(f"no face found in any of the {frames.n_frames} frames of {source}: check that the "
                         "clip shows a face")
    hold = np.maximum(np.cumsum([d is not None for d in driven]) - 1, 0).astype(np.int64)
    n = len(good)
    params = target.replace(theta=torch.stack([driven[t].theta for t in good]),
                            phi=torch.stack([driven[t].phi for t in good]), residual=torch.zeros(n),
                            valid=torch.ones(n, dtype=torch.bool), beta_frames=None, fps=frames.fps)
    maps = conditioning_maps(params, MapSettings(size=(run.info.height, run.info.width)))
    report = {"normalized": normalize, "causal": True, "frames_without_face": frames.n_frames - n}
    return maps.stacked().float(), hold, params, report


def reenact_causal(run_dir: Path, source: Path, out: Path, normalize: bool = True,
                   pose: Literal["tracked", "fixed"] = "tracked", overwrite: bool = False, device: str = "auto",
                   on_frame: Callable[[int, int], None] | None = None) -> Path:
    """`reenact` parsing the source as `nervp live` does (`causal_conditioning`): relit by
    `nervp relight`, the dataset gives live's frames when live drops none (docs/LIVE.md). A
    source frame without a face repeats the last one with a face. Resumable as `reenact`."""
    from nervp.store.zstore import check_output

    check_output(Path(out), overwrite)
    run = load_run(run_dir, device)
    cond, hold, driven, report = causal_conditioning(run, Path(source), normalize, pose)
    T, N, fps = len(hold), cond.shape[0], driven.fps
    dome = run.info.dome_model()
    check_free_space(out, T * olat_frame_bytes(dome.n_lights, run.info.height, run.info.width) * OLAT_RATIO,
                     "the reenacted dataset")
    batch = 4

    def render(todo: list[int]) -> Iterator[tuple[int, OLATFrame]]:
        # whole batches of the uninterrupted run's partition (over the frames with a face)
        shown: dict[int, list[int]] = {}
        for t in todo:
            shown.setdefault(int(hold[t]), []).append(t)
        starts = sorted({k - k % batch for k in shown})
        redo = [k for s in starts for k in range(s, min(s + batch, N))]
        for k, f in predict_frames(run, cond, batch, redo):
            for t in shown.get(k, []):
                if on_frame is not None:
                    on_frame(t, T)
                yield t, dataclasses.replace(f, theta=driven.theta[k].numpy(), phi=driven.phi[k].numpy(),
                                             time=t / max(fps, 1e-6))

    manifest = {"height": run.info.height, "width": run.info.width, "fps": float(fps),
                "camera": run.info.camera, "source": "translator",
                "reenactment": {"run": str(Path(run_dir).resolve()), "source": str(source), "params": "fit",
                                "pose": pose, "step": run.step, **report}}
    write_olat_resumable(Path(out), render, T, manifest, dome,
                         settings={"batch": batch, "inputs": _digest(run, cond), "hold": hold.tolist()},
                         beta=run.beta_bar.numpy(), overwrite=overwrite)
    return Path(out)

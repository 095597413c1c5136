"""Training pairs for the translator: a window of conditioning frames -> the newest frame's
reflectance field (OLAT images, normal, albedo, alpha), held in memory as float16."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from nervp.store.olat import OLATDataset


@dataclass(frozen=True)
class TrainingSet:
    """A target's frames ready for training.

    Attributes:
        cond: (T, C, H, W) float32 conditioning maps, one per frame.
        olat: (T, L, 3, H, W) float16 OLAT images divided by `olat_scale` (linear).
        normal: (T, 3, H, W) float16 unit normals (0 off the performer).
        albedo: (T, 3, H, W) float16 linear albedo. alpha: (T, 1, H, W) float16 coverage.
        full_lit: (T, 3, H, W) float16 full-lit images divided by `olat_scale`.
        olat_scale: linear radiance that maps to 1.0 in the network's units.
        train_idx, val_idx: (N,) int64 frame indices used for training / held out.
    """

    cond: Tensor
    olat: Tensor
    normal: Tensor
    albedo: Tensor
    alpha: Tensor
    full_lit: Tensor
    olat_scale: float
    train_idx: Tensor
    val_idx: Tensor

    @property
    def n_frames(self) -> int:
        return int(self.cond.shape[0])

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.cond, self.olat, self.normal, self.albedo,
                                                          self.alpha, self.full_lit))

    def to(self, device: torch.device) -> TrainingSet:
        """The same frames with the image tensors on `device` (frame indices stay on the CPU)."""
        return dataclasses.replace(self, **{k: getattr(self, k).to(device) for k in
                                            ("cond", "olat", "normal", "albedo", "alpha", "full_lit")})

    def window(self, frames: Tensor, in_frames: int) -> Tensor:
        return cond_windows(self.cond, frames, in_frames)


def cond_windows(cond: Tensor, frames: Tensor, in_frames: int, stride: int = 1) -> Tensor:
    """(B, in_frames * C, H, W) network input: for each frame t the conditioning maps of frames
    t - (in_frames - 1) * stride, .., t - stride, t of `cond` (T, C, H, W), oldest first,
    repeating frame 0 before the start (stride > 1: a high-rate timeline's window spanning the
    seconds a lower training rate's did)."""
    offs = torch.arange(-in_frames + 1, 1, device=frames.device) * stride
    idx = (frames[:, None] + offs[None]).clamp_min(0)
    w = cond[idx]  # (B, F, C, H, W)
    return w.reshape(w.shape[0], -1, *w.shape[-2:])


def network_input(cond: Tensor, frames: Tensor, in_frames: int, multi_frame: bool = True,
                  stride: int = 1) -> Tensor:
    """The translator's input for `frames`: 11-frame windows (entries `stride` frames apart), or
    (ablation) the newest frame repeated."""
    if multi_frame:
        return cond_windows(cond, frames, in_frames, stride)
    return cond[frames].repeat(1, in_frames, 1, 1)


def split_frames(n_frames: int, val_fraction: float, min_val: int = 1) -> tuple[Tensor, Tensor]:
    """Hold out the last contiguous block of frames (unseen poses and expressions)."""
    n_val = max(min_val, int(round(n_frames * val_fraction))) if val_fraction > 0 else 0
    if n_val >= n_frames:
        raise ValueError(f"cannot hold out {n_val} of {n_frames} frames: record more frames")
    return torch.arange(n_frames - n_val), torch.arange(n_frames - n_val, n_frames)


def olat_scale_of(ds: OLATDataset) -> float:
    """99.5th percentile of the OLAT images of a few frames: the network's unit of radiance."""
    frames = np.linspace(0, ds.n_frames - 1, min(4, ds.n_frames)).round().astype(int)
    v = np.concatenate([ds.read("olat", int(t)).astype(np.float32).ravel() for t in frames])
    v = v[v > 0]
    return float(np.percentile(v, 99.5)) if v.size else 1.0


def load_training_set(ds: OLATDataset, cond: Tensor, val_fraction: float) -> TrainingSet:
    """Read every frame of `ds` into memory next to its conditioning maps `cond` (T, C, H, W)."""
    if cond.shape[0] != ds.n_frames or tuple(cond.shape[-2:]) != (ds.height, ds.width):
        raise ValueError(f"conditioning maps {tuple(cond.shape)} do not match the dataset "
                         f"({ds.n_frames} frames of {ds.height}x{ds.width})")
    scale = olat_scale_of(ds)
    T = ds.n_frames

    def stack(name: str, fn) -> Tensor:
        return torch.stack([fn(torch.from_numpy(np.asarray(ds.read(name, t), dtype=np.float32))) for t in range(T)])

    olat = stack("olat", lambda x: (x / scale).permute(0, 3, 1, 2).half())
    full = stack("full_lit", lambda x: (x / scale).permute(2, 0, 1).half())
    ones = torch.ones(T, 1, ds.height, ds.width, dtype=torch.float16)
    alpha = stack("alpha", lambda x: x[None].half()) if ds.has("alpha") else ones
    normal = stack("normal", lambda x: x.permute(2, 0, 1).half()) if ds.has("normal") else torch.zeros(T, 3, ds.height, ds.width, dtype=torch.float16)
    albedo = stack("albedo", lambda x: x.permute(2, 0, 1).half()) if ds.has("albedo") else torch.zeros(T, 3, ds.height, ds.width, dtype=torch.float16)
    tr, va = split_frames(T, val_fraction)
    return TrainingSet(cond.float(), olat, normal, albedo, alpha, full, scale, tr, va)

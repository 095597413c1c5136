"""How well a trained translator reproduces its target on held-out frames.

For frames never seen in training (the run's `val_frames`, unseen poses and expressions),
the predicted reflectance field is relit and compared with the same relighting of the
ground-truth OLAT images: under 8 lights evenly spaced around the subject (the 8 dome LEDs
nearest to a horizontal ring at 45° steps) and under environment maps. Both sides are relit
with the same LED weights, so the numbers measure the network, not the 96-light sampling.

Images are compared in linear light, divided by the truth's maximum and clipped to [0, 1]:
PSNR (dB), SSIM (11-pixel Gaussian window) and MAE. Also: per-OLAT PSNR, the normals'
angular error where the performer covers the pixel, and temporal stability (mean absolute
frame-to-frame change of the relit prediction over that of the truth; 1 is ideal, flicker > 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from pytorch_msssim import ssim

from nervp.lightstage.dome import Dome
from nervp.reenact import predict_frames
from nervp.relight.core import relight
from nervp.relight.lighting import Lighting, weights_for
from nervp.store.olat import load_olat
from nervp.structures.field import ReflectanceField
from nervp.train.run import FinishedRun, check_run_dataset


def ring_leds(dome: Dome, n: int = 8) -> list[int]:
    """The LEDs nearest to n directions evenly spaced on the horizon around the subject."""
    az = np.arange(n) * 2 * np.pi / n
    dirs = np.stack([np.sin(az), np.zeros(n), np.cos(az)], 1)
    return [int(np.argmax(dome.direction @ d)) for d in dirs]


def image_metrics(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """PSNR/SSIM/MAE of linear (H, W, 3) images, both divided by truth.max() and clipped to [0, 1]."""
    peak = max(float(truth.max()), 1e-8)
    p = np.clip(pred / peak, 0, 1)
    t = np.clip(truth / peak, 0, 1)
    mse = float(((p - t) ** 2).mean())
    s = ssim(torch.from_numpy(p).permute(2, 0, 1)[None].float(), torch.from_numpy(t).permute(2, 0, 1)[None].float(),
             data_range=1.0, win_size=11 if min(p.shape[:2]) > 11 else 3)
    return {"psnr_db": 10 * math.log10(1 / max(mse, 1e-12)), "ssim": float(s), "mae": float(np.abs(p - t).mean())}


def olat_psnr(pred: np.ndarray, truth: np.ndarray) -> list[float]:
    """PSNR (dB) of each lit OLAT image of (T, L, H, W, 3) arrays, each image divided by its
    truth's maximum and clipped to [0, 1] as in `image_metrics` (unlit images are skipped)."""
    peak = truth.max(axis=(2, 3, 4), keepdims=True)
    lit = peak[..., 0, 0, 0] > 0
    safe = np.maximum(peak, 1e-8)
    err = ((np.clip(pred / safe, 0, 1) - np.clip(truth / safe, 0, 1)) ** 2).mean(axis=(2, 3, 4))
    return (10 * np.log10(1 / np.maximum(err[lit], 1e-12))).tolist()


def temporal_change_ratio(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean absolute frame-to-frame change of `pred` (T, H, W, 3) over that of `truth`: 1 when the
    prediction moves exactly as much as the truth, > 1 for flicker, < 1 for a frozen output."""
    dp = np.abs(np.diff(pred, axis=0)).mean()
    dg = np.abs(np.diff(truth, axis=0)).mean()
    return float(dp / max(dg, 1e-12))


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} if rows else {}


def frame_rows(pred: np.ndarray, truth: np.ndarray) -> list[dict[str, float]]:
    """`image_metrics` of each frame of linear (T, H, W, 3) relit predictions against the truth."""
    return [image_metrics(pred[i], truth[i]) for i in range(len(truth))]


def relit_summary(ring_rows: list[dict[str, float]], env_rows: dict[str, list[dict[str, float]]]) -> dict:
    """The relit part of the report, shared by `nervp evaluate` and `nervp score`: the mean over
    the ring's images (frame-major), the mean per lighting, and the mean over all of them
    (ring rows first, then each lighting's rows in order)."""
    every = ring_rows + [r for rows in env_rows.values() for r in rows]
    return {"ring_8_lights": _mean(ring_rows), "environments": {k: _mean(v) for k, v in env_rows.items()},
            "overall": _mean(every)}


@dataclass(frozen=True)
class Reconstruction:
    """Metrics (see the module docstring) and the arrays a picture is made of."""

    metrics: dict
    pred_relit: np.ndarray  # (T, H, W, 3) first lighting
    true_relit: np.ndarray


def evaluate_run(run: FinishedRun, dataset: Path, lightings: dict[str, Lighting],
                 frames: list[int] | None = None) -> Reconstruction:
    ds = load_olat(dataset)
    check_run_dataset(run.info, ds, run.path)
    frames = list(run.info.val_frames) if frames is None else frames
    if not frames:
        raise ValueError("no held-out frames to evaluate")
    pred_by_t = dict(predict_frames(run, run.cond, frames=frames))
    P = np.stack([pred_by_t[t].olat for t in frames])  # (T, L, H, W, 3)
    G = np.stack([ds.read("olat", t).astype(np.float32) for t in frames])
    dome = ds.dome
    per_olat = olat_psnr(P, G)
    ring = ring_leds(dome)
    ring_rows = [image_metrics(P[i, l], G[i, l]) for i in range(len(frames)) for l in ring]
    env_rows: dict[str, list[dict[str, float]]] = {}
    pf = ReflectanceField(torch.from_numpy(P))
    gf = ReflectanceField(torch.from_numpy(G))
    first = None
    for name, light in lightings.items():
        w = weights_for(light, dome)
        rp, rg = relight(pf, w).numpy(), relight(gf, w).numpy()
        env_rows[name] = frame_rows(rp, rg)
        if first is None:
            first = (rp, rg)
    normal_err = []
    for t in frames:
        n_true = ds.read("normal", t).astype(np.float32)
        a = ds.read("alpha", t).astype(np.float32) > 0.5
        n_pred = pred_by_t[t].normal
        cos = np.clip((n_true * n_pred).sum(-1) / np.maximum(np.linalg.norm(n_pred, axis=-1), 1e-6), -1, 1)
        normal_err.append(np.degrees(np.arccos(cos[a])).mean())
    stability = temporal_change_ratio(*first) if len(frames) > 1 and first is not None else None
    metrics = {
        "frames": frames, "lights_ring": ring, **relit_summary(ring_rows, env_rows),
        "per_olat_psnr_db": float(np.mean(per_olat)),
        "normal_angular_error_deg": float(np.mean(normal_err)),
        "temporal_change_ratio": stability,
        "step": run.step, "head": run.cfg.model.head,
    }
    return Reconstruction(metrics, first[0], first[1])


def save_strip(rec: Reconstruction, path: Path) -> None:
    """PNG: the truth relit (top row) over the prediction (bottom row), one shared exposure."""
    from nervp.colour import percentile_exposure, to_srgb8
    from nervp.viz.images import grid, label, save_png

    exp = percentile_exposure(rec.true_relit)
    n = len(rec.true_relit)
    tiles = [label(to_srgb8(rec.true_relit[i], exp), "truth") for i in range(n)]
    tiles += [label(to_srgb8(rec.pred_relit[i], exp), "predicted") for i in range(n)]
    save_png(path, grid(tiles, n))

"""`nervp score`: any method's relit predictions against a virtual-stage dataset's ground truth.

The predictions folder (docs/BENCHMARK.md) holds one subfolder per lighting and in it one
image per frame, named by the dataset's frame index:

    PRED/<lighting>/<frame:05d>.exr    linear Rec. 709 radiance in the dataset's units (float or half)
    PRED/<lighting>/<frame:05d>.png    or a 16-bit PNG: linear, code / 65535 * png_scale

A lighting is a procedural environment or studio look by name (`sky`, `studio`, ...), an
environment file's stem (given with `--light FILE`), or `ring-K` (K = 0..7): the dome LED
nearest to the K-th of 8 directions evenly spaced on the horizon around the subject, alone
(`ring_leds`). The truth is the dataset's OLAT images relit by the same LED weights, so the
numbers are those `nervp evaluate` gives, computed by the same functions.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nervp.errors import NervpError
from nervp.evaluate.reconstruction import (
    frame_rows,
    relit_summary,
    ring_leds,
    temporal_change_ratio,
)
from nervp.relight.core import relight
from nervp.relight.lighting import parse_lighting, weights_for
from nervp.store.olat import OLATDataset, load_olat
from nervp.structures.field import ReflectanceField

RING = "ring-"
"""Prefix of the ring lightings: `ring-0` ... `ring-7`."""
SUFFIXES = (".exr", ".png")
FRAME_NAME = re.compile(r"^(\d{5})\.(exr|png)$")
RING_LIGHTINGS = tuple(f"{RING}{k}" for k in range(8))


class ScoreError(NervpError):
    """Predictions that cannot be scored (the message names the file and the fix)."""


def lighting_folder(spec: str) -> str:
    """The subfolder name of lighting `spec`: its name, or a file's stem."""
    p = Path(spec)
    return p.stem if p.suffix else spec.strip().lower()


def is_ring(name: str) -> bool:
    return name.startswith(RING) and name[len(RING):].isdigit() and int(name[len(RING):]) < 8


def truth_relit(ds: OLATDataset, frames: Sequence[int], spec: str) -> np.ndarray:
    """(T, H, W, 3) float32 ground truth of `frames` under lighting `spec` (a ring name, a
    procedural name or look, or an environment file): the OLAT images relit as `evaluate` does."""
    G = np.stack([ds.read("olat", t).astype(np.float32) for t in frames])
    if is_ring(spec):
        return np.ascontiguousarray(G[:, ring_leds(ds.dome)[int(spec[len(RING):])]])
    w = weights_for(parse_lighting(spec), ds.dome)
    return relight(ReflectanceField(torch.from_numpy(G)), w).numpy()


# ---- the predictions folder
def read_prediction(path: Path, size: tuple[int, int], png_scale: float = 1.0) -> np.ndarray:
    """One predicted image as (H, W, 3) float32 linear; ScoreError naming `path` when it is not
    a readable EXR or 16-bit PNG of `size` (H, W) with finite values."""
    from nervp.imaging.hdrio import HdrFileError, read_exr

    if path.suffix == ".exr":
        try:
            img = read_exr(path)
        except HdrFileError as e:
            raise ScoreError(f"{e}: write linear RGB as OpenEXR (docs/BENCHMARK.md)") from None
    else:
        import cv2

        raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if raw is None or raw.dtype != np.uint16 or raw.ndim != 3 or raw.shape[2] < 3:
            what = "unreadable" if raw is None else f"{raw.dtype} with shape {raw.shape}"
            raise ScoreError(f"{path}: not a 16-bit RGB PNG ({what}): write 16-bit linear RGB PNGs or EXRs")
        img = raw[..., 2::-1].astype(np.float32) * np.float32(png_scale / 65535.0)
    if img.shape[:2] != tuple(size):
        raise ScoreError(f"{path} is {img.shape[1]}x{img.shape[0]} but the dataset's frames are "
                         f"{size[1]}x{size[0]}: predict at the dataset's size")
    bad = int((~np.isfinite(img)).any(-1).sum())
    if bad:
        raise ScoreError(f"{path} has {bad} pixels that are NaN or infinite: every pixel must be a finite value")
    return img


def prediction_frames(folder: Path) -> dict[int, Path]:
    """{frame index: file} of one lighting's folder; ScoreError for a file named otherwise."""
    if not folder.is_dir():
        raise ScoreError(f"{folder}: missing (no predictions for this lighting): write "
                         f"{folder}/<frame:05d>.exr for each scored frame, or leave the lighting out of --light")
    out: dict[int, Path] = {}
    for p in sorted(folder.iterdir()):
        m = FRAME_NAME.match(p.name)
        if p.name.startswith("."):
            continue
        if m is None:
            raise ScoreError(f"{p}: not a prediction file name (want <frame:05d>.exr or .png, e.g. 00012.exr)")
        t = int(m.group(1))
        if t in out:
            raise ScoreError(f"{p}: frame {t} is given twice ({out[t].name} and {p.name}): keep one")
        out[t] = p
    return out


@dataclass(frozen=True)
class Predictions:
    """A predictions folder, checked: the scored frames and each lighting's files."""

    root: Path
    frames: tuple[int, ...]
    files: dict[str, dict[int, Path]]


def scan_predictions(pred: Path, lightings: Sequence[str] | None, n_frames: int,
                     frames: Sequence[int] | None = None) -> Predictions:
    """Check the layout: every lighting has the same frames (or exactly `frames`), each within
    the dataset's `n_frames`. ScoreError naming the missing folder or file."""
    pred = Path(pred)
    if not pred.is_dir():
        raise ScoreError(f"{pred}: no such predictions folder (layout: PRED/<lighting>/<frame:05d>.exr)")
    names = ([lighting_folder(s) for s in lightings] if lightings
             else sorted(p.name for p in pred.iterdir() if p.is_dir() and not p.name.startswith(".")))
    if not names:
        raise ScoreError(f"{pred} has no lighting folders: write PRED/<lighting>/<frame:05d>.exr")
    files = {n: prediction_frames(pred / n) for n in names}
    want = sorted(frames) if frames else sorted(set().union(*(set(f) for f in files.values())))
    if not want:
        raise ScoreError(f"{pred / names[0]} holds no predictions: write <frame:05d>.exr files")
    for t in want:
        if not 0 <= t < n_frames:
            raise ScoreError(f"{pred}: frame {t} is outside the dataset's {n_frames} frames (0 to {n_frames - 1})")
    for n, have in files.items():
        missing = [t for t in want if t not in have]
        if missing:
            raise ScoreError(f"{pred / n / f'{missing[0]:05d}.exr'}: missing ({len(missing)} of {len(want)} frames "
                             f"missing for lighting {n}): every lighting needs every scored frame")
    return Predictions(pred, tuple(want), {n: {t: have[t] for t in want} for n, have in files.items()})


def write_predictions(out: Path, relit: dict[str, np.ndarray], frames: Sequence[int]) -> Path:
    """Write relit predictions {lighting: (T, H, W, 3) linear} as float32 EXRs in the layout
    above, atomically (a temporary folder renamed into place)."""
    from nervp.imaging.hdrio import write_exr

    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for name, images in relit.items():
            (tmp / name).mkdir(parents=True)
            for t, img in zip(frames, images, strict=True):
                write_exr(tmp / name / f"{t:05d}.exr", np.asarray(img, np.float32), half=False)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def run_predictions(run, frames: Sequence[int], specs: Sequence[str]) -> dict[str, np.ndarray]:
    """A trained run's relit predictions of the dataset's `frames` under each lighting `specs`
    {folder name: (T, H, W, 3)}, computed as `evaluate_run` computes them (ring lightings: the
    predicted OLAT image of that LED)."""
    from nervp.reenact import predict_frames

    by_t = dict(predict_frames(run, run.cond, frames=list(frames)))
    P = np.stack([by_t[t].olat for t in frames])
    dome = run.info.dome_model()
    leds = ring_leds(dome)
    field = ReflectanceField(torch.from_numpy(P))
    return {lighting_folder(s): (np.ascontiguousarray(P[:, leds[int(s[len(RING):])]]) if is_ring(s)
                                 else relight(field, weights_for(parse_lighting(s), dome)).numpy())
            for s in specs}


# ---- scoring
def score_predictions(pred: Path, dataset: Path, lightings: Sequence[str] | None = None,
                      frames: Sequence[int] | None = None, png_scale: float = 1.0) -> dict:
    """The `nervp evaluate` relit metrics of a predictions folder: per lighting (mean PSNR, SSIM,
    MAE over the frames, and the temporal change ratio: > 1 flicker), the ring of 8 lights
    (the `ring-K` lightings present), the other lightings, and overall. Every file is read and
    checked before anything is scored."""
    ds = load_olat(dataset)
    specs = list(lightings) if lightings else None
    scan = scan_predictions(pred, specs, ds.n_frames, frames)
    by_folder = dict(zip([lighting_folder(s) for s in specs], specs, strict=True)) if specs else {}
    size = (ds.height, ds.width)
    images = {n: np.stack([read_prediction(f, size, png_scale) for f in files.values()])
              for n, files in scan.files.items()}
    fr = list(scan.frames)
    ring = [n for n in RING_LIGHTINGS if n in images]
    G = np.stack([ds.read("olat", t).astype(np.float32) for t in fr]) if ring else None
    leds = ring_leds(ds.dome)
    ring_rows = [r for i in range(len(fr)) for n in ring
                 for r in frame_rows(images[n][i:i + 1], G[i:i + 1, leds[int(n[len(RING):])]])]
    env_rows: dict[str, list] = {}
    per: dict[str, list] = {}
    flicker: dict[str, float | None] = {}
    for n, img in images.items():
        truth = (np.ascontiguousarray(G[:, leds[int(n[len(RING):])]]) if is_ring(n)
                 else truth_relit(ds, fr, by_folder.get(n, n)))
        rows = frame_rows(img, truth)
        per[n] = rows
        if not is_ring(n):
            env_rows[n] = rows
        flicker[n] = temporal_change_ratio(img, truth) if len(fr) > 1 else None
    summary = relit_summary(ring_rows, env_rows)
    lights = {n: {**relit_summary(rows, {})["overall"], "temporal_change_ratio": flicker[n]}
              for n, rows in per.items()}
    return {"frames": fr, "lightings": lights, **summary}


__all__ = ["RING", "RING_LIGHTINGS", "Predictions", "ScoreError", "lighting_folder", "read_prediction", "run_predictions",
           "scan_predictions", "score_predictions", "truth_relit", "write_predictions"]

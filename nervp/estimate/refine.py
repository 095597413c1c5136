"""Per-target refinement of the lighting estimator (the paper's encoder trained on the target).

The shipped estimator has to guess the skin's albedo: a darker face under brighter light and a
lighter face under dimmer light make the same photo. Trained on the target's own OLAT frames it
no longer has to: `refine` starts from the shipped weights and goes on training on photographs
of the *target* (its OLAT crops relit by random lightings, with the same photographic
degradations and the same relit-image loss as `train_builtin`), on the dataset's own dome and
LED gain. `nervp train --estimator` writes the result to RUN/estimator.safetensors;
`nervp estimate-light --run RUN` and `nervp relight --run RUN --light-from` use it.

`nervp train` gives it only its training frames (the last `--val-fraction` of the dataset stays
held out). The face is found in each frame's full-lit image with the tracker, as in a
photo; a frame where MediaPipe finds none uses the dataset's own landmarks when it has them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from nervp.errors import ConfigError, NervpError
from nervp.estimate import crop as C
from nervp.estimate.data import CropSet

ESTIMATOR = "estimator.safetensors"
"""The per-target estimator's file in a run directory."""


@dataclass(frozen=True)
class RefineConfig:
    """Settings of the per-target estimator training (`nervp train --estimator`)."""

    mode: Literal["full", "gain"] = "full"
    """full: go on training every weight on the target's photographs; gain: keep the shipped
    network and fit only one RGB gain of its output to them (the target's albedo; seconds)."""
    steps: int = 1500
    """Adam steps from the shipped weights."""
    frames: int = 24
    """Training frames of the dataset used (evenly spaced)."""
    samples: int = 3000
    """Photographs made of the target (a fixed set)."""
    lightings: int = 800
    """Random lightings drawn (procedural skies, looks, soft-light mixtures, and `maps`)."""
    maps: Path | None = None
    """A folder of .hdr/.exr environment maps also drawn from, turned at random (none needed)."""
    batch: int = 64
    """Photographs per step."""
    lr: float = 5e-4
    """Adam learning rate (cosine decay to 0 over `steps`)."""
    seed: int = 0
    """Seeds the lightings, the photographs and the sample order."""

    def validate(self) -> None:
        if self.mode not in ("full", "gain"):
            raise ConfigError(f"--estimator.mode must be full or gain, got {self.mode!r}")
        for name in ("steps", "frames", "samples", "lightings", "batch"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 1):
                raise ConfigError(f"--estimator.{name} must be a positive integer, got {v}")
        if self.maps is not None and not Path(self.maps).is_dir():
            raise ConfigError(f"--estimator.maps {self.maps}: no such folder; give a folder of .hdr/.exr maps or leave it out")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"--estimator.lr must be a positive number, got {self.lr}")


def frame_landmarks(full_lit: np.ndarray, stored: np.ndarray | None, tracker) -> np.ndarray | None:
    """(478, 2) pixel landmarks of one linear full-lit frame (H, W, 3): MediaPipe's on the
    frame exposed like a photo, else `stored` (the dataset's), else None."""
    from nervp.colour import to_srgb8

    lum = full_lit @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    p8 = to_srgb8(full_lit, 0.9 / max(float(np.percentile(lum, 99)), 1e-9))
    lm, _ = tracker(np.ascontiguousarray(p8))
    if lm is not None:
        return np.asarray(lm, np.float64)
    if stored is not None and np.isfinite(stored).all():
        return np.asarray(stored, np.float64)
    return None


def target_crops(ds, cfg: RefineConfig, n_train: int | None = None) -> CropSet:
    """Face crops (`crop.STORE`²) of the OLAT sets of up to `cfg.frames` of the first `n_train`
    frames of `ds` (all when None)."""
    from nervp.parse.track import FaceTracker, TrackConfig

    train_idx = np.arange(ds.n_frames if n_train is None else max(1, min(n_train, ds.n_frames)))
    pick = train_idx[np.unique(np.linspace(0, len(train_idx) - 1, min(cfg.frames, len(train_idx))).round().astype(int))]
    olat, alpha = [], []
    with FaceTracker(TrackConfig()) as tracker:
        for t in pick:
            f = ds.frame(int(t))
            lm = frame_landmarks(f.full_lit, f.landmarks, tracker)
            if lm is not None:
                box = C.face_box(lm)
                olat.append(np.stack([C.crop(im, box) for im in f.olat]).astype(np.float16))
                a = np.ones(f.full_lit.shape[:2], np.float32) if f.alpha is None else f.alpha.astype(np.float32)
                alpha.append(C.crop(a[..., None], box)[..., 0].astype(np.float16))
    if not olat:
        raise NervpError(f"{ds.path}: no face found in any of its {len(pick)} training frames' full-lit images; "
                         "the estimator can only be trained on a dataset that shows a face")
    return CropSet(np.stack(olat), np.stack(alpha), np.zeros(len(olat), np.int64))


def refine(ds, cfg: RefineConfig = RefineConfig(), n_train: int | None = None, log=None, on_step=None):
    """(LightNet trained on the target of dataset `ds`, metadata), from its first `n_train`
    frames (all when None; `nervp train` gives its training frames); see the module docstring.
    `log(text)` gets progress lines, `on_step(step, running relit error)` every step."""
    from nervp.estimate.lightbank import bank, load_maps
    from nervp.estimate.model import load_net
    from nervp.estimate.sh import led_matrix
    from nervp.estimate.train_builtin import Samples, adam_step, gram, make_samples
    from nervp.relight.weights import led_calibration

    cfg.validate()
    log = log or (lambda msg: None)
    torch.manual_seed(cfg.seed)
    gain = float(ds.manifest.get("exposure", 1.0))
    dome = ds.dome
    cal = led_calibration(dome, gain)
    cs = target_crops(ds, cfg, n_train)
    log(f"estimator: face crops of {cs.n} training frames")
    lights = bank(cfg.lightings, cfg.seed + 2, dome, cal, load_maps(cfg.maps))
    data = Samples(**vars(make_samples(cs, lights, cfg.samples, cfg.seed + 3)))
    grams = torch.from_numpy(gram(cs))
    net, generic_meta = load_net()
    net.train()
    Yn, scale_n = led_matrix(dome, cal, net.cfg.order)
    Y = torch.as_tensor(Yn, dtype=torch.float32)
    scale = torch.as_tensor(scale_n, dtype=torch.float32)
    pinv1 = torch.as_tensor(np.linalg.pinv(Yn[:, :4]), dtype=torch.float32)
    fixed = (grams, Y, scale, pinv1)
    before = relit_error(net, data, *fixed)
    if cfg.mode == "gain":
        g = fit_gain(net, data, grams, Y, scale)
        scale_output(net, g)
        log(f"estimator gain: {g[0]:.3f} {g[1]:.3f} {g[2]:.3f}")
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s / cfg.steps, 1.0))))
    rng = np.random.default_rng(cfg.seed + 4)
    run_rel = 0.0
    for step in range(1, (cfg.steps if cfg.mode == "full" else 0) + 1):
        rel, _ = adam_step(net, opt, sched, data, rng.integers(cfg.samples, size=cfg.batch), *fixed)
        run_rel = rel if step == 1 else 0.95 * run_rel + 0.05 * rel
        if on_step is not None:
            on_step(step, run_rel)
        if step % 100 == 0 or step == cfg.steps:
            log(f"estimator step {step}/{cfg.steps}: relit error {run_rel:.4f}")
    meta = {"mode": cfg.mode, "seed": cfg.seed, "steps": cfg.steps if cfg.mode == "full" else 0, "frames": cs.n, "samples": cfg.samples,
            "lightings": cfg.lightings, "maps": sorted(p.name for p in Path(cfg.maps).glob("*")) if cfg.maps else [],
            "dataset": str(ds.path), "n_lights": dome.n_lights, "gain": gain,
            "from": {k: generic_meta[k] for k in ("seed", "steps", "performers") if k in generic_meta},
            "relit_error_shipped": round(before, 5), "relit_error_refined": round(relit_error(net, data, *fixed), 5)}
    return net.eval(), meta


def fit_gain(net, data, grams, Y, scale, chunk: int = 256) -> np.ndarray:
    """(3,) the RGB gain g that minimises the mean relative relit-image error of g times the
    (mirror-symmetrised) estimate over the photographs of `data`: per channel a 1-D least
    squares, g_c = sum_b <w, v>_G / |v|_G^2 over sum_b |w|_G^2 / |v|_G^2 (w estimated, v true)."""
    from nervp.estimate.model import normalise

    num, den = np.zeros(3), np.zeros(3)
    with torch.no_grad():
        for i in range(0, len(data.sets), chunk):
            x = torch.from_numpy(data.photos[i:i + chunk].astype(np.float32)).permute(0, 3, 1, 2)
            xn, k = normalise(x)
            w = torch.relu(torch.einsum("lk,bkc->blc", Y, net(xn) * k[:, None, None])) * scale
            v = torch.from_numpy(data.weights[i:i + chunk])
            G = grams[torch.from_numpy(data.sets[i:i + chunk])]
            ref = torch.einsum("blc,bclm,bmc->b", v, G, v).clamp(min=1e-12)[:, None]
            num += (torch.einsum("blc,bclm,bmc->bc", w, G, v) / ref).sum(0).double().numpy()
            den += (torch.einsum("blc,bclm,bmc->bc", w, G, w) / ref).sum(0).double().numpy()
    return np.clip(num / np.maximum(den, 1e-12), 0.1, 10.0)


def scale_output(net, g: np.ndarray) -> None:
    """Multiply the network's SH output of colour channel c by g[c] (its last layer's rows: the
    output is viewed as (K, 3), so row j is channel j mod 3). Exact: LED weights are a clamped
    linear function of the coefficients, and clamping commutes with a positive gain."""
    last = net.head[-1]
    f = torch.as_tensor(np.tile(np.asarray(g, np.float32), last.out_features // 3))
    with torch.no_grad():
        last.weight.mul_(f[:, None])
        last.bias.mul_(f)


def relit_error(net, data, grams, Y, scale, pinv1, chunk: int = 256) -> float:
    """Mean relative relit-image error of `net` over every photograph of `data` (no gradients)."""
    from nervp.estimate.train_builtin import losses

    total = 0.0
    with torch.no_grad():
        for i in range(0, len(data.sets), chunk):
            x = torch.from_numpy(data.photos[i:i + chunk].astype(np.float32)).permute(0, 3, 1, 2)
            rel, _ = losses(net, x, torch.from_numpy(data.sets[i:i + chunk]),
                            torch.from_numpy(data.weights[i:i + chunk]), grams, Y, scale, pinv1)
            total += float(rel) * len(x)
    return total / len(data.sets)


def save_estimator(net, path: Path, meta: dict) -> None:
    """Write the estimator to `path` through a temporary name (never half-written)."""
    from nervp.estimate.model import save_net

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        save_net(net, tmp, meta)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def run_estimator(run: Path | None) -> Path | None:
    """RUN/estimator.safetensors when the run has a per-target estimator, else None."""
    if run is None:
        return None
    p = Path(run) / ESTIMATOR
    return p if p.is_file() else None


def estimator_of(run: Path | None) -> Path | None:
    """The estimator file of `run` for `relight --run` (None for None); NervpError when the run
    has none."""
    if run is None:
        return None
    p = run_estimator(run)
    if p is None:
        raise NervpError(f"{run} has no {ESTIMATOR}: train it with `nervp train DATASET {run} --estimator` "
                         "(or leave --run out to use the shipped estimator)")
    return p

"""Train the shipped lighting estimator on the virtual light stage (docs/ESTIMATE.md).

    python -m nervp.estimate.train_builtin --maps ../shared/data/envmaps

renders OLAT face crops of many synthetic performers (cached), draws random lightings
(`lightbank`), makes photographs of them by relighting (a linear sum) with photographic
degradations (`degrade`), and fits `LightNet` to the relit-image error: the loss compares the
target relit with the estimated weights to the target relit with the true weights, which is
what the estimate is for. Everything follows from `--seed`; the result is written as float16
safetensors (nervp/estimate/generic.safetensors by default).
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nervp.estimate import crop as C
from nervp.estimate.data import CropSet, load_crops, render_crops, save_crops
from nervp.estimate.degrade import photograph
from nervp.estimate.lightbank import bank, load_maps
from nervp.estimate.model import WEIGHTS, LightNet, NetConfig, normalise, save_net
from nervp.estimate.sh import led_matrix
from nervp.lightstage import DomeConfig, build_dome
from nervp.relight.weights import led_calibration

STAGE_EXPOSURE = 2.2
"""The virtual stage's LED gain (`SimConfig.exposure`): the calibration the weights refer to."""


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m nervp.estimate.train_builtin", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=WEIGHTS, help="safetensors file to write")
    p.add_argument("--cache", type=Path, default=Path("out/estimate_crops.npz"), help="OLAT crop cache (made if absent)")
    p.add_argument("--maps", type=Path, default=None, help="folder of .hdr/.exr maps to draw lightings from")
    p.add_argument("--performers", type=int, default=160, help="synthetic performers (seeds 100, 101, ...)")
    p.add_argument("--instants", type=int, default=2, help="OLAT sets per performer")
    p.add_argument("--lightings", type=int, default=2000, help="random lightings drawn")
    p.add_argument("--samples", type=int, default=12000, help="photographs made (a fixed set)")
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    return p.parse_args(argv)


def gram(cs: CropSet) -> np.ndarray:
    """(N, 3, L, L) float32 per-channel Gram matrices of each set's centred OLAT window, averaged
    2 x 2 to 32 x 32 (the error measure, not the input, so half resolution is enough): the
    squared error of relighting with weights w instead of v is sum_c (w - v)_c^T G_c (w - v)_c."""
    out = []
    for o in cs.olat:
        win = torch.from_numpy(C.centre(o).astype(np.float32)).permute(0, 3, 1, 2)
        win = torch.nn.functional.avg_pool2d(win, 2).reshape(o.shape[0], 3, -1).permute(1, 0, 2)
        out.append((win @ win.transpose(1, 2)).numpy())
    return np.stack(out)


@dataclass(frozen=True)
class Samples:
    """A fixed training set of photographs.

    Attributes:
        photos: (n, 64, 64, 3) float16 linear crops as the estimator sees them.
        sets: (n,) int64 OLAT set of each. weights: (n, L, 3) float32 true weights in photo units.
    """

    photos: np.ndarray
    sets: np.ndarray
    weights: np.ndarray


def make_samples(cs: CropSet, lights: np.ndarray, n: int, seed: int) -> Samples:
    """`n` random photographs: a cached performer, a banked lighting, a window shift, `photograph`."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(cs.n, size=n)
    lit = rng.integers(len(lights), size=n)
    shifts = rng.integers(-C.JITTER, C.JITTER + 1, size=(n, 2))
    photos = np.zeros((n, C.NET, C.NET, 3), np.float16)
    weights = np.zeros((n, lights.shape[1], 3), np.float32)
    for k, (i, s, li) in enumerate(zip(idx, shifts, lit, strict=True)):
        win = C.centre(cs.olat[i], tuple(s))
        img = np.einsum("lc,lpc->pc", lights[li], win.reshape(win.shape[0], -1, 3).astype(np.float32),
                        optimize=True).reshape(C.NET, C.NET, 3)
        p, e = photograph(img, C.centre(cs.alpha[i][..., None], tuple(s))[..., 0].astype(np.float32), rng)
        photos[k] = np.minimum(p, 6e4)
        weights[k] = lights[li] * e
        if (k + 1) % 2000 == 0:
            print(f"photographs {k + 1}/{n}", flush=True)
    return Samples(photos, idx.astype(np.int64), weights)


def losses(net: LightNet, x, idx, w_true, grams: torch.Tensor, Y: torch.Tensor, scale: torch.Tensor,
           pinv1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(relative relit-image error, low-order direction error) of a batch, one network pass."""
    xn, k = normalise(x)
    c = net.raw(xn) * k[:, None, None]
    w = torch.relu(torch.einsum("lk,bkc->blc", Y, c)) * scale
    G = grams[idx]  # (B, 3, L, L)
    d = w - w_true
    err = torch.einsum("blc,bclm,bmc->b", d, G, d)
    ref = torch.einsum("blc,bclm,bmc->b", w_true, G, w_true).clamp(min=1e-12)
    c_true = torch.einsum("kl,blc->bkc", pinv1, w_true / scale)
    dd = ((c[:, :4] - c_true) ** 2).sum((1, 2)) / (c_true[:, :1] ** 2).sum((1, 2)).clamp(min=1e-12)
    return (err / ref).mean(), dd.mean()


def adam_step(net: LightNet, opt, sched, data: Samples, b: np.ndarray, grams, Y, scale, pinv1) -> tuple[float, float]:
    """One optimisation step on the photographs `b` of `data` (relit-image error + 0.1 x the
    direction error, gradient norm clipped at 1); returns the two errors."""
    x = torch.from_numpy(data.photos[b].astype(np.float32)).permute(0, 3, 1, 2)
    rel, d = losses(net, x, torch.from_numpy(data.sets[b]), torch.from_numpy(data.weights[b]), grams, Y, scale, pinv1)
    loss = rel + 0.1 * d
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
    opt.step()
    sched.step()
    return float(rel.detach()), float(d.detach())


def _cached(path: Path, make) -> dict:
    """The arrays saved at `path`, made by `make()` and saved first when absent."""
    if path.is_file():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    arrays = make()
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    tmp.replace(path)
    return arrays


def main(argv: list[str] | None = None) -> None:
    a = _args(argv)
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    if a.cache.is_file():
        cs = load_crops(a.cache)
    else:
        a.cache.parent.mkdir(parents=True, exist_ok=True)
        cs = render_crops(list(range(100, 100 + a.performers)), a.instants, 128, seed=a.seed + 1,
                          on_set=lambda k: print(f"rendered {k} sets", flush=True) if k % 20 == 0 else None)
        save_crops(a.cache, cs)
    print(f"{cs.n} OLAT crop sets of {len(set(cs.seed.tolist()))} performers ({time.perf_counter() - t0:.0f} s)")
    dome = build_dome(DomeConfig())
    cal = led_calibration(dome, STAGE_EXPOSURE)
    lights = bank(a.lightings, a.seed + 2, dome, cal, load_maps(a.maps))
    print(f"{len(lights)} lightings ({time.perf_counter() - t0:.0f} s)")
    cfg = NetConfig()
    Yn, scale_n = led_matrix(dome, cal, cfg.order)
    Y = torch.as_tensor(Yn, dtype=torch.float32)
    scale = torch.as_tensor(scale_n, dtype=torch.float32)
    pinv1 = torch.as_tensor(np.linalg.pinv(Yn[:, :4]), dtype=torch.float32)  # (4, L) fit of l <= 1
    net = LightNet(cfg)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s / a.steps, 1.0))))
    grams = torch.from_numpy(_cached(a.cache.with_suffix(".gram.npz"), lambda: {"g": gram(cs)})["g"])
    print(f"Gram matrices ({time.perf_counter() - t0:.0f} s)")
    key = a.cache.with_suffix(f".samples-{a.seed}-{a.samples}-{a.lightings}-{'maps' if a.maps else 'nomaps'}.npz")
    data = Samples(**_cached(key, lambda: vars(make_samples(cs, lights, a.samples, a.seed + 3))))
    print(f"{a.samples} photographs ({time.perf_counter() - t0:.0f} s)")
    rng = np.random.default_rng(a.seed + 4)
    run_rel = run_dir = 0.0
    for step in range(1, a.steps + 1):
        rel, d = adam_step(net, opt, sched, data, rng.integers(a.samples, size=a.batch), grams, Y, scale, pinv1)
        run_rel = 0.98 * run_rel + 0.02 * rel
        run_dir = 0.98 * run_dir + 0.02 * d
        if step % 100 == 0:
            print(f"step {step}: relit error {run_rel:.4f} ({-10 * math.log10(max(run_rel, 1e-12)):.1f} dB rel), "
                  f"direction {run_dir:.4f}, {time.perf_counter() - t0:.0f} s", flush=True)
    meta = {"seed": a.seed, "steps": a.steps, "performers": len(set(cs.seed.tolist())), "sets": cs.n,
            "lightings": a.lightings, "samples": a.samples, "maps": sorted(p.name for p in a.maps.glob("*")) if a.maps else [],
            "stage_exposure": STAGE_EXPOSURE, "train_seconds": round(time.perf_counter() - t0)}
    save_net(net, a.out, meta)
    print(f"wrote {a.out} ({a.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()

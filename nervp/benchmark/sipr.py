"""SIPR: a single-image portrait relighting network, in the manner of Sun et al. 2019 -- one
full-lit portrait and a target lighting in, the portrait relit out -- built and trained by the
project on virtual-stage performers that no suite uses as a target (seeds `TRAIN_SEEDS`).

* Lighting: the second-order spherical harmonics (9 coefficients per RGB channel, 27 values)
  of the target's LED weights on the dome, divided by the DC term of the full-lit lighting
  (every LED at weight 1), so the input image and the lighting are in the same units.
* Network: a small encoder-decoder; the lighting enters at the bottleneck (broadcast, as Sun et
  al. inject their environment map there). It predicts the log ratio of the relit image to the
  input, so the output is the input times a positive shading ratio (background stays black).
* Training: pairs (full-lit frame, the same frame relit by a random lighting) made on the fly
  from OLAT datasets: a pool of 64 random LED weights (rotated studio looks and procedural
  skies, and single ring lights) sampled per pair. Loss: L1 between log(1 + relit / s) and the prediction's, s the input's
  mean (scale-free).

Weights ship in the package (`nervp/benchmark/data/sipr.safetensors`), written by
`python -m nervp.benchmark.sipr OUT.safetensors [--steps N]` (fixed seed; docs/BENCHMARK.md).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

WEIGHTS = Path(__file__).resolve().parent / "data" / "sipr.safetensors"
TRAIN_SEEDS = (100, 101, 102, 103)
"""Performers SIPR learns from: never a suite's targets, reference or source."""


def sh9(d: np.ndarray) -> np.ndarray:
    """(N, 9) real spherical harmonics up to order 2 of unit directions `d` (N, 3)."""
    x, y, z = d[:, 0], d[:, 1], d[:, 2]
    return np.stack([0.282095 * np.ones_like(x), 0.488603 * y, 0.488603 * z, 0.488603 * x,
                     1.092548 * x * y, 1.092548 * y * z, 0.315392 * (3 * z * z - 1), 1.092548 * x * z,
                     0.546274 * (x * x - y * y)], 1)


def lighting_code(weights: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """(27,) float32: SH of LED weights (L, 3) on LED directions (L, 3), over the full-lit DC."""
    Y = sh9(np.asarray(direction, np.float64))
    c = Y.T @ np.asarray(weights, np.float64)  # (9, 3)
    full = float(Y[:, 0].sum())
    return (c / full).T.reshape(-1).astype(np.float32)


class SIPRNet(nn.Module):
    """(B, 3, H, W) image normalised by its mean and (B, 27) lighting code -> (B, 3, H, W) log ratio."""

    def __init__(self, ch: int = 16) -> None:
        super().__init__()

        def block(i: int, o: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.GroupNorm(4, o), nn.SiLU(),
                                 nn.Conv2d(o, o, 3, padding=1), nn.SiLU())

        self.e1, self.e2, self.e3 = block(3, ch), block(ch, 2 * ch), block(2 * ch, 4 * ch)
        self.light = nn.Linear(27, 4 * ch)
        self.mid = block(8 * ch, 4 * ch)
        self.d2, self.d1 = block(6 * ch, 2 * ch), block(3 * ch, ch)
        self.out = nn.Conv2d(ch, 3, 1)
        self.pool = nn.AvgPool2d(2)

    def forward(self, img: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        up = nn.functional.interpolate
        x1 = self.e1(torch.log1p(img))
        x2 = self.e2(self.pool(x1))
        x3 = self.e3(self.pool(x2))
        lt = self.light(code)[:, :, None, None].expand(-1, -1, *x3.shape[-2:])
        m = self.mid(torch.cat([x3, lt], 1))
        y2 = self.d2(torch.cat([up(m, scale_factor=2.0, mode="bilinear"), x2], 1))
        y1 = self.d1(torch.cat([up(y2, scale_factor=2.0, mode="bilinear"), x1], 1))
        return self.out(y1)


def load_sipr(path: Path = WEIGHTS) -> SIPRNet:
    from safetensors.torch import load_file

    from nervp.errors import NervpError

    if not path.is_file():
        raise NervpError(f"{path}: SIPR's weights are missing: write them with `python -m nervp.benchmark.sipr {path}`")
    net = SIPRNet()
    net.load_state_dict(load_file(str(path)), strict=True)
    return net.eval()


@torch.no_grad()
def sipr_relight(net: SIPRNet, images: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Relight linear (T, H, W, 3) portraits by lighting `code` (27,); (T, H, W, 3) float32."""
    x = torch.from_numpy(np.ascontiguousarray(images, np.float32)).permute(0, 3, 1, 2)
    s = x.mean((1, 2, 3), keepdim=True).clamp_min(1e-8)
    c = torch.from_numpy(code)[None].expand(len(x), -1)
    ratio = torch.exp(net(x / s, c).clamp(-8, 8))
    return (x * ratio).permute(0, 2, 3, 1).contiguous().numpy()


def _lightings(dome, rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, L, 3) random LED weights: rotated looks and skies, and single ring lights."""
    from nervp.evaluate.reconstruction import ring_leds
    from nervp.relight.lighting import parse_lighting, rotate_lighting, weights_for

    names = ["sky", "sunset", "studio", "rembrandt", "cyberpunk", "key-fill-rim"]
    ring = ring_leds(dome, 16)
    out = []
    for _ in range(n):
        if rng.random() < 0.3:
            w = np.zeros((dome.n_lights, 3), np.float32)
            w[ring[rng.integers(len(ring))]] = 1.0
        else:
            light = rotate_lighting(parse_lighting(names[rng.integers(len(names))]), float(rng.uniform(0, 360)))
            w = weights_for(light, dome)
            w = w / max(float(w.sum()) / dome.n_lights / 3, 1e-8) * float(rng.uniform(0.5, 2.0))
        out.append(w.astype(np.float32))
    return np.stack(out)


def train_sipr(out: Path, steps: int = 300, size: int = 64, frames: int = 6, seed: int = 0,
               log=print) -> Path:
    """Simulate `TRAIN_SEEDS` (tiny stage), train SIPR `steps` steps (batch 8, Adam), save."""
    import tempfile

    from safetensors.torch import save_file

    from nervp.store.olat import load_olat
    from nervp.synth.performer import PerformerConfig
    from nervp.synth.render_olat import RenderQuality
    from nervp.synth.simulate import SimConfig, simulate

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        olat, dome = [], None
        for s in TRAIN_SEEDS:
            cfg = SimConfig(frames=frames, size=size, quality=RenderQuality(supersample=2, shadow_size=64),
                            performer=PerformerConfig(face_subdivisions=1, seed=s))  # the `tiny` stage
            ds = load_olat(simulate(Path(tmp) / f"p{s}.olat", cfg))
            olat += [ds.read("olat", t).astype(np.float32) for t in range(ds.n_frames)]
            dome = ds.dome
    O = torch.from_numpy(np.stack(olat))  # (N, L, H, W, 3)
    pool = torch.from_numpy(_lightings(dome, rng, 64))  # environments are costly to build: a pool, sampled
    codes = torch.from_numpy(np.stack([lighting_code(x.numpy(), dome.direction) for x in pool]))
    net = SIPRNet()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    for step in range(steps):
        idx = torch.from_numpy(rng.integers(len(O), size=8))
        k = torch.from_numpy(rng.integers(len(pool), size=8))
        w, code = pool[k], codes[k]
        o = O[idx]
        full = o.sum(1).permute(0, 3, 1, 2)
        relit = torch.einsum("blhwc,blc->bchw", o, w)
        s = full.mean((1, 2, 3), keepdim=True).clamp_min(1e-8)
        pred = full * torch.exp(net(full / s, code).clamp(-8, 8))
        loss = (torch.log1p(pred / s) - torch.log1p(relit / s)).abs().mean()
        for g in opt.param_groups:
            g["lr"] = 2e-3 * 0.5 * (1 + math.cos(math.pi * step / steps))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            log(f"step {step}: loss {float(loss.detach()):.4f}")
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(out))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description="Train SIPR on the virtual stage's training performers.")
    ap.add_argument("out", type=Path, nargs="?", default=WEIGHTS)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    train_sipr(a.out, a.steps, seed=a.seed)


if __name__ == "__main__":
    main()


__all__ = ["SIPRNet", "TRAIN_SEEDS", "WEIGHTS", "lighting_code", "load_sipr", "sipr_relight", "train_sipr"]

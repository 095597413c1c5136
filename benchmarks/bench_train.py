"""Translator training cost: time per step and peak memory of one full training step (the real
`Trainer.train_step`: every loss term of eq. 5, discriminator update included) for the 96-image
head and the low-rank head (K = 16) at 128², 256² (and 512² with --large), plus inference frames
per second (all 96 OLAT images materialised per frame).

Each configuration runs in its own process. Peak memory is the step's own: on CUDA the peak
allocated during the timed steps; on CPU the rise of the resident set's high-water mark over
its level before the first step (Linux: VmHWM reset through /proc/self/clear_refs). Synthetic
tensors stand in for data (cost does not depend on content). Method: 1 warm-up step, median of
--repeats steps, fixed seed. Model: the `default` preset's U-Net unless --preset says otherwise.

    python benchmarks/bench_train.py [--large] [--device cuda] [--repeats 3] [--preset default]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from common import write_results

CHILD = r"""
import dataclasses, json, statistics, sys, tempfile, time
from pathlib import Path
import torch
from nervp.model.shape_regressor import ShapeRegressor
from nervp.presets import train_preset
from nervp.train.data import TrainingSet
from nervp.train.trainer import Trainer

size, head, device, repeats, preset, batch = (int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]),
                                              sys.argv[5], int(sys.argv[6]))
cfg = train_preset(preset, batch=batch, device=device)
cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, head=head, rank=16),
                          loss=dataclasses.replace(cfg.loss, gan=cfg.loss.gan or 0.1))  # the full eq. 5, GAN included
T, L, H = 6, cfg.model.n_lights, size
g = torch.Generator().manual_seed(0)
data = TrainingSet(cond=torch.rand(T, cfg.model.cond_channels, H, H, generator=g),
                   olat=torch.rand(T, L, 3, H, H, generator=g).half(),
                   normal=torch.nn.functional.normalize(torch.randn(T, 3, H, H, generator=g), dim=1).half(),
                   albedo=torch.rand(T, 3, H, H, generator=g).half(), alpha=torch.ones(T, 1, H, H).half(),
                   full_lit=torch.rand(T, 3, H, H, generator=g).half(), olat_scale=1.0,
                   train_idx=torch.arange(T), val_idx=torch.arange(0))
torch.manual_seed(0)
reg = ShapeRegressor(15).requires_grad_(False).eval()
tr = Trainer(Path(tempfile.mkdtemp()), cfg, data, torch.zeros(15), reg)
cuda = device.startswith("cuda")

def sync():
    if cuda:
        torch.cuda.synchronize()

def vm(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return float("nan")

if cuda:
    torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated() / 2**20
else:
    open("/proc/self/clear_refs", "w").write("5"); base = vm("VmRSS")
tr.train_step(); sync()
ts = []
for _ in range(repeats):
    t = time.perf_counter(); tr.train_step(); sync(); ts.append(time.perf_counter() - t)
peak = (torch.cuda.max_memory_allocated() / 2**20 if cuda else vm("VmHWM")) - base
m = tr.model.eval()
x = torch.rand(1, cfg.model.in_frames * cfg.model.cond_channels, H, H, device=tr.device)
with torch.no_grad(), tr._autocast():
    m(x).olat; sync(); t = time.perf_counter()
    for _ in range(repeats):
        m(x).olat
    sync(); inf = repeats / (time.perf_counter() - t)
print(json.dumps({"size": size, "head": head, "batch": batch, "step_s": statistics.median(ts), "step_peak_mb": peak,
                  "inference_fps": inf, "params": sum(p.numel() for p in m.parameters()), "preset": preset}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--large", action="store_true", help="add 512²")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--preset", default="default", help="training preset whose U-Net is measured")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--name", default=None, help="results file name (default train_<device>)")
    a = ap.parse_args()
    sizes = [128, 256] + ([512] if a.large else [])
    rows = []
    for size in sizes:
        for head in ("olat", "lowrank"):
            r = subprocess.run([sys.executable, "-c", CHILD, str(size), head, a.device, str(a.repeats), a.preset,
                                str(a.batch)], capture_output=True, text=True)
            if r.returncode:
                print(r.stderr[-2000:], file=sys.stderr)
                rows.append({"size": size, "head": head, "error": r.stderr.strip().splitlines()[-1]})
            else:
                rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    ratios = []
    for size in sizes:
        o = next(r for r in rows if r["size"] == size and r["head"] == "olat")
        k = next(r for r in rows if r["size"] == size and r["head"] == "lowrank")
        if "error" not in o and "error" not in k:
            ratios.append({"size": size, "lowrank_over_olat_step_time": k["step_s"] / o["step_s"],
                           "lowrank_over_olat_step_memory": k["step_peak_mb"] / o["step_peak_mb"]})
    print(ratios)
    name = a.name or f"train_{a.device.split(':')[0]}"
    method = (f"one warm-up step, then the median of {a.repeats} training steps (synchronised on GPU), each "
              f"configuration in its own process, fixed seed, synthetic tensors, batch {a.batch}; peak memory = the "
              "step's own (CUDA peak allocated / rise of VmHWM on CPU); inference: frames per second over "
              f"{a.repeats} calls after one. ratios: the low-rank head over the 96-image head, same run and size")
    results = {"device": a.device, "preset": a.preset, "rows": rows}
    print("wrote", write_results(name, method=method, results=results, ratios={"lowrank_over_olat": ratios}))


if __name__ == "__main__":
    main()

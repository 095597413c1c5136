"""Translator training cost: time per step and peak memory for the 96-image head and the
low-rank head (K = 16) at 128², 256² (and 512² with --large), plus inference frames per second.
Each configuration runs in its own process so peak memory is its own (CPU: peak RSS; CUDA:
max allocated). Synthetic tensors stand in for data (the cost does not depend on the content).
Method: 1 warm-up step, median of --repeats steps, fixed seed.

    python benchmarks/bench_train.py [--large] [--device cuda] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from common import write

CHILD = r"""
import json, resource, sys, time, dataclasses, statistics
import torch
from nervp.model.translator import Translator, TranslatorConfig
from nervp.train.losses import msssim_loss
size, head, device, repeats, base = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
torch.manual_seed(0)
cfg = TranslatorConfig(head=head, rank=16, base_channels=base, max_channels=base * 8, depth=4)
m = Translator(cfg).to(device)
opt = torch.optim.Adam(m.parameters(), 1e-4)
B = 2
x = torch.rand(B, cfg.in_frames * cfg.cond_channels, size, size, device=device)
y = torch.rand(B, cfg.n_lights, 3, size, size, device=device)
def sync():
    if device.startswith("cuda"): torch.cuda.synchronize()
def step():
    out = m(x)
    loss = ((out.olat - y) ** 2).mean() + msssim_loss(out.olat[:, :8].flatten(0, 1), y[:, :8].flatten(0, 1))
    opt.zero_grad(); loss.backward(); opt.step()
step(); sync()
if device.startswith("cuda"): torch.cuda.reset_peak_memory_stats()
ts = []
for _ in range(repeats):
    t = time.perf_counter(); step(); sync(); ts.append(time.perf_counter() - t)
m.eval()
with torch.no_grad():
    m(x[:1]); sync(); t = time.perf_counter()
    for _ in range(repeats): m(x[:1])
    sync(); inf = repeats / (time.perf_counter() - t)
peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"size": size, "head": head, "batch": B, "step_s": statistics.median(ts), "peak_mb": peak,
                  "inference_fps": inf, "params": sum(p.numel() for p in m.parameters())}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--large", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--base", type=int, default=16, help="first-level channels of the U-Net")
    a = ap.parse_args()
    sizes = [128, 256] + ([512] if a.large else [])
    rows = []
    for size in sizes:
        for head in ("olat", "lowrank"):
            r = subprocess.run([sys.executable, "-c", CHILD, str(size), head, a.device, str(a.repeats), str(a.base)],
                               capture_output=True, text=True, check=True)
            rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
            print(rows[-1])
    ratios = []
    for size in sizes:
        o = next(r for r in rows if r["size"] == size and r["head"] == "olat")
        k = next(r for r in rows if r["size"] == size and r["head"] == "lowrank")
        ratios.append({"size": size, "lowrank_over_olat_step_time": k["step_s"] / o["step_s"],
                       "lowrank_over_olat_peak_memory": k["peak_mb"] / o["peak_mb"]})
    print(ratios)
    print("wrote", write("train", {"device": a.device, "results": rows, "ratios": ratios}))


if __name__ == "__main__":
    main()

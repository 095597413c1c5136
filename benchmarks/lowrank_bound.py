"""How much a rank-K light basis can hold: the held-out frames of a dataset projected onto the
K-row PCA basis the low-rank head starts from (built from training frames, as the trainer does)
and scored with the evaluation's per-OLAT PSNR. A ceiling for the low-rank head, not a result
of training.

    python benchmarks/lowrank_bound.py TARGET.olat [--ranks 8 16 32] [--val-fraction 0.2]

Writes benchmarks/results/lowrank_bound.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from common import write_results

from nervp.evaluate.reconstruction import olat_psnr
from nervp.model.translator import pca_coeffs
from nervp.store.olat import load_olat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--ranks", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--val-fraction", type=float, default=0.2)
    a = ap.parse_args()
    ds = load_olat(a.dataset)
    T = ds.n_frames
    n_val = int(round(T * a.val_fraction))
    train, val = list(range(T - n_val)), list(range(T - n_val, T))
    G = np.stack([ds.read("olat", t).astype(np.float32) for t in range(T)])  # (T, L, H, W, 3)
    X = torch.from_numpy(G).permute(0, 1, 4, 2, 3)  # (T, L, 3, H, W), as the trainer samples it
    Y = torch.from_numpy(G[val])
    rows = {}
    for k in a.ranks:
        C = pca_coeffs(X[train[:: max(1, len(train) // 8)]], k).double()  # orthonormal rows
        proj = torch.einsum("kl,km,tmhwc->tlhwc", C, C, Y.double()).float().clamp_min(0)
        rows[k] = float(np.mean(olat_psnr(proj.numpy(), G[val])))
        print(f"rank {k}: held-out per-OLAT PSNR of the projection {rows[k]:.2f} dB")
    method = ("PCA basis from every (n_train // 8)-th training frame (pca_coeffs, as the trainer); each "
              "held-out OLAT set projected onto it and back, clipped at 0; olat_psnr as in nervp evaluate. "
              "Deterministic, untimed. No baseline in the run (it is itself a ceiling): ratios is empty")
    write_results("lowrank_bound", method=method, ratios={},
                  results={"dataset": str(a.dataset), "held_out_frames": val, "per_olat_psnr_db_by_rank": rows})


if __name__ == "__main__":
    main()

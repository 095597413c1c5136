"""Temporal fidelity study: which training change makes the output move as much as the truth
(`temporal_change_ratio` of `nervp evaluate`, 1 = as much as the truth) without costing quality.

Collects the `eval.json` of runs trained on one simulated target that differ in one setting,
several seeds each, into benchmarks/results/<name>.json with per-variant means and the paired
(same seed) differences against the baseline variant. The runs themselves are made by
`nervp train` / `nervp evaluate` (the commands are in docs/HFR.md).

Run: python benchmarks/bench_temporal.py --runs DIR [--baseline gan0] [--name temporal_study_cpu]
     (DIR holds one run directory per variant and seed, named VARIANT_sSEED with eval.json inside)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write_results  # noqa: E402

KEYS = ("temporal_change_ratio", "psnr_db", "ssim", "per_olat_psnr_db", "normal_angular_error_deg")


def row(ev: dict) -> dict:
    return {"temporal_change_ratio": ev["temporal_change_ratio"], "psnr_db": ev["overall"]["psnr_db"],
            "ssim": ev["overall"]["ssim"], "per_olat_psnr_db": ev["per_olat_psnr_db"],
            "normal_angular_error_deg": ev["normal_angular_error_deg"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, required=True)
    ap.add_argument("--prefix", default="p5_")
    ap.add_argument("--baseline", default="gan0")
    ap.add_argument("--name", default="temporal_study_cpu")
    ap.add_argument("--what", default="")
    a = ap.parse_args()
    runs: dict[str, dict[int, dict]] = {}
    configs: dict[str, dict] = {}
    for ev_path in sorted(a.runs.glob(f"{a.prefix}*/eval.json")):
        m = re.fullmatch(rf"{re.escape(a.prefix)}(.+)_s(\d+)", ev_path.parent.name)
        if not m:
            continue
        variant, seed = m.group(1), int(m.group(2))
        runs.setdefault(variant, {})[seed] = {**row(json.loads(ev_path.read_text())), "step": json.loads(
            ev_path.read_text())["step"]}
        cfg = json.loads((ev_path.parent / "config.json").read_text())["train"]
        configs[variant] = {"loss": cfg["loss"], "steps": cfg["steps"], "model": cfg["model"]}
    means = {v: {k: float(np.mean([r[k] for r in rs.values()])) for k in KEYS} | {"seeds": sorted(rs)}
             for v, rs in runs.items()}
    base = runs.get(a.baseline, {})
    paired = {}
    for v, rs in runs.items():
        if v == a.baseline:
            continue
        common = sorted(set(rs) & set(base))
        if common:
            paired[v] = {k: [rs[s][k] - base[s][k] for s in common] for k in KEYS} | {"seeds": common}
    ratios = {f"{v}_minus_{a.baseline}_mean_{k}": float(np.mean(d[k])) for v, d in paired.items() for k in KEYS}
    method = ("runs of `nervp train --preset tiny --params truth` on one simulated target (the last 20 % of "
              "its frames held out), each differing from the baseline in one setting, seeds as listed; "
              "`nervp evaluate` (ring of 8 LEDs + sky, sunset, studio) on the held-out frames at the final step; "
              f"ratios = paired (same seed) differences against '{a.baseline}'. {a.what}")
    write_results(RESULTS / f"{a.name}.json", method=method,
                  results={"runs": runs, "means": means, "paired_differences": paired, "configs": configs},
                  ratios=ratios)
    print(json.dumps({"means": means, "ratios": ratios}, indent=1))


if __name__ == "__main__":
    main()

"""Per-target refinement of the lighting estimator (docs/ESTIMATE.md): the shipped estimator
against the one `nervp train --estimator` trains on the target's own OLAT frames, on photos of
that target under held-out real HDR maps.

    bash scripts/fetch_eval_maps.sh out/eval_maps
    python benchmarks/eval_refine.py

For each held-out performer (seeds 900-902, never in the shipped estimator's training): a
128², 30-frame virtual-stage dataset (`nervp simulate`, frames 0-1.16 s; the refinement uses its
training frames, 0-0.92 s), the estimator refined on it (`nervp.estimate.refine`, the defaults
of `nervp train --estimator`), then the cases of `eval_estimate.py` for that performer: its
256² OLAT set at t = 1.3 s (an instant the refinement never saw) relit by each held-out map at
yaw 0 and 135, photographed, estimated by both models and scored the same way.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_results  # noqa: E402
from eval_estimate import (  # noqa: E402
    GAIN,
    HELD_OUT,
    lightings,
    photo_of,
    relight,
    render_held_out,
    score,
    table,
)

from nervp.estimate.core import EstimateConfig, estimate_light, track_landmarks  # noqa: E402
from nervp.estimate.refine import RefineConfig, refine, save_estimator  # noqa: E402
from nervp.lightstage import DomeConfig, build_dome  # noqa: E402
from nervp.relight.weights import led_calibration  # noqa: E402


def refined(seed: int, work: Path, cfg: RefineConfig) -> tuple[Path, dict]:
    import dataclasses

    from nervp.presets import sim_preset
    from nervp.store.olat import load_olat
    from nervp.synth.performer import PerformerConfig
    from nervp.synth.simulate import simulate

    ds_path = work / f"target{seed}.olat"
    if not ds_path.is_dir():
        sim = dataclasses.replace(sim_preset("default"), size=128, frames=30, performer=PerformerConfig(seed=seed))
        simulate(ds_path, sim)
    out = work / f"estimator{seed}-{cfg.mode}-{cfg.steps}-{cfg.lr:g}-{'maps' if cfg.maps else 'nomaps'}.safetensors"
    t0 = time.perf_counter()
    net, meta = refine(load_olat(ds_path), cfg, 24, log=lambda m: print(m, flush=True) if "00/" not in m or "000/" in m else None)
    meta["seconds"] = round(time.perf_counter() - t0, 1)
    save_estimator(net, out, meta)
    return out, meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--maps", type=Path, default=Path("out/eval_maps"))
    ap.add_argument("--cache", type=Path, default=Path("out/estimate_eval_olat.npz"))
    ap.add_argument("--work", type=Path, default=Path("out/eval_refine"))
    ap.add_argument("--performers", type=int, default=3)
    ap.add_argument("--steps", type=int, default=RefineConfig().steps)
    ap.add_argument("--lr", type=float, default=RefineConfig().lr)
    ap.add_argument("--mode", choices=("full", "gain"), default=RefineConfig().mode)
    ap.add_argument("--refine-maps", type=Path, default=None,
                    help="maps the refinement also draws lightings from (--estimator.maps; not the held-out ones)")
    ap.add_argument("--out", default="estimate_refine")
    a = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    a.work.mkdir(parents=True, exist_ok=True)
    dome = build_dome(DomeConfig())
    cal = led_calibration(dome, GAIN)
    data = render_held_out(a.cache, 256)
    light_list = lightings(a.maps, False)
    rows: dict[str, list[dict]] = {"generic": [], "refined": [], "sh": []}
    metas = {}
    for p in range(a.performers):
        seed = HELD_OUT[p]
        path, metas[seed] = refined(seed, a.work, RefineConfig(mode=a.mode, steps=a.steps, lr=a.lr, maps=a.refine_maps))
        olat = torch.from_numpy(data["olat"][p].astype(np.float32))
        alpha = data["alpha"][p].astype(np.float32)
        from nervp.composite.background import env_view
        from nervp.relight.lighting import background_env, weights_for

        for name, lt in light_list:
            w_true = weights_for(lt, dome, cal)
            bg = env_view(background_env(lt), data["K"], data["R"], olat.shape[1], olat.shape[2]).numpy()
            plate, e = photo_of(relight(olat, w_true), alpha, bg, f"{name}/{seed}")
            try:
                lm = track_landmarks(plate)
            except Exception as ex:  # a missed face is a failed case, counted by its absence
                print(f"{name}/{seed}: {ex}", flush=True)
                continue
            for kind, wf in (("generic", None), ("refined", path), ("sh", None)):
                est = estimate_light(plate, EstimateConfig(method="sh" if kind == "sh" else "learned"), dome,
                                     weights_file=wf, landmarks=lm)
                rows[kind].append({"case": f"{name}/{seed}", **score(olat, alpha, w_true, est.weights[0], e, dome, cal)})
            print(f"{name}/{seed}: generic {rows['generic'][-1]['psnr']:.2f} dB, refined {rows['refined'][-1]['psnr']:.2f} dB",
                  flush=True)
    paired = [r["psnr"] - g["psnr"] for r, g in zip(rows["refined"], rows["generic"], strict=True)]
    over_sh = [r["psnr"] - g["psnr"] for r, g in zip(rows["refined"], rows["sh"], strict=True)]
    results = {k: table(v) for k, v in rows.items()}
    results["per_performer_psnr_median"] = {
        str(s): {k: round(float(np.median([r["psnr"] for r in v if r["case"].endswith(f"/{s}")])), 3) for k, v in rows.items()}
        for s in HELD_OUT[: a.performers]}
    results["refinement"] = metas
    results["refine_maps"] = str(a.refine_maps) if a.refine_maps else None
    results["mode"] = a.mode
    results["lr"] = a.lr
    method = (f"Held-out performers (seeds {list(HELD_OUT[: a.performers])}): estimator refined on a 128^2, 30-frame dataset of the performer "
              "(training frames 0-0.92 s), beside the shipped estimator and the order-2 SH baseline, tested on its 256^2 OLAT set at t=1.3 s under 11 held-out real maps "
              "(scripts/fetch_eval_maps.sh) at yaw 0/135; photo and scores as in eval_estimate.py "
              "(PSNR over performer pixels, peak 1, after the photo's exposure).")
    ratios = {"refined_minus_generic_psnr_db_median": round(float(np.median(paired)), 3),
              "refined_minus_sh_psnr_db_median": round(float(np.median(over_sh)), 3),
              "seconds": round(time.perf_counter() - t0)}
    print(write_results(a.out, method=method, results=results, ratios=ratios,
                        machine_extra={"load_average": list(np.round(__import__("os").getloadavg(), 2))}))


if __name__ == "__main__":
    main()

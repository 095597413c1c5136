"""How close can a lighting representation get? The relit-image PSNR of the *best* estimate each
representation can hold, on the held-out cases of `eval_estimate.py` (docs/ESTIMATE.md).

    bash scripts/fetch_eval_maps.sh out/eval_maps
    python benchmarks/estimate_ceiling.py

For each held-out performer under each held-out map: the true LED weights are projected on
order-n SH at the LEDs (least squares of the radiance at the LED directions, clamped at 0 as
`sh_to_weights` does), and the best unclamped order-n fit to the relit image itself (least
squares in the image, through the OLAT set's Gram matrix); and the true weights times one wrong
global gain (what an albedo or exposure misreading costs). Same photo exposure and PSNR as
`eval_estimate.score`.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_results  # noqa: E402
from eval_estimate import GAIN, HELD_OUT, lightings, relight, render_held_out  # noqa: E402

from nervp.estimate.sh import led_matrix  # noqa: E402
from nervp.lightstage import DomeConfig, build_dome  # noqa: E402
from nervp.relight.lighting import weights_for  # noqa: E402
from nervp.relight.weights import led_calibration  # noqa: E402

ORDERS = (1, 2, 4, 6, 8)
GAINS = (1.12, 1.25, 1.5)


def psnr(I0: np.ndarray, I1: np.ndarray, m: np.ndarray) -> float:
    return -10 * math.log10(max(float(((I0 - I1)[m] ** 2).mean()), 1e-12))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--maps", type=Path, default=Path("out/eval_maps"))
    ap.add_argument("--cache", type=Path, default=Path("out/estimate_eval_olat.npz"))
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--performers", type=int, default=3)
    ap.add_argument("--out", default="estimate_ceiling")
    a = ap.parse_args()
    torch.set_num_threads(1)
    dome = build_dome(DomeConfig())
    cal = led_calibration(dome, GAIN)
    data = render_held_out(a.cache, a.size)
    rows: dict[str, list[float]] = {}
    for name, lt in lightings(a.maps, False):
        w_true = weights_for(lt, dome, cal).astype(np.float64)
        for p in range(a.performers):
            olat = torch.from_numpy(data["olat"][p].astype(np.float32))
            m = data["alpha"][p].astype(np.float32) > 0.5
            I0 = relight(olat, w_true)
            lum = I0 @ np.array([0.2126, 0.7152, 0.0722])
            e = 0.9 / max(float(np.percentile(lum[m], 99)), 1e-9)
            I0 = I0 * e
            O = olat.numpy()[:, m].astype(np.float64)  # (L, P, 3)
            for n in ORDERS:
                Y, scale = led_matrix(dome, cal, n)
                c = np.linalg.lstsq(Y, w_true / scale, rcond=None)[0]
                w = np.clip(Y @ c, 0, None) * scale
                rows.setdefault(f"sh{n}_led_fit", []).append(psnr(I0, relight(olat, w) * e, m))
                # best unclamped order-n weights for the image: per channel, min |O^T (S c) - I|
                best = np.zeros_like(w_true)
                for ch in range(3):
                    B = O[:, :, ch].T @ (Y * scale[:, ch:ch + 1])  # (P, K)
                    cc = np.linalg.lstsq(B, I0[m][:, ch] / e, rcond=None)[0]
                    best[:, ch] = Y @ cc * scale[:, ch]
                rows.setdefault(f"sh{n}_image_fit", []).append(psnr(I0, relight(olat, best) * e, m))
            for g in GAINS:
                rows.setdefault(f"true_gain_{g}", []).append(psnr(I0, relight(olat, w_true * g) * e, m))
        print(name, {k: round(v[-1], 2) for k, v in rows.items()}, flush=True)
    results = {k: {"median": round(float(np.median(v)), 3), "p10": round(float(np.percentile(v, 10)), 3),
                   "cases": len(v)} for k, v in rows.items()}
    method = (f"Held-out performers (seeds {list(HELD_OUT[: a.performers])}) x held-out maps at yaw 0/135 (eval_estimate.py's cases), {a.size}^2. "
              "PSNR over performer pixels of the exposed relit image (99th-pct face luminance 0.9, peak 1): "
              "shN_led_fit = true weights projected on order-N SH at the LED directions, clamped; "
              "shN_image_fit = the order-N SH lighting that best fits the relit image (unclamped least squares); "
              "true_gain_g = true weights times g.")
    ratios = {f"sh{n}_image_fit_minus_led_fit_db": round(results[f"sh{n}_image_fit"]["median"]
                                                         - results[f"sh{n}_led_fit"]["median"], 3) for n in ORDERS}
    method += (" ratios: median dB gained by fitting order-N SH to the image instead of projecting the "
               "true lighting (what a learned estimate trained on the relit image can win over SH projection).")
    print(write_results(a.out, method=method, results=results, ratios=ratios))


if __name__ == "__main__":
    main()

"""Lighting estimation speed: time per photo at 256² on CPU (docs/ESTIMATE.md).

    python benchmarks/bench_estimate.py [--photo PATH]

Stages timed apart, each the median of repeats after a warm-up: face tracking (MediaPipe), the
learned estimator (crop + CNN, both mirror passes) and its SH -> 96 LED weights, and the SH
baseline (head-model fit + rasterized normals + least squares). Without --photo the input is a
virtual-stage performer rendered at 256² under the studio look.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import timeit, write_results  # noqa: E402

from nervp.estimate import crop as C  # noqa: E402
from nervp.estimate.baseline import estimate_sh  # noqa: E402
from nervp.estimate.core import EstimateConfig, estimate_light, face_crops, track_landmarks  # noqa: E402
from nervp.estimate.model import load_net, predict  # noqa: E402
from nervp.estimate.photo import Plate, load_plate  # noqa: E402
from nervp.estimate.sh import sh_to_weights  # noqa: E402
from nervp.lightstage import DomeConfig, build_dome  # noqa: E402
from nervp.relight.weights import led_calibration  # noqa: E402


def stage_photo(size: int) -> Plate:
    from nervp.colour import srgb_decode, to_srgb8
    from nervp.relight.looks import LOOKS, look_weights
    from nervp.synth.simulate import SimConfig, make_stage

    stage = make_stage(SimConfig(size=size, frames=10))
    f = stage.capture(0.5)
    w = look_weights(LOOKS["key-fill-rim"], stage.dome, led_calibration(stage.dome, 2.2))
    lin = np.einsum("lc,lhwc->hwc", w, f.olat)
    p8 = to_srgb8(lin, 0.8 / np.percentile(lin, 99))
    return Plate(srgb_decode(p8 / 255.0).astype(np.float32)[None], p8[None], 0.95, "photo", None, "stage")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photo", type=Path, default=None)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    plate = load_plate(a.photo) if a.photo else stage_photo(a.size)
    if a.photo and plate.width != a.size:
        import cv2

        from nervp.colour import srgb_decode
        p8 = cv2.resize(plate.display[0], (a.size, a.size), interpolation=cv2.INTER_AREA)
        plate = Plate(srgb_decode(p8 / 255.0).astype(np.float32)[None], p8[None], 0.95, "photo", None, str(a.photo))
    dome = build_dome(DomeConfig())
    cal = led_calibration(dome, 2.2)
    net, _ = load_net()
    lm = track_landmarks(plate)
    crops = face_crops(plate, lm)[0]  # the photo's views
    r = a.repeats
    results = {
        "size": [plate.width, plate.height],
        "track_s": timeit(lambda: track_landmarks(plate), r),
        "crop_s": timeit(lambda: face_crops(plate, lm), r),
        "cnn_s": timeit(lambda: predict(net, crops), r),
        "weights_s": timeit(lambda: sh_to_weights(predict(net, crops).mean(0), dome, cal), r),
        "learned_total_s": timeit(lambda: estimate_light(plate, EstimateConfig(), dome), r),
        "sh_baseline_fit_s": timeit(lambda: estimate_sh(plate.linear[0], lm[0], plate.clip), max(3, r // 3)),
        "sh_total_s": timeit(lambda: estimate_light(plate, EstimateConfig(method="sh"), dome), max(3, r // 3)),
        "net_parameters": int(sum(p.numel() for p in net.parameters())),
        "crop_px": C.NET,
        "views": len(C.VIEW_SHIFTS) * len(C.VIEW_SCALES),
    }
    ratios = {"sh_over_learned_total": round(results["sh_total_s"]["median_s"]
                                             / results["learned_total_s"]["median_s"], 3),
              "cnn_share_of_learned_total": round(results["cnn_s"]["median_s"]
                                                  / results["learned_total_s"]["median_s"], 3)}
    method = (f"median of {r} calls after one warm-up, torch threads {a.threads}, CPU; input {'photo ' + str(a.photo) if a.photo else 'a virtual-stage performer under the key-fill-rim look'} at "
              f"{plate.width}x{plate.height}; learned_total = track + crop + CNN (two mirror passes) + weights "
              "(the FaceTracker's start-up, ~0.1 s, is inside track and total); sh_total = track + head-model "
              "fit + rasterized normals + least squares")
    print(write_results("estimate", method=method, results=results, ratios=ratios,
                        machine_extra={"load_average": [round(x, 2) for x in os.getloadavg()]}))


if __name__ == "__main__":
    main()

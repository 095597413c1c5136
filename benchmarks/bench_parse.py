"""Portrait parsing speed (and, with --quality, the quality numbers of docs/PARSING.md).

Speed, at 256² and 512² (frames per second, median of `--repeats` timed runs after one
warm-up, fixed clip and frames):
  * tracking: MediaPipe FaceMesh with the crop logic (`FaceTracker`) on 30 frames of a real
    clip resized to the size (a real face is needed: the shared clip d3.mp4; without it the
    tracking rows are skipped and say so);
  * fitting: stage 2 of the fit (θ, φ with β̄ fixed: batched Levenberg-Marquardt) on the
    landmarks of 60 frames; and the whole `fit_track` (identity stage included);
  * map rendering: `conditioning_maps` for 32 frames (chunk 16), diffuse + PNCC + landmark
    image + mask.
Single-process CPU timings; torch threads as the machine sets them (recorded).

Quality (--quality): `nervp.parse.evaluation` on the three shared clips, the blink
normalisation experiment, and, with --synthetic DATASET, the virtual-stage truth report
(make one with `nervp simulate /tmp/sim48.olat --size 256 --frames 48 --performer.seed 3`).

Run:  python benchmarks/bench_parse.py [--quality] [--synthetic PATH] [--repeats 3]
Writes benchmarks/results/parse.json.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import timeit, write_results  # noqa: E402

from nervp.parse.conditioning import MapSettings, conditioning_maps  # noqa: E402
from nervp.parse.fit import FitConfig, fit_landmarks, fit_track, scale_camera, video_camera  # noqa: E402
from nervp.parse.track import FaceTracker, TrackConfig, finish_track  # noqa: E402

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"


def resized(frames: np.ndarray, size: int) -> np.ndarray:
    return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in frames])


def bench_tracking(frames: np.ndarray, repeats: int) -> dict:
    with FaceTracker(TrackConfig()) as tr:
        def run() -> None:
            tr.box = None
            for f in frames:
                tr(f)

        t = timeit(run, repeats=repeats)
    return {**t, "frames": len(frames), "fps": len(frames) / t["median_s"]}


def bench(repeats: int) -> dict:
    from nervp.viz.video import read_video

    out: dict = {}
    clip = VIDEOS / "d3.mp4"
    frames = read_video(clip)[0][:60] if clip.exists() else None
    for size in (256, 512):
        row: dict = {}
        if frames is None:
            row["tracking"] = f"skipped: {clip} not available"
            lm = None
        else:
            imgs = resized(frames, size)
            row["tracking"] = bench_tracking(imgs[:30], repeats)
            with FaceTracker(TrackConfig()) as tr:
                raw = np.stack([tr(f)[0] for f in imgs])
            lm = finish_track(raw, np.ones(len(raw), np.int8), size, size, 30.0, "bench").landmarks
        cam = video_camera(size, size)
        if lm is not None:
            beta = torch.zeros(15)
            t = timeit(lambda lm=lm, cam=cam, beta=beta: fit_landmarks(lm, cam, FitConfig(), beta=beta),
                       repeats=repeats)
            row["fitting_pose_expression"] = {**t, "frames": len(lm), "fps": len(lm) / t["median_s"]}
            track = finish_track(raw, np.ones(len(raw), np.int8), size, size, 30.0, "bench")
            t = timeit(lambda track=track, cam=cam: fit_track(track, cam), repeats=max(1, repeats // 2))
            params = fit_track(track, cam)
            row["fitting_whole_fit_track"] = {**t, "frames": len(lm), "fps": len(lm) / t["median_s"]}
        else:
            from nervp.face import load_head_model
            from nervp.parse.evaluation import synthetic_track

            m = load_head_model()
            th = torch.zeros(60, 6)
            th[:, 1] = torch.linspace(-0.3, 0.3, 60)
            track = synthetic_track(m, cam, torch.zeros(m.n_id), th, torch.zeros(60, m.n_expr), 30.0)
            params = fit_track(track, cam)
        params = params.replace(camera=scale_camera(params.camera, size, size))
        T = 32
        p32 = params.select(slice(0, T))
        t = timeit(lambda p32=p32: conditioning_maps(p32, MapSettings(chunk=16)), repeats=repeats)
        row["map_rendering"] = {**t, "frames": T, "fps": T / t["median_s"]}
        out[f"{size}"] = row
    return out


def quality(synthetic: Path | None) -> dict:
    from nervp.evaluate.blink import synthetic_blink_test
    from nervp.parse.evaluation import real_clip_report, synthetic_report

    q: dict = {"real_clips": {}, "blink_normalisation": {
        "same_performance": synthetic_blink_test().to_json(),
        "different_performances": synthetic_blink_test(source_seed=2).to_json()}}
    for name in ("d18", "d20", "d3"):
        path = VIDEOS / f"{name}.mp4"
        q["real_clips"][name] = real_clip_report(path) if path.exists() else f"skipped: {path} not available"
    if synthetic is not None:
        q["synthetic"] = synthetic_report(synthetic)
    return q


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quality", action="store_true", help="also compute the quality numbers")
    ap.add_argument("--synthetic", type=Path, default=None, help="simulated OLAT dataset for the truth report")
    args = ap.parse_args()
    payload = {"speed": bench(args.repeats)}
    if args.quality:
        payload["quality"] = quality(args.synthetic)
    method = __doc__.split("\n\n")[1].strip() + "\nNo baseline is timed in the same run: ratios is empty."
    path = write_results("parse", method=method, results=payload, ratios={},
                         machine_extra={"loadavg_1_5_15": os.getloadavg()})
    print(f"wrote {path}")
    for size, row in payload["speed"].items():
        print(size, {k: (round(v["fps"], 1) if isinstance(v, dict) else v) for k, v in row.items()})


if __name__ == "__main__":
    main()

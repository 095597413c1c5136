"""`nervp ingest` throughput against the speed of reading the same files, and `nervp capture`
throughput against reading the stream it consumes.

Method (STYLE.md section 9). A recording of 2 OLAT sets on the paper's stage (96 LEDs, a
tracking frame every 6th image, 1000 fps: 122 images) at 512x512, written as a camera would:
one file per frame, 16-bit (DN * 257), as uncompressed TIFF and as DNG (when rawpy is
installed), plus the controller's schedule CSV and the camera's timestamps CSV. Frame content
is fixed-seed: a smooth random scene, one LED's share of it on OLAT frames, all of them on
tracking frames, with noise. For each format: the *read limit* is reading and decoding every
file with ingest's own reader (`nervp.capture.frames`), nothing else; *ingest* is the whole
`nervp.capture.ingest.ingest` (two passes over the files: check and measure, then requantise
and write the zarr raw stream). Then *capture*: `nervp.capture.capture` of the ingested stream
(one worker process, one thread: per core), against reading and decoding every image of that
stream alone (its I/O limit); each output set (one per tracking frame, 96 aligned images)
reuses each raw OLAT image several times, so output images per second are recorded too, with
the task CPU seconds per step (io includes zarr's encoding of the written sets). Each timing: one warm-up, median of `--repeats` runs (capture:
one run, it is long). Torch and OpenCV are limited to `--threads` (default 2: the 2 cores of
this machine); the machine is shared, its load average is recorded beside the numbers.

Run:  python benchmarks/bench_ingest.py [--size 512] [--repeats 3] [--threads 2]
Writes benchmarks/results/ingest.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from common import timeit, write_results

from nervp.capture import CaptureConfig, ExecConfig, capture
from nervp.capture.frames import open_frames
from nervp.capture.ingest import IngestConfig, ingest
from nervp.lightstage.schedule import TRACKING, ScheduleConfig, make_schedule
from nervp.store.raw import load_raw


def write_recording(root: Path, size: int, fmt: str) -> tuple[Path, Path, Path, int]:
    """A 2-set, 96-LED recording as 16-bit files; returns (frames, schedule, timestamps, N)."""
    from nervp.synth.camera_files import _write

    sched = make_schedule(2, 96, ScheduleConfig())
    rng = np.random.default_rng(512)
    scene = cv2.resize(rng.uniform(0.2, 1.0, (16, 16)).astype(np.float32), (size, size),
                       interpolation=cv2.INTER_CUBIC)
    frames = root / fmt
    frames.mkdir(parents=True)
    rows = []
    for i, p in enumerate(sched.pattern):
        level = 0.6 if p == TRACKING else 0.15 * (1 + np.sin(int(p)))
        dn = 6 + 240 * np.clip(scene * level + rng.normal(0, 0.004, scene.shape), 0, 1)
        img = (np.rint(dn).astype(np.uint16) * 257).astype(np.uint16)
        name = f"f{i:05d}.{'tif' if fmt == 'tiff' else fmt}"
        _write(frames / name, img, "RGGB", 6 * 257, 255 * 257)
        rows.append(f"{name},{float(sched.time[i])!r}")
    sc = root / "schedule.csv"
    sc.write_text("led,time\n" + "\n".join(f"{'tracking' if p == TRACKING else int(p)},{float(t)!r}"
                                            for p, t in zip(sched.pattern, sched.time, strict=True)) + "\n")
    ts = root / "timestamps.csv"
    ts.write_text("file,time\n" + "\n".join(rows) + "\n")
    return frames, sc, ts, sched.n_images


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cv2.setNumThreads(a.threads)
    try:
        import rawpy  # noqa: F401
        formats = ["tiff", "dng"]
    except ImportError:
        formats = ["tiff"]
    results, ratios = {}, {}
    work = Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    try:
        for fmt in formats:
            frames, sc, ts, n = write_recording(work / fmt, a.size, fmt)
            src = open_frames(frames)

            def read_all(src=src):
                for img in src.frames():
                    img.sum(dtype=np.uint64)  # touch every value, as ingest does

            out = work / f"{fmt}.raw"
            levels = {} if fmt == "dng" else {"black_level": 6 * 257, "white_level": 255 * 257}
            cfg = IngestConfig(schedule=str(sc), timestamps=ts, **levels)

            def run_ingest(frames=frames, out=out, cfg=cfg):
                ingest(frames, out, cfg, overwrite=True)

            t_read = timeit(read_all, repeats=a.repeats)
            t_ing = timeit(run_ingest, repeats=a.repeats)
            file_mb = sum(p.stat().st_size for p in frames.iterdir()) / n / 2**20
            results[fmt] = {"images": n, "size": a.size, "file_mb_per_image": round(file_mb, 3),
                            "read_images_per_s": round(n / t_read["median_s"], 1),
                            "ingest_images_per_s": round(n / t_ing["median_s"], 1),
                            "read": t_read, "ingest": t_ing}
            ratios[f"{fmt}_ingest_over_read"] = round(t_read["median_s"] / t_ing["median_s"], 3)
        raw = load_raw(work / "tiff.raw")

        def read_stream():
            for i in range(raw.n_images):
                raw.image(i)

        t_stream = timeit(read_stream, repeats=a.repeats)
        t0 = time.perf_counter()
        cap_out = work / "c.olat"
        rep = capture(work / "tiff.raw", cap_out, CaptureConfig(), ExecConfig(workers=1, threads=1))
        t_cap = time.perf_counter() - t0
        out_images = rep.plan.n_sets * rep.plan.n_lights
        results["capture"] = {"images": raw.n_images, "sets": int(raw.small("sets_middle").size),
                              "output_sets": rep.plan.n_sets, "output_images": out_images,
                              "output_images_per_s_one_core": round(out_images / t_cap, 2),
                              "cpu_s_per_step": {k: round(v, 2) for k, v in sorted(rep.steps().items())},
                              "read_stream_images_per_s": round(raw.n_images / t_stream["median_s"], 1),
                              "capture_images_per_s_one_core": round(raw.n_images / t_cap, 2),
                              "read_stream": t_stream, "capture_s": round(t_cap, 2)}
        ratios["capture_over_stream_read_one_core"] = round(t_stream["median_s"] / t_cap, 4)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    path = write_results("ingest", method=__doc__.split("Run:")[0].strip(), results=results, ratios=ratios,
                         machine_extra={"loadavg": list(os.getloadavg()), "threads": a.threads})
    print(path)
    for k, v in results.items():
        print(k, {kk: vv for kk, vv in v.items() if not isinstance(vv, dict)})
    print(ratios)


if __name__ == "__main__":
    main()

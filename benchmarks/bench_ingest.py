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
(or of `--stream`, e.g. a simulated face), one worker process, one thread: per core, once with
each chunk compression (`fast`, lz4, the default; `small`, zstd), against two limits measured
in the same run: reading and decoding every image of the stream alone (the issue's I/O limit),
and that plus writing the captured sets' arrays as they are, uncompressed (checksum only),
through the same store (all the I/O a capture cannot avoid: each output set writes 96 float16
RGB images and their confidences, about 17x the bytes of the raw images it consumes at the
paper's 25 fps and 128x at one set per tracking frame, as this recording's schedule asks).
Task CPU seconds per step are recorded (io includes zarr's encoding of the written sets), and
the stored size and single-thread encode and decode speed of each compression on one captured
set (chosen by these numbers). Each timing: one warm-up, median of `--repeats` runs (capture:
one run each after one untimed warm-up capture). Torch and OpenCV are limited to `--threads` (default 2: the 2 cores
of this machine); the machine's load average is recorded beside the numbers.

Run:  python benchmarks/bench_ingest.py [--size 512] [--repeats 3] [--threads 2]
      nervp simulate S.raw --raw --size 512 --frames 2 --performer.seed 7   # a face, then
      python benchmarks/bench_ingest.py --stream S.raw --name ingest_face
Writes benchmarks/results/ingest.json (NAME.json).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numcodecs
import numpy as np
import torch
import zarr
from common import timeit, write_results

from nervp.capture import CaptureConfig, ExecConfig, capture
from nervp.capture.frames import open_frames
from nervp.capture.ingest import IngestConfig, ingest
from nervp.lightstage.schedule import TRACKING, ScheduleConfig, make_schedule
from nervp.store.raw import load_raw
from nervp.store.zstore import compressor, frame_array


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


def codec_table(chunk: np.ndarray) -> dict:
    """Stored/raw size and single-thread encode/decode MB/s of each `Compression` on one chunk."""
    threads = numcodecs.blosc.set_nthreads(1)  # returns the previous setting
    data, mb, out = chunk.tobytes(), chunk.nbytes / 2**20, {}
    for kind in ("small", "fast"):
        c = compressor(kind)[0]
        blosc = numcodecs.Blosc(cname=c.cname.value, clevel=c.clevel, shuffle={"shuffle": 1, "bitshuffle": 2}[c.shuffle.value])
        enc = blosc.encode(data)
        t_enc = timeit(lambda b=blosc: b.encode(data), repeats=3)["median_s"]
        t_dec = timeit(lambda b=blosc, e=enc: b.decode(e), repeats=3)["median_s"]
        out[kind] = {"codec": f"blosc {c.cname.value} {c.clevel} {c.shuffle.value}", "stored_over_raw": round(len(enc) / len(data), 3),
                     "encode_mb_per_s": round(mb / t_enc), "decode_mb_per_s": round(mb / t_dec)}
    numcodecs.blosc.set_nthreads(threads)
    return out


def write_floor(olat_path: Path, work: Path) -> dict:
    """Seconds to write a captured dataset's per-set arrays, as they are, uncompressed (checksum
    only) through the same store: the output I/O no capture can avoid."""
    src = zarr.open_group(str(olat_path), mode="r")
    names = ("olat", "confidence", "full_lit", "tracking")
    data = {k: src[k][...] for k in names}
    dst = work / "floor.zarr"

    def write():
        shutil.rmtree(dst, ignore_errors=True)
        g = zarr.open_group(str(dst), mode="w")
        for k in names:
            arr = frame_array(g, k, data[k].shape, str(data[k].dtype), k, "none")
            for t in range(data[k].shape[0]):
                arr[t] = data[k][t]

    t = timeit(write, repeats=3)
    t["bytes"] = int(sum(v.nbytes for v in data.values()))
    return t


def capture_results(stream: Path, work: Path, repeats: int) -> tuple[dict, dict]:
    """Capture of `stream` per core with each compression, against the stream's read speed
    (the issue's I/O limit) and against reading it plus writing the output (all the I/O)."""
    raw = load_raw(stream)

    def read_stream():
        for i in range(raw.n_images):
            raw.image(i)

    t_stream = timeit(read_stream, repeats=repeats)
    res: dict = {"stream": str(stream) if "bench_ingest_" not in str(stream) else "the TIFF recording, ingested",
                 "images": raw.n_images, "size": raw.height, "read_stream": t_stream,
                 "read_stream_images_per_s": round(raw.n_images / t_stream["median_s"], 1)}
    capture(stream, work / "warmup.olat", CaptureConfig(), ExecConfig(workers=1, threads=1), overwrite=True)
    shutil.rmtree(work / "warmup.olat")  # first-call costs (imports, first page faults) kept out of the timings
    for kind in ("fast", "small"):
        out = work / f"c_{kind}.olat"
        t0 = time.perf_counter()
        rep = capture(stream, out, CaptureConfig(compression=kind), ExecConfig(workers=1, threads=1), overwrite=True)
        t_cap = time.perf_counter() - t0
        stored = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        res[kind] = {"seconds": round(t_cap, 2), "stored_mb": round(stored / 2**20, 1),
                     "capture_images_per_s_one_core": round(raw.n_images / t_cap, 2),
                     "output_images_per_s_one_core": round(rep.plan.n_sets * rep.plan.n_lights / t_cap, 2),
                     "cpu_s_per_step": {k: round(v, 2) for k, v in sorted(rep.steps().items())}}
    res["output_sets"], res["output_images"] = rep.plan.n_sets, rep.plan.n_sets * rep.plan.n_lights
    res["write_output_uncompressed"] = write_floor(work / "c_fast.olat", work)
    g = zarr.open_group(str(work / "c_fast.olat"), mode="r")
    res["compression_of_one_set"] = {k: codec_table(g[k][0]) for k in ("olat", "confidence")}
    io_s = t_stream["median_s"] + res["write_output_uncompressed"]["median_s"]
    res["io_limit_images_per_s"] = round(raw.n_images / io_s, 1)
    best = res["fast"]["seconds"]
    ratios = {"capture_over_stream_read_one_core": round(t_stream["median_s"] / best, 4),
              "capture_over_read_and_write_one_core": round(io_s / best, 4),
              "small_over_fast_seconds": round(res["small"]["seconds"] / best, 3),
              "small_over_fast_bytes": round(res["small"]["stored_mb"] / res["fast"]["stored_mb"], 3)}
    return res, ratios


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--stream", help="capture this raw stream instead of the ingested recording "
                    "(e.g. a simulated face: nervp simulate S.raw --raw --size 512 --frames 2)")
    ap.add_argument("--name", default="ingest", help="results file name (benchmarks/results/NAME.json)")
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
        stream = Path(a.stream) if a.stream else work / "tiff.raw"
        cap, cap_ratios = capture_results(stream, work, a.repeats)
        results["capture"] = cap
        ratios.update(cap_ratios)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    path = write_results(a.name, method=__doc__.split("Run:")[0].strip(), results=results, ratios=ratios,
                         machine_extra={"loadavg": list(os.getloadavg()), "threads": a.threads})
    print(path)
    for k, v in results.items():
        print(k, {kk: vv for kk, vv in v.items() if not isinstance(vv, dict)})
    print(ratios)


if __name__ == "__main__":
    main()

"""`nervp live`: per-stage time per frame, throughput and glass-to-glass latency.

Method. A real talking-head clip (../shared/data/videos/d18.mp4, 480², 30 fps) drives a run
whose translator is built with a preset's network (`tiny`, `default`; olat head, or the
low-rank head with K = 16) at random weights: speed does not depend on the weights. The run
directory (target parameters, camera, dome) is a tiny trained run (`--run`, or one made here:
the tiny virtual stage, 2 steps). For each network and output size:

* stages: the pipeline's stages called in turn on every frame (no threads): parse (MediaPipe
  video mode on the 480² frame, causal One-Euro, the fit, eq. 6) and, synchronised on GPU,
  maps, translate, relight, composite (incl. the sRGB display picture). Median ms per frame
  over the frames after `warmup` (the first frames also fit the source's identity), as wall
  time and as the process's CPU time (`NAME_cpu`: what the stage costs whatever else shares
  the machine). idle_2core_fps_estimate = 1000 / max(parse CPU ms, render CPU ms): the rate of
  the two-stage pipeline with a core per stage on an otherwise idle machine (an estimate from
  CPU times, not a measured rate).
* pipeline, unpaced: the threaded pipeline with the source taken as fast as it goes (nothing
  dropped): throughput = output frames / wall time; latency there includes the time frames
  wait in full queues.
* pipeline, paced at 30 fps (a webcam): frames dropped (%), output fps, glass-to-glass latency
  (source hand-over to the picture reaching the output), mean and p95.
Torch intra-op threads as `nervp live` sets them on the CPU (`--threads`, default 1: the
pipeline's parse and render threads run in parallel, one core each, on the issue's 2 CPU cores;
2 intra-op threads measured 5-10x slower on these shared cores); the 1-minute load
average is recorded, and the CPU seconds this process got per wall second (2.0 = both cores
to itself): this machine may be shared with other jobs, which slows every figure.
No baseline runs here: ratios holds each size's throughput over the 128² one of the same network.

Run:  python benchmarks/bench_live.py [--sizes 128 256] [--nets tiny default] [--frames 40]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import write_results

CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos" / "d18.mp4"


def make_run(base: Path) -> Path:
    from nervp.presets import sim_preset, train_preset
    from nervp.synth.simulate import simulate
    from nervp.train.run import train_run

    olat = simulate(base / "t.olat", sim_preset("tiny"))
    cfg = train_preset("tiny", params="truth", steps=2, ckpt_every=2, device="cpu")
    cfg = dataclasses.replace(cfg, loss=dataclasses.replace(cfg.loss, context=0.0))
    train_run(olat, base / "run", cfg)
    return base / "run"


def with_network(run, net: str, device: str):
    """The loaded run with a freshly initialised translator of the preset `net` (olat head; with a
    `-lowrank` suffix the low-rank head, K = 16)."""
    from nervp.model.translator import Translator
    from nervp.presets import TRAIN_PRESETS

    name, _, head = net.partition("-")
    model_cfg = TRAIN_PRESETS[name].model
    if head == "lowrank":
        model_cfg = dataclasses.replace(model_cfg, head="lowrank", rank=16)
    model_cfg = dataclasses.replace(model_cfg, n_lights=run.cfg.model.n_lights, in_frames=run.cfg.model.in_frames)
    torch.manual_seed(0)
    model = Translator(model_cfg).eval().to(device)
    return dataclasses.replace(run, translator=model, cfg=dataclasses.replace(run.cfg, model=model_cfg))


def stage_times(run, frames: np.ndarray, fps: float, size: int, warmup: int, precision: str) -> dict:
    from nervp.live.engine import LiveRenderer
    from nervp.parse.stream import CausalParser

    r = LiveRenderer(run, size, "studio", "env", precision=precision, timing=True)
    render = ("maps", "translate", "relight", "composite")
    rows: dict[str, list[float]] = {k + c: [] for k in ("parse", *render) for c in ("", "_cpu")}
    with CausalParser(r.stats, frames.shape[2], frames.shape[1], fps) as parser:
        for i, img in enumerate(frames):
            t, c = time.perf_counter(), time.process_time()
            d = parser(img)
            dt, dc = time.perf_counter() - t, time.process_time() - c
            if d is None:
                continue
            out = r.render(d)
            if i >= warmup:
                rows["parse"].append(dt)
                rows["parse_cpu"].append(dc)
                for k, v in out.seconds.items():
                    rows[k].append(v)
    r.close()
    med = {k: 1000 * statistics.median(v) for k, v in rows.items() if v}
    med["render_total"] = sum(med[k] for k in render)
    med["render_total_cpu"] = sum(med[k + "_cpu"] for k in render)
    med["frames_timed"] = len(rows["parse"])
    # two stages on two otherwise idle cores: the slower one's CPU time per frame sets the rate
    med["idle_2core_fps_estimate"] = 1000.0 / max(med["parse_cpu"], med["render_total_cpu"])
    return med


def pipeline(run, clip: Path, size: int, frames: int, paced: bool, precision: str) -> dict:
    from nervp.live import pipeline as pl
    from nervp.live.engine import LiveRenderer
    from nervp.live.sources import VideoSource
    from nervp.parse.stream import CausalParser

    src = VideoSource(clip)
    r = LiveRenderer(run, size, "studio", "env", precision=precision)
    parser = CausalParser(r.stats, src.info.width, src.info.height, src.info.fps)
    rep = pl.run_pipeline(src.frames(), src.info.fps, parser, r, lambda items: [None for _ in items],
                          paced=paced, drop=paced, limit=frames, say=lambda _: None)
    r.close()
    return rep.to_json()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    ap.add_argument("--nets", nargs="+", default=["tiny", "default"])
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=12)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    ap.add_argument("--run", type=Path, default=None)
    ap.add_argument("--out", default="live")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from nervp.device import resolve_device
    from nervp.train.run import load_run
    from nervp.viz.video import read_video

    device = str(resolve_device(args.device))
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run or make_run(Path(tmp))
        base = load_run(run_dir, device)
        clip, fps = read_video(CLIP)
        clip = clip[: args.frames]
        results: dict = {}
        for net in args.nets:
            run = with_network(base, net, device)
            for size in args.sizes:
                key = f"{net}@{size}"
                t0 = time.time()
                c0 = sum(os.times()[:2])
                row = {"stages_ms": stage_times(run, clip, fps, size, args.warmup, args.precision),
                       "pipeline_unpaced": pipeline(run, CLIP, size, args.frames, False, args.precision),
                       "pipeline_paced_30fps": pipeline(run, CLIP, size, args.frames, True, args.precision),
                       "load_avg_1min": os.getloadavg()[0]}
                row["cpu_seconds_per_wall_second"] = (sum(os.times()[:2]) - c0) / max(time.time() - t0, 1e-9)
                results[key] = row
                u, p = row["pipeline_unpaced"], row["pipeline_paced_30fps"]
                print(f"{key}: stages {({k: round(v, 1) for k, v in row['stages_ms'].items()})}; unpaced "
                      f"{u['fps']:.1f} fps; paced 30: {p['fps']:.1f} fps out, dropped {p['dropped']}/"
                      f"{p['frames_in']}, latency {p['latency_ms_mean']:.0f}/{p['latency_ms_p95']:.0f} ms "
                      f"({time.time() - t0:.0f} s)", flush=True)
    ratios = {}
    for net in args.nets:
        ref = results.get(f"{net}@{min(args.sizes)}")
        for size in args.sizes:
            row = results[f"{net}@{size}"]
            if ref and ref["pipeline_unpaced"]["fps"] > 0:
                ratios[f"{net}@{size}_throughput_over_{min(args.sizes)}"] = (
                    row["pipeline_unpaced"]["fps"] / ref["pipeline_unpaced"]["fps"])
    method = __doc__.split("Method.", 1)[1].split("Run:", 1)[0].strip()
    write_results(args.out, method=" ".join(method.split()), results=results, ratios=ratios,
                  machine_extra={"device": device, "precision": args.precision, "threads": args.threads,
                                 "clip": CLIP.name, "frames": args.frames})


if __name__ == "__main__":
    main()

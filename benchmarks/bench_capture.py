"""Capture processing: alignment quality against ground truth, and throughput per core.

Quality (STYLE.md section 9: fixed seeds, written method). Three 256x256 raw streams of the
virtual light stage (96 LEDs, 1000 fps, a tracking frame every 6th image, 3 sets 3 tracking
frames apart; performer seed 31), rendered once by `--render` (STREAMS below): "rom", a
range-of-motion take (head period 1 s: the head turns ~100 deg/s, ~10 px of landmark motion
between a set's middle and its ends); "fast" (head period 0.5 s, ~200 deg/s); "sway" (as
rom, with 6 cm of translation instead of 2.5). Each set is scored against the ground-truth
OLAT set rendered at its middle instant: PSNR in the camera's units (peak = the radiance at
the OLAT white level), inside the face (alpha > 0.5 within the landmarks' convex hull), over
the performer and over the image, each also without the pixels that the truth puts beyond
the white level ("unclipped": specular glints no processing can recover); aligned vs naive
unaligned stacking of the same images vs the sensor floor (the truth re-recorded through the
same Bayer mosaic, noise and 8-bit quantisation, developed the same way, without motion).
Every DIS preset is scored on the first stream. The exact-motion bound warps one set with the
mesh's true motion instead of optical flow, for the recorded images and for noise-free renders
at each image's instant: what any warp can reach. A still performer: the first stream
re-recorded from its first truth set for every image.

Speed. Each size runs the whole `capture` (stream checks, Dask graph, zarr I/O) in one process
with one thread (torch and OpenCV), so the numbers are per core: one warm-up, then the
median of `--repeats` runs. 256^2 is the first stream; 512^2 is the same stream upsampled 2x
(demosaic, bicubic, re-mosaic: real image content at 4x the pixels). Tasks time their own
steps in process CPU seconds (io = zarr read/decode/encode/write including its codec
threads, demosaic = linearise + demosaic (+ 8-bit flow image), flow = DIS both ways +
forward-backward error, chain = flow interpolation and chaining, warp = warp and
confidence), so the cost of one flow pair and one set on a core are known even on a busy
machine. A long stream advances by `stride` tracking frames (6 * stride raw images and
`stride` new flow pairs) per output set, so the steady state per core is
    seconds per set = set task + stride * flow task,  raw images/s = 6 * stride / that,
reported for stride 7 (the paper's 25 fps) and stride 1 (166 sets/s), against the camera's
1000 images/s. The machine is shared: end-to-end wall-clock numbers are recorded too, with
the load average beside them.

Run:  python benchmarks/bench_capture.py --render [--pictures docs/images]
Writes benchmarks/results/capture.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from common import write_results

from nervp.capture import CaptureConfig, ExecConfig, capture
from nervp.capture.align import develop, grid, warp
from nervp.capture.evaluate import (
    psnr,
    region_masks,
    score_capture,
    score_naive,
    stack_masks,
    still_stream,
    truth_report,
)
from nervp.capture.ingest import write_raw_stream
from nervp.imaging.bayer import demosaic_bilinear, mosaic
from nervp.store.olat import load_olat
from nervp.store.raw import load_raw

OUT = Path(__file__).parent / "results" / "capture.json"
ONE_CORE = ExecConfig(workers=1, threads=1)


STREAMS = {  # name: performer seed and performance; each 256^2, 96 LEDs, 3 sets 3 tracking frames apart
    "rom": {"seed": 31, "head_period_s": 1.0, "translation_m": 0.025},   # range of motion, ~100 deg/s
    "fast": {"seed": 31, "head_period_s": 0.5, "translation_m": 0.025},  # ~200 deg/s
    "sway": {"seed": 31, "head_period_s": 1.0, "translation_m": 0.06},   # ~100 deg/s and 6 cm sway
}


def stream_path(name: str) -> Path:
    return Path(f"/tmp/cap256_{name}{STREAMS[name]['seed']}.raw")


def raw_config(name: str, size: int = 256):
    from nervp.lightstage.schedule import ScheduleConfig
    from nervp.presets import RAW_PRESETS
    from nervp.synth.motion import MotionConfig

    p = STREAMS[name]
    base = RAW_PRESETS["default"]
    sim = dataclasses.replace(base.sim, frames=3, size=size,
                              motion=MotionConfig(head_period_s=p["head_period_s"], translation_m=p["translation_m"]),
                              performer=dataclasses.replace(base.sim.performer, seed=p["seed"]))
    return dataclasses.replace(base, sim=sim, schedule=ScheduleConfig(set_stride=3))


def render(name: str) -> None:
    from nervp.synth.raw import simulate_raw

    t = time.perf_counter()
    simulate_raw(stream_path(name), raw_config(name))
    print(f"rendered {stream_path(name)} in {time.perf_counter() - t:.0f} s")


def geometric_bound(name: str, set_index: int = 0) -> dict:
    """What warping can reach at best: every OLAT image of one set warped to the middle instant
    with the exact motion of the mesh (not optical flow), for the recorded images and for
    noise-free renders at each image's own instant. The rest of the error is shading that
    changes as the head turns under fixed LEDs, which no warp undoes."""
    from nervp.render.camera import project
    from nervp.render.rasterize import rasterize
    from nervp.synth.render_olat import render_lights
    from nervp.synth.simulate import make_stage

    raw = load_raw(stream_path(name))
    stage = make_stage(raw_config(name).sim)
    times, gain = raw.small("time"), raw.small("gain")
    mid, src = int(raw.small("sets_middle")[set_index]), raw.small("sets_olat")[set_index]

    def mesh(t: float):
        th, ph = stage.params(np.array([t]))
        return stage.performer.posed(torch.from_numpy(th[0]), torch.from_numpy(ph[0]))

    mc = mesh(times[mid])
    H, W = raw.height, raw.width
    frag = rasterize(project(mc.verts[None], stage.camera), mc.faces, H, W)
    cover, bary = frag.face_idx[0] >= 0, frag.bary[0]
    tri = mc.faces[frag.face_idx[0].clamp(min=0)]

    def where(verts):  # pixel position of every middle-frame surface point
        return (project(verts[None], stage.camera)[0][tri][..., :2] * bary[..., None]).sum(-2)

    p_c = where(mc.verts)
    base = grid(H, W)
    m = raw.manifest
    rec, clean, clean_unwarped = (np.empty((96, H, W, 3), np.float32) for _ in range(3))
    for led, i in enumerate(src):
        mi = mesh(times[i])
        d = torch.where(cover[..., None], where(mi.verts) - p_c, torch.zeros_like(p_c)).numpy().astype(np.float32)
        rec[led] = warp(develop(raw.image(int(i)), raw.bayer, m["black_level"], m["white_level"], float(gain[i])), d, base)
        clean_unwarped[led] = render_lights(mi, stage.camera, stage.light_pos[led:led + 1],
                                            stage.light_rgb[led:led + 1], stage.cfg.quality)[0][0].numpy()
        clean[led] = warp(clean_unwarped[led], d, base)
    fr = raw.truth().frame(set_index)
    masks = stack_masks(region_masks(fr.alpha, fr.landmarks), fr.olat, gain[src])
    peak = 1.0 / float(np.median(gain[src]))
    return {"set": set_index, **{f"{what}_{r}": psnr(x, fr.olat, masks[r], peak)
                                 for what, x in (("recorded_exact_warp", rec), ("noise_free_exact_warp", clean),
                                                 ("noise_free_unwarped", clean_unwarped))
                                 for r in ("face", "face_unclipped")}}


def upsampled(src: Path, dst: Path, factor: int = 2) -> Path:
    """`src` with every Bayer image demosaiced, resized bicubically and re-mosaiced."""
    raw = load_raw(src)

    def images():
        for i in range(raw.n_images):
            rgb = demosaic_bilinear(torch.from_numpy(raw.image(i).astype(np.float32)), raw.bayer).numpy()
            big = cv2.resize(rgb, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
            yield np.clip(np.rint(mosaic(torch.from_numpy(big), raw.bayer).numpy()), 0, 255).astype(np.uint8)

    m = raw.manifest
    return write_raw_stream(dst, images(), raw.small("pattern"), raw.small("time"), raw.small("gain"), raw.dome,
                            bayer=raw.bayer, black_level=m["black_level"], white_level=m["white_level"],
                            fps=m["schedule"]["fps"], sets=(raw.small("sets_middle"), raw.small("sets_olat")))


def quality(stream: Path, tmp: Path, presets: list[str]) -> dict:
    raw = load_raw(stream)
    out: dict = {"stream": str(stream), "size": raw.height, "n_sets": int(raw.manifest["n_sets"]),
                 "seed": raw.manifest.get("performer", {}).get("seed")}
    for k, preset in enumerate(presets):
        ds = capture(stream, tmp / f"q_{preset}.olat", CaptureConfig(flow_preset=preset), ONE_CORE, overwrite=True)
        rep = truth_report(load_olat(ds.out), raw, floors=k == 0)
        if k == 0:
            out.update(rep)
            out["flow_preset"] = preset
        out.setdefault("aligned_by_preset", {})[preset] = rep["aligned"]
        print(f"  {preset}: aligned face {rep['aligned']['face']:.2f} dB, naive {rep['naive']['face']:.2f} dB")
    return out


def still(stream: Path, tmp: Path) -> dict:
    src = load_raw(stream)
    st = load_raw(still_stream(src, tmp / "still.raw"))
    a = load_olat(capture(st.path, tmp / "still_a.olat", CaptureConfig(), ONE_CORE).out)
    n = load_olat(capture(st.path, tmp / "still_n.olat", CaptureConfig(align=False), ONE_CORE).out)
    peak = 1.0 / float(np.median(st.small("gain")[st.small("sets_olat")]))
    everywhere = np.ones((st.height, st.width), bool)
    vs_naive = [psnr(a.read("olat", t), n.read("olat", t), everywhere, peak) for t in range(a.n_frames)]
    sa, sn = score_capture(a, st), score_naive(a, st)
    rep = truth_report(a, st)
    return {"aligned_vs_unaligned_image_psnr": float(np.mean(vs_naive)),
            "aligned": sa.mean(), "naive": sn.mean(), "sensor_floor": rep["sensor_floor"],
            "demosaic_floor": rep["demosaic_floor"]}


def speed(stream: Path, repeats: int, tmp: Path) -> dict:
    runs = []
    for r in range(repeats + 1):
        rep = capture(stream, tmp / "speed.olat", CaptureConfig(), ONE_CORE, overwrite=True)
        if r:  # run 0 is the warm-up
            runs.append(rep)
    med = statistics.median
    flow = {k: med(r.split["flow"].get(k, 0.0) / r.flows_run for r in runs) for k in runs[0].split["flow"]}
    st = {k: med(r.split["set"].get(k, 0.0) / r.sets_run for r in runs) for k in runs[0].split["set"]}
    plan = runs[0].plan
    wall = med(r.seconds for r in runs)
    c_flow, c_set = sum(flow.values()), sum(st.values())
    out = {"size": plan.height, "n_sets": plan.n_sets, "n_raw_images": plan.n_images, "n_flow_pairs": plan.n_pairs,
           "end_to_end": {"seconds": wall, "sets_per_s": plan.n_sets / wall, "raw_images_per_s": plan.n_images / wall},
           "flow_task_s": flow, "set_task_s": st, "steady_state": {}}
    te = 6
    for stride in (7, 1):
        per_set = c_set + stride * c_flow
        split = {"demosaic": st.get("demosaic", 0) + stride * flow.get("demosaic", 0),
                 "flow": stride * flow.get("flow", 0), "warp": st.get("warp", 0) + st.get("chain", 0),
                 "io": st.get("io", 0) + stride * flow.get("io", 0)}
        ips = te * stride / per_set
        out["steady_state"][f"stride_{stride}"] = {
            "output_fps": 1000 / (te * stride), "sets_per_s_per_core": 1 / per_set, "raw_images_per_s_per_core": ips,
            "seconds_per_set": per_set, "split_s_per_set": split,
            "split_fraction": {k: v / per_set for k, v in split.items()},
            "cores_for_camera_rate": 1000 / ips}
    return out


def machine_extra() -> dict:
    """Run facts added to the shared machine record: library versions, commit, load average."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                                cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    import dask
    import zarr

    return {"opencv": cv2.__version__, "numpy": np.__version__, "zarr": zarr.__version__, "dask": dask.__version__,
            "git_commit": commit, "load_average_1m_at_start": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--render", action="store_true", help="render the missing streams (~20 CPU-minutes each)")
    ap.add_argument("--streams", nargs="+", default=list(STREAMS), choices=list(STREAMS))
    ap.add_argument("--presets", nargs="+", default=["medium", "fast", "ultrafast"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--no-bound", action="store_true", help="skip the exact-motion bound (~3 CPU-minutes)")
    ap.add_argument("--pictures", type=Path, default=None, help="also write pictures to this folder")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    for name in args.streams:
        if not (stream_path(name) / "manifest.json").is_file():
            if not args.render:
                raise SystemExit(f"{stream_path(name)} is missing: run with --render first")
            render(name)
    head = stream_path(args.streams[0])
    extra = machine_extra()
    result = {"streams": {k: STREAMS[k] for k in args.streams}}
    with tempfile.TemporaryDirectory(prefix="bench_capture_") as td:
        tmp = Path(td)
        result["quality"] = {}
        for k, name in enumerate(args.streams):
            print("quality", name)
            result["quality"][name] = quality(stream_path(name), tmp, args.presets if k == 0 else args.presets[:1])
            if not args.no_bound:
                result["quality"][name]["exact_motion_bound"] = geometric_bound(name)
                print("  bound", result["quality"][name]["exact_motion_bound"])
        print("still performer")
        result["still"] = still(head, tmp)
        result["speed"] = {}
        for size in args.sizes:
            factor = size // load_raw(head).height
            src = head if factor == 1 else upsampled(head, tmp / f"up{size}.raw", factor)
            print("speed", size)
            result["speed"][str(size)] = speed(src, args.repeats, tmp)
            if factor != 1:
                shutil.rmtree(src)
        if args.pictures:
            from capture_pictures import alignment_picture, schedule_picture

            alignment_picture(stream_path(args.streams[-1]), tmp, args.pictures / "capture_alignment.png")
            schedule_picture(args.pictures / "capture_schedule.png")
    extra["load_average_1m_at_end"] = os.getloadavg()[0]
    ratios = {"gain_over_naive_db": {name: q.pop("gain_over_naive") for name, q in result["quality"].items()}}
    write_results(args.out, method=__doc__, results=result, ratios=ratios, machine_extra=extra)
    for name, q in result["quality"].items():
        print(f"{name}: face aligned {q['aligned']['face']:.2f} naive {q['naive']['face']:.2f} "
              f"floor {q['sensor_floor']['face']:.2f} | unclipped aligned {q['aligned']['face_unclipped']:.2f} "
              f"naive {q['naive']['face_unclipped']:.2f} floor {q['sensor_floor']['face_unclipped']:.2f}")
    st = result["still"]
    print(f"still: aligned vs unaligned {st['aligned_vs_unaligned_image_psnr']:.2f} dB; face aligned "
          f"{st['aligned']['face']:.2f} naive {st['naive']['face']:.2f} floor {st['sensor_floor']['face']:.2f}")
    for size, sp in result["speed"].items():
        for k, v in sp["steady_state"].items():
            print(f"{size}^2 {k}: {v['sets_per_s_per_core']:.3f} sets/s/core, {v['raw_images_per_s_per_core']:.1f} "
                  f"images/s/core, {v['cores_for_camera_rate']:.1f} cores for 1000 images/s; split "
                  + ", ".join(f"{a} {b:.0%}" for a, b in v["split_fraction"].items()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

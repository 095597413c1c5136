"""Relighting and compositing: speed, accuracy against ground truth, matting, real maps, playback.

Sections (run any subset; results are merged into benchmarks/results/relight.json):

* speed     relit frames per second at 512^2 and 1024^2 for 96 OLAT images and for a rank-16
            field, and the bandwidth the relight achieves (bytes of images it must read / time)
            as a fraction of a plain copy of the same array measured in the same run
            (copy "bandwidth" = array bytes / copy time, i.e. its read rate). Frames are taken in
            turn from a ring larger than twice the last-level cache, as when relighting a video,
            so both stream from memory. Warm-up, then the median of 9; CPU load average recorded
            (the machine may be shared). On CPU each case runs through the compiled float16
            kernel and through the torch path.
* truth     a 256^2 virtual-stage frame relit under smooth and non-smooth environments against
            the stage's direct render under the same environment (`n_dirs` point lights at
            50 m: the environment at infinity) and at 1.3 m (the same lights at the dome's
            radius: isolates the 96-LED sampling error from the near-field error). PSNR with
            peak = max of the truth, whole frame and performer-only.
* matting   SAD (/1000) and MSE of alpha against the true alpha on the same frame, for
            SelfieSegmentation alone, refined without rim light (guide = the frame), and with
            the rim-lit rendering; whole frame, edge band (4 px) and hair band (edge band above
            the forehead landmark), under lightings that leave parts of the silhouette dark.
* envmaps   every map in ../shared/data/envmaps: loads, LED weights, relights the frame.
* playback  the frame written by `nervp relight` as MP4 and as PNGs; the decoded MP4 against
            the PNGs (PSNR, 8-bit).
* pictures  (not in the default set) docs/images/relight_gallery.png, relight_spin.png and
            relight_matting.png from the same frame.

Run:  python benchmarks/bench_relight.py [--sections speed truth matting envmaps playback] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import write_results

OUT = Path(__file__).parent / "results" / "relight.json"
ENVMAPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "envmaps"


METHOD = ("Sections as in bench_relight.py's docstring; each section under results has its own `method` and "
          "`ran` (date, 1-min load average: the machine may be shared). Speed: warm-up, then the median of 9 "
          "interleaved (copy, relight) pairs, synchronised on GPU. ratios.speed_fraction_of_copy: the relight's "
          "read rate over a plain copy of the same bytes in the same run (the memory-bandwidth limit); the "
          "other sections compare with ground truth (PSNR, SAD) inside results and have no ratio.")


def speed_ratios(speed: dict) -> dict:
    """Move each speed row's fraction_of_copy* (relight read rate / copy read rate) into the ratios."""
    keys = ("fraction_of_copy", "fraction_of_copy_best")
    return {"speed_fraction_of_copy": [{"path": r["path"], "size": r["size"], "field": r["field"],
                                        **{k: r.pop(k) for k in keys if k in r}} for r in speed["rows"]]}


def median_time(fn, device: torch.device, repeat: int = 5) -> float:
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()
    sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def last_level_cache_bytes() -> int:
    """Size of the largest CPU cache (Linux sysfs); 256 MiB when it cannot be read."""
    sizes = []
    for f in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = f.read_text().strip()
        mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        sizes.append(int(text.rstrip("KMG")) * mult)
    return max(sizes, default=256 << 20)


def _speed_case(size: int, n: int, device: torch.device, g: torch.Generator, repeat: int = 9) -> dict:
    from nervp.relight import relight
    from nervp.structures.field import ReflectanceField

    nbytes = n * size * size * 3 * 2
    # a ring of distinct frames larger than twice the last-level cache, as when relighting a
    # video: both the relight and the copy then stream from memory, not from cache
    ring = 1 if device.type == "cuda" else max(1, -(-2 * last_level_cache_bytes() // nbytes))
    frames = [(torch.rand(1, n, size, size, 3, generator=g) * 0.5).half().to(device) for _ in range(ring)]
    coeffs = None if n == 96 else torch.rand(n, 96, generator=g).to(device)
    fields = [ReflectanceField(f, coeffs) for f in frames]
    w = torch.rand(96, 3, generator=g)
    dst = torch.empty_like(frames[0])
    out = torch.empty(1, size, size, 3, device=device)  # preallocated, like the copy's destination
    for f in fields:
        relight(f, w, out=out)
    def timed(fn) -> float:  # no warm-up call here: it would bring the frame into cache
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - t0

    t_copy, t_rel = [], []
    for i in range(max(repeat, 3 * ring)):  # interleaved, so both see the same machine load
        src, fld = frames[i % ring], fields[(i + 1 + ring // 2) % ring]
        t_copy.append(timed(lambda src=src: dst.copy_(src)))
        t_rel.append(timed(lambda fld=fld: relight(fld, w, out=out)))
    tc, tr = statistics.median(t_copy), statistics.median(t_rel)
    return {"size": size, "field": "olat" if n == 96 else f"rank{n}", "images": n, "bytes_read": nbytes,
            "frames_in_ring": ring, "relight_s": tr, "fps": 1 / tr, "relight_GBps": nbytes / tr / 1e9,
            "copy_s": tc, "copy_GBps": nbytes / tc / 1e9, "fraction_of_copy": tc / tr,
            "relight_best_s": min(t_rel), "copy_best_s": min(t_copy),
            "fraction_of_copy_best": min(t_copy) / min(t_rel)}


def bench_speed(device: torch.device, sizes: list[int]) -> dict:
    """Each case through the kernel `relight` picks (the compiled float16 kernel where it builds)
    and again through the torch path (NERVP_NATIVE=0), so the two compare in one run."""
    from nervp.relight import native

    paths = ["native", "torch"] if device.type == "cpu" else ["torch"]
    rows, kernel = [], native.status() if device.type == "cpu" else "torch (GPU)"
    saved = os.environ.pop("NERVP_NATIVE", None)
    for size in sizes:
        for n in (96, 16):
            for path in paths:
                os.environ["NERVP_NATIVE"] = "0" if path == "torch" else saved or "1"
                native.reset()
                if path == "native" and native.kernel() is None:
                    continue
                r = {"path": path, **_speed_case(size, n, device, torch.Generator().manual_seed(size + n))}
                rows.append(r)
                print(f"speed {size}^2 {r['field']:7s} {path:6s}: {r['fps']:7.2f} fps, {r['relight_GBps']:5.2f} GB/s = "
                      f"{r['fraction_of_copy']:.2f} of copy ({r['copy_GBps']:.2f} GB/s); best-of: "
                      f"{r['fraction_of_copy_best']:.2f}")
    os.environ.pop("NERVP_NATIVE")
    if saved is not None:
        os.environ["NERVP_NATIVE"] = saved
    native.reset()
    return {"device": str(device), "kernel": kernel, "rows": rows,
            "method": "1 frame per call, taken in turn from a ring of distinct frames larger than twice "
                      "the last-level cache (frames_in_ring; 1 on GPU), so both stream from memory; "
                      "warm-up, then 9 interleaved (copy, relight) pairs; "
                      "fraction_of_copy = median copy time / median relight time for the same bytes "
                      "(fraction_of_copy_best: the same with minima, less sensitive to a shared CPU); "
                      "path: native = the compiled float16 kernel (`kernel` says which build), "
                      "torch = the same call with NERVP_NATIVE=0"}


def capture(size: int):
    from nervp.presets import sim_preset
    from nervp.synth.simulate import make_stage

    cfg = sim_preset("default", size=size, frames=1)
    stage = make_stage(cfg)
    t0 = time.perf_counter()
    frame = stage.capture(0.0)
    print(f"captured a {size}^2 frame in {time.perf_counter() - t0:.0f} s")
    return stage, frame


def psnr99(x: torch.Tensor, ref: torch.Tensor, mask: torch.Tensor) -> float:
    """PSNR over the whole frame with peak = the 99th percentile of the truth's performer
    pixels (max over channels): not set by one specular glint."""
    peak = float(ref[mask].max(-1).values.quantile(0.99))
    mse = float(((x - ref) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(peak * peak / mse)


def rel_rmse(x: torch.Tensor, ref: torch.Tensor, mask: torch.Tensor) -> float:
    """RMS error over the performer divided by the truth's mean there (scale-free)."""
    return float(((x - ref)[mask] ** 2).mean().sqrt() / ref[mask].mean())


def bench_truth(stage, frame, n_dirs: int, quick: bool) -> dict:
    from nervp.relight import (
        env_weights,
        led_calibration,
        load_envmap,
        overcast_env,
        relight,
        sky_env,
        studio_env,
        uniform_env,
    )
    from nervp.relight.groundtruth import psnr, render_under_env
    from nervp.structures.field import ReflectanceField

    field = ReflectanceField(torch.from_numpy(frame.olat).half()[None])
    cal = led_calibration(stage.dome, stage.cfg.exposure)
    mask = torch.from_numpy(frame.alpha) > 0
    envs = [("uniform", uniform_env(), True), ("overcast", overcast_env(), True),
            ("clear sky (no sun disc)", sky_env(sun_irradiance=0.0), True)]
    if not quick:
        envs += [("sky with sun", sky_env(), False), ("studio softboxes", studio_env(), False)]
        real = ENVMAPS / "st_fagans_interior_1k.hdr"
        if real.is_file():
            envs.append(("st_fagans_interior (real)", load_envmap(real), False))
    rows = []
    for name, env, smooth in envs:
        rel = relight(field, env_weights(env, stage.dome, cal))[0]
        row = {"environment": name, "smooth": smooth, "n_dirs": n_dirs}
        t0 = time.perf_counter()
        far = render_under_env(stage, frame.time, env, n_dirs, 50.0)
        row.update(psnr_far=psnr(rel, far), psnr_far_performer=psnr(rel, far, mask),
                   psnr99_far=psnr99(rel, far, mask), rel_rmse_far=rel_rmse(rel, far, mask),
                   mean_ratio=float(rel[mask].mean() / far[mask].mean()), truth_peak=float(far.max()),
                   truth_p99=float(far[mask].max(-1).values.quantile(0.99)))
        if smooth:
            near = render_under_env(stage, frame.time, env, n_dirs, stage.dome.radius)
            row.update(psnr_near=psnr(rel, near), psnr_near_performer=psnr(rel, near, mask),
                       psnr99_near=psnr99(rel, near, mask), rel_rmse_near=rel_rmse(rel, near, mask),
                       psnr_near_vs_far=psnr(near, far))
        row["render_s"] = time.perf_counter() - t0
        rows.append(row)
        print("truth", {k: (round(v, 2) if isinstance(v, float) else v) for k, v in row.items()})
    return {"size": stage.cfg.size, "rows": rows,
            "method": "psnr*: peak = max of the truth image (whole frame, or performer pixels only); "
                      "psnr99*: peak = 99th percentile of the truth's performer pixels, whole frame; "
                      "rel_rmse*: RMS error over the performer / mean truth there; far = environment at "
                      "infinity (50 m), near = the same lights at 1.3 m; performer = pixels with alpha > 0"}


def bench_matting(stage, frame) -> dict:
    from nervp.composite.matte import (
        SelfieMatter,
        edge_region,
        estimate_matte,
        matte_errors,
        rim_weights,
    )
    from nervp.relight import (
        LOOKS,
        Look,
        led_calibration,
        light,
        load_envmap,
        overcast_env,
        relight,
        weights_for,
    )
    from nervp.structures.field import ReflectanceField

    field = ReflectanceField(torch.from_numpy(frame.olat).half()[None])
    cal = led_calibration(stage.dome, stage.cfg.exposure)
    truth = torch.from_numpy(frame.alpha)
    edge = edge_region(truth, 4)
    hair = edge.clone()
    hair[int(frame.landmarks[10, 1]):] = False  # above the forehead-top landmark
    rim = relight(field, rim_weights(stage.dome, cal, stage.camera.center[0].double().numpy()))[0]
    lightings = [("hard", LOOKS["hard"]), ("rembrandt", LOOKS["rembrandt"]),
                 ("side key (-90 deg)", Look("side", (light(-90, 0, 1.5, 0.3),))),
                 ("under light", Look("under", (light(0, -40, 1.5, 0.3),))),
                 ("overcast", overcast_env())]
    night = ENVMAPS / "dikhololo_night_1k.hdr"
    if night.is_file():
        lightings.append(("dikhololo_night (real)", load_envmap(night)))
    rows = []
    with SelfieMatter() as matter:
        for name, lt in lightings:
            img = relight(field, weights_for(lt, stage.dome, cal))[0]
            alphas = {"selfie": estimate_matte(img, "selfie", matter),
                      "refined, no rim": estimate_matte(img, "guided", matter),
                      "refined, rim-lit": estimate_matte(img, "rim", matter, rim)}
            for method, a in alphas.items():
                row = {"lighting": name, "method": method}
                for region_name, region in (("all", None), ("edge", edge), ("hair", hair)):
                    e = matte_errors(a, truth, region)
                    row[f"sad_{region_name}"], row[f"mse_{region_name}"] = e["sad"], e["mse"]
                rows.append(row)
                print(f"matting {name:24s} {method:17s} SAD {row['sad_all']:.3f} MSE {row['mse_all']:.5f} | "
                      f"edge {row['sad_edge']:.3f} {row['mse_edge']:.4f} | hair {row['sad_hair']:.3f} "
                      f"{row['mse_hair']:.4f}")
    return {"size": stage.cfg.size, "rows": rows, "edge_band_px": 4,
            "hair_band": "edge band above the forehead-top landmark (MediaPipe index 10)",
            "method": "one frame, MatteConfig defaults; SAD = sum |alpha - truth| / 1000; MSE = mean "
                      "squared error over the region"}


def bench_envmaps(stage, frame) -> dict:
    from nervp.relight import env_weights, led_calibration, load_envmap, relight
    from nervp.structures.field import ReflectanceField

    field = ReflectanceField(torch.from_numpy(frame.olat).half()[None])
    cal = led_calibration(stage.dome, stage.cfg.exposure)
    rows = []
    for p in sorted(ENVMAPS.glob("*.hdr")) + sorted(ENVMAPS.glob("*.exr")):
        t0 = time.perf_counter()
        env = load_envmap(p)
        t1 = time.perf_counter()
        w = env_weights(env, stage.dome, cal)
        t2 = time.perf_counter()
        img = relight(field, w)
        rows.append({"map": p.name, "size": [env.width, env.height], "load_s": t1 - t0, "weights_s": t2 - t1,
                     "finite": bool(torch.isfinite(img).all()), "relit_max": float(img.max()),
                     "relit_mean_performer": float(img[0][torch.from_numpy(frame.alpha) > 0].mean())})
        print("envmap", rows[-1])
    return {"rows": rows, "found": len(rows)}


def bench_playback(stage, frame) -> dict:
    from PIL import Image

    from nervp.cli import main
    from nervp.composite.output import OutputSpec
    from nervp.store.olat import write_olat_dataset
    from nervp.synth.simulate import stage_manifest
    from nervp.viz.video import read_video

    rows = []
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        man = {**stage_manifest(stage), "exposure": stage.cfg.exposure}
        write_olat_dataset(d / "s.olat", iter([frame]), 1, man, stage.dome)
        for light in ("overcast", "sky", "cyberpunk"):
            args = ["--light", light, "--spin", "--frames", "8", "--hold", "0", "--no-strip"]
            assert main(["relight", str(d / "s.olat"), str(d / "c.mp4"), *args, "--overwrite"]) == 0
            assert main(["relight", str(d / "s.olat"), str(d / "p.png"), *args, "--overwrite"]) == 0
            video, _ = read_video(d / "c.mp4")
            spec = OutputSpec(d / "p.png", "png")
            pngs = np.stack([np.asarray(Image.open(spec.frame_path(i))) for i in range(len(video))])
            mse = float(((video.astype(np.float64) - pngs) ** 2).mean())
            rows.append({"light": light, "frames": len(video), "size": list(video.shape[1:3]),
                         "psnr_db": 10 * math.log10(255 ** 2 / mse)})
            print("playback", rows[-1])
    return {"rows": rows, "method": "nervp relight to MP4 (crf 18) and to PNG; decoded MP4 vs PNGs, 8-bit PSNR"}


def _tile(stage, frame, lighting, label_text: str, alpha=None, background=None) -> np.ndarray:
    """One labelled picture: the frame relit by `lighting` over its own background."""
    from nervp.colour import metered_exposure, to_display
    from nervp.composite.background import env_view
    from nervp.composite.matte import composite
    from nervp.relight import (
        background_env,
        led_calibration,
        relight,
        weights_for,
    )
    from nervp.structures.field import ReflectanceField
    from nervp.viz.images import label

    field = ReflectanceField(torch.from_numpy(frame.olat).half()[None])
    cal = led_calibration(stage.dome, stage.cfg.exposure)
    img = relight(field, weights_for(lighting, stage.dome, cal))[0]
    a = torch.from_numpy(frame.alpha) if alpha is None else alpha
    if background is None:
        env = background_env(lighting)
        cam = stage.camera
        background = env_view(env, cam.K[0].double().numpy(), cam.R[0].double().numpy(), *img.shape[:2])
    out = composite(img, a, background, premultiplied=alpha is None)
    ex = metered_exposure(img, a)
    return label(to_display(out, ex).numpy(), label_text)


def make_pictures(stage, frame, out_dir: Path) -> list[str]:
    """docs/images: the frame under every map and look (with its environment as background),
    a spinning map, and the matting comparison."""
    from nervp.composite.matte import SelfieMatter, estimate_matte, rim_weights
    from nervp.relight import (
        LOOKS,
        PROCEDURAL,
        Look,
        led_calibration,
        light,
        load_envmap,
        relight,
        weights_for,
    )
    from nervp.structures.field import ReflectanceField
    from nervp.viz.images import grid, label, save_png

    out_dir.mkdir(parents=True, exist_ok=True)
    tiles = []
    for p in sorted(ENVMAPS.glob("*.hdr")):
        tiles.append(_tile(stage, frame, load_envmap(p), p.stem.replace("_1k", "")))
    for name, make in PROCEDURAL.items():
        tiles.append(_tile(stage, frame, make(), name + " (procedural)"))
    for name, look in LOOKS.items():
        tiles.append(_tile(stage, frame, look, name + " (look)"))
    written = []
    save_png(out_dir / "relight_gallery.png", grid(tiles, 6))
    written.append(str(out_dir / "relight_gallery.png"))
    spin_map = ENVMAPS / "venice_sunset_1k.hdr"
    env = load_envmap(spin_map) if spin_map.is_file() else PROCEDURAL["sky"]()
    spin = [_tile(stage, frame, env.rotated_y(a), f"{env.name} {a:+d} deg") for a in range(0, 360, 60)]
    save_png(out_dir / "relight_spin.png", grid(spin, 6))
    written.append(str(out_dir / "relight_spin.png"))
    # matting: a side key leaves half the silhouette as black as the backdrop
    field = ReflectanceField(torch.from_numpy(frame.olat).half()[None])
    cal = led_calibration(stage.dome, stage.cfg.exposure)
    side = Look("side key", (light(-90, 0, 1.5, 0.3),))
    img = relight(field, weights_for(side, stage.dome, cal))[0]
    rim = relight(field, rim_weights(stage.dome, cal, stage.camera.center[0].double().numpy()))[0]
    truth = torch.from_numpy(frame.alpha)
    with SelfieMatter() as m:
        mattes = {"SelfieSegmentation": estimate_matte(img, "selfie", m),
                  "refined, no rim": estimate_matte(img, "guided", m),
                  "refined, rim-lit": estimate_matte(img, "rim", m, rim)}
    from nervp.colour import metered_exposure, to_display
    from nervp.composite.matte import rim_balance

    ex = metered_exposure(img)

    def grey(a: torch.Tensor, text: str) -> np.ndarray:
        return label((a.clamp(0, 1)[..., None].expand(-1, -1, 3) * 255).to(torch.uint8).numpy(), text)

    inputs = [label(to_display(img, ex).numpy(), "side key: the frame"),
              label(to_display(rim_balance(img, rim), ex).numpy(), "frame + rim light (guide)"),
              grey(truth, "true alpha")]
    rows = [grey(a, n) for n, a in mattes.items()]
    rows += [grey((a - truth).abs() * 4, f"|error| x4 ({n.split(',')[-1].strip()})") for n, a in mattes.items()]
    white = torch.ones_like(img) * 0.9 / ex
    rows += [_tile(stage, frame, side, f"over white: {n}", alpha=a, background=white) for n, a in mattes.items()]
    save_png(out_dir / "relight_matting.png", grid(inputs + rows, 3))
    written.append(str(out_dir / "relight_matting.png"))
    return written


def _stamp(section: dict) -> dict:
    """Record when a section ran and how busy the (possibly shared) machine was."""
    section["ran"] = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "load_average_1min": os.getloadavg()[0]}
    return section


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sections", nargs="+", default=["speed", "truth", "matting", "envmaps", "playback"],
                    help="also: pictures (writes docs/images/relight_*.png)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--size", type=int, default=256, help="frame size for truth/matting/playback")
    ap.add_argument("--n-dirs", type=int, default=400, help="point lights standing for the environment")
    ap.add_argument("--quick", action="store_true", help="small sizes, fewer environments; writes nothing")
    args = ap.parse_args()
    device = torch.device(args.device)
    old = json.loads(OUT.read_text()) if OUT.is_file() else {}
    results, ratios = old.get("results", {}), old.get("ratios", {})
    if "speed" in args.sections:
        results["speed"] = _stamp(bench_speed(device, [128, 256] if args.quick else [512, 1024]))
        ratios.update(speed_ratios(results["speed"]))
    needs_frame = {"truth", "matting", "envmaps", "playback", "pictures"} & set(args.sections)
    if needs_frame:
        stage, frame = capture(64 if args.quick else args.size)
        if "truth" in args.sections:
            results["truth"] = _stamp(bench_truth(stage, frame, 120 if args.quick else args.n_dirs, args.quick))
        if "matting" in args.sections:
            results["matting"] = _stamp(bench_matting(stage, frame))
        if "envmaps" in args.sections and ENVMAPS.is_dir():
            results["envmaps"] = _stamp(bench_envmaps(stage, frame))
        if "playback" in args.sections:
            results["playback"] = _stamp(bench_playback(stage, frame))
        if "pictures" in args.sections:
            print("pictures:", make_pictures(stage, frame, Path(__file__).parents[1] / "docs" / "images"))
    if not args.quick:
        write_results(OUT, method=METHOD, results=results, ratios=ratios,
                      machine_extra={"load_average_1min": os.getloadavg()[0]})
        print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

"""Lighting estimation quality (docs/ESTIMATE.md): held-out virtual performers under held-out
real HDR maps (and, as a second table, procedural lighting and looks), the learned estimator
against the order-2 SH baseline; and the real-photo checks (mirror, exposure) on frames of
../shared's clips.

    bash scripts/fetch_eval_maps.sh out/eval_maps
    python benchmarks/eval_estimate.py --maps out/eval_maps --clips ../shared/data/videos

A case: the performer's true OLAT set (256²) relit by the map (turned by a yaw) is composited
over the map's own view through the stage camera, exposed so the face's 99th-percentile
luminance is 0.9, written as an 8-bit sRGB photo and estimated. Its estimated weights (divided
by that exposure) and the true weights relight the same OLAT set; the two images are compared.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_results  # noqa: E402

from nervp.colour import srgb_decode, srgb_encode  # noqa: E402
from nervp.estimate.core import EstimateConfig, estimate_light, summarise, track_landmarks  # noqa: E402
from nervp.estimate.photo import Plate  # noqa: E402
from nervp.lightstage import DomeConfig, build_dome  # noqa: E402
from nervp.relight.envmap import EnvMap  # noqa: E402
from nervp.relight.weights import led_calibration  # noqa: E402

GAIN = 2.2
HELD_OUT = tuple(range(900, 906))
YAWS = (0, 135)
"""Performer seeds never used in training (training uses 100..259)."""


def render_held_out(path: Path, size: int) -> dict:
    if path.is_file():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    from nervp.synth.performer import PerformerConfig
    from nervp.synth.simulate import SimConfig, make_stage

    olat, alpha, K, R = [], [], None, None
    for s in HELD_OUT:
        stage = make_stage(SimConfig(size=size, frames=100, performer=PerformerConfig(seed=s)))
        f = stage.capture(1.3)
        olat.append(f.olat.astype(np.float16))
        alpha.append(f.alpha.astype(np.float16))
        K, R = stage.camera.K[0].numpy(), stage.camera.R[0].numpy()
        print(f"rendered performer {s}", flush=True)
    out = {"olat": np.stack(olat), "alpha": np.stack(alpha), "K": K, "R": R}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return out


def relight(olat: torch.Tensor, w: np.ndarray) -> np.ndarray:
    return torch.einsum("lc,lhwc->hwc", torch.as_tensor(w, dtype=torch.float32), olat).numpy()


def photo_of(lin: np.ndarray, alpha: np.ndarray, bg: np.ndarray | None, name: str) -> tuple[Plate, float]:
    lum = lin @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    e = 0.9 / max(float(np.percentile(lum[alpha > 0.5], 99)), 1e-9)
    x = lin if bg is None else lin + (1 - alpha[..., None]) * bg
    p8 = np.round(srgb_encode(np.clip(x * e, 0, 1)) * 255).astype(np.uint8)
    lut = srgb_decode(np.arange(256) / 255.0).astype(np.float32)
    return Plate(lut[p8][None], p8[None], float(lut[250]), "photo", None, name), e


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    from pytorch_msssim import ssim as _ssim

    t = [torch.from_numpy(np.clip(x, 0, 1)).permute(2, 0, 1)[None].float() for x in (a, b)]
    return float(_ssim(t[0], t[1], data_range=1.0))


def angle(a: np.ndarray, b: np.ndarray) -> float:
    c = float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def score(olat, alpha, w_true, est_w, e, dome, cal) -> dict:
    w_est = est_w / e
    I0, I1 = relight(olat, w_true) * e, relight(olat, w_est) * e
    m = alpha > 0.5
    mse = float(((I0 - I1)[m] ** 2).mean())
    g = float((I0[m] * I1[m]).sum() / max((I1[m] ** 2).sum(), 1e-12))  # the best single exposure
    mse_g = float(((I0 - g * I1)[m] ** 2).mean())
    d0, a0 = summarise(w_true[None].astype(np.float64), dome, cal)
    d1, a1 = summarise(w_est[None].astype(np.float64), dome, cal)
    return {"psnr": -10 * math.log10(max(mse, 1e-12)), "psnr_exposure_matched": -10 * math.log10(max(mse_g, 1e-12)),
            "exposure_ratio": 1.0 / max(g, 1e-12), "ssim": ssim(I0, I1), "dir_err": angle(d0[0], d1[0]),
            "ambient_chroma_err": angle(a0[0], a1[0]),
            "ambient_rel_err": float(np.linalg.norm(a1[0] - a0[0]) / max(np.linalg.norm(a0[0]), 1e-12))}


def table(rows: list[dict]) -> dict:
    out = {"cases": len(rows)}
    for k in ("psnr", "psnr_exposure_matched", "exposure_ratio", "ssim", "dir_err", "ambient_chroma_err",
              "ambient_rel_err"):
        v = np.array([r[k] for r in rows])
        out[k] = {"median": round(float(np.median(v)), 4), "p90": round(float(np.percentile(v, 90)), 4),
                  "mean": round(float(v.mean()), 4)}
    return out


def lightings(maps_dir: Path | None, procedural: bool) -> list[tuple[str, object]]:
    from nervp.imaging.hdrio import read_exr, read_hdr
    from nervp.relight.looks import LOOKS
    from nervp.relight.procedural import overcast_env, sky_env, studio_env, sunset_env

    if not procedural:
        out = []
        for p in sorted(maps_dir.glob("*")):
            if p.suffix.lower() not in (".exr", ".hdr"):
                continue
            rgb = np.clip(np.nan_to_num((read_exr if p.suffix.lower() == ".exr" else read_hdr)(p)), 0, None)
            env = EnvMap(rgb.astype(np.float32), name=p.stem)
            out += [(f"{p.stem}@{yaw}", env.rotated_y(yaw)) for yaw in YAWS]
        return out
    return [("sky-a", sky_env(-50, 30)), ("sky-b", sky_env(100, 60, 4, 2)), ("sunset", sunset_env()),
            ("overcast", overcast_env()), ("studio", studio_env()),
            *[(f"look-{k}", LOOKS[k]) for k in list(LOOKS)[:3]]]


def synthetic(data: dict, light_list, dome, cal, methods) -> dict[str, list[dict]]:
    from nervp.composite.background import env_view
    from nervp.relight.lighting import background_env, weights_for

    rows: dict[str, list[dict]] = {m: [] for m in methods}
    for name, lt in light_list:
        w_true = weights_for(lt, dome, cal)
        bg_env = background_env(lt)
        bg = env_view(bg_env, data["K"], data["R"], data["olat"].shape[2], data["olat"].shape[3]).numpy()
        for p in range(len(data["olat"])):
            olat = torch.from_numpy(data["olat"][p].astype(np.float32))
            alpha = data["alpha"][p].astype(np.float32)
            plate, e = photo_of(relight(olat, w_true), alpha, bg, f"{name}/{p}")
            try:
                lm = track_landmarks(plate)
            except Exception as ex:  # a face the tracker misses is a failed case, counted
                print(f"{name} performer {p}: {ex}", flush=True)
                continue
            for m in methods:
                try:
                    est = estimate_light(plate, EstimateConfig(method=m), dome, landmarks=lm)
                except Exception as ex:  # a face the tracker misses is a failed case, counted
                    print(f"{name} performer {p} {m}: {ex}", flush=True)
                    continue
                rows[m].append({"case": f"{name}/{HELD_OUT[p]}", **score(olat, alpha, w_true, est.weights[0], e,
                                                                          dome, cal)})
        print(f"{name}: " + ", ".join(f"{m} {np.median([r['psnr'] for r in rows[m] if r['case'].startswith(name + '/')]):.2f} dB"
                                      for m in methods), flush=True)
    return rows


def real_checks(clips: Path, frames_per_clip: int, methods) -> dict:
    from nervp.viz.video import read_video

    out: dict[str, dict] = {}
    photos = []
    for clip in sorted(clips.glob("*.mp4")):
        frames, _ = read_video(clip)
        for k in np.linspace(0, len(frames) - 1, frames_per_clip).round().astype(int):
            photos.append((f"{clip.stem}#{k}", frames[k]))
    lut = srgb_decode(np.arange(256) / 255.0).astype(np.float32)
    for m in methods:
        mirror, ratio, sign_ok = [], [], []
        for name, p8 in photos:
            def est(img8, tag, name=name, m=m):
                pl = Plate(lut[img8][None], img8[None], float(lut[250]), "photo", None, f"{name}{tag}")
                return estimate_light(pl, EstimateConfig(method=m))
            try:
                a, b = est(p8, ""), est(np.ascontiguousarray(p8[:, ::-1]), "-mirror")
                lin2 = np.clip(lut[p8] * 2.0, 0, 1)
                d8 = np.round(srgb_encode(lin2) * 255).astype(np.uint8)
                c = est(d8, "-x2")
            except Exception as ex:
                print(f"{name} {m}: {ex}", flush=True)
                continue
            da, db = a.dominant_direction[0], b.dominant_direction[0] * np.array([-1, 1, 1])
            mirror.append(angle(da, db))
            sign_ok.append(bool(np.sign(a.dominant_direction[0][0]) == -np.sign(b.dominant_direction[0][0])))
            ratio.append(float(c.weights[0].sum() / max(a.weights[0].sum(), 1e-12)))
        out[m] = {"photos": len(mirror), "mirror_angle_err": {"median": round(float(np.median(mirror)), 3),
                                                               "p90": round(float(np.percentile(mirror, 90)), 3)},
                  "mirror_within_15deg": round(float(np.mean(np.array(mirror) <= 15)), 3),
                  "mirror_x_sign_flips": round(float(np.mean(sign_ok)), 3),
                  "exposure_x2_intensity_ratio": {"median": round(float(np.median(ratio)), 4),
                                                  "min": round(float(np.min(ratio)), 4),
                                                  "max": round(float(np.max(ratio)), 4)},
                  "exposure_x2_within_10pct": round(float(np.mean(np.abs(np.array(ratio) - 2) <= 0.2)), 3)}
        print(m, out[m], flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--maps", type=Path, default=Path("out/eval_maps"))
    ap.add_argument("--clips", type=Path, default=Path("../shared/data/videos"))
    ap.add_argument("--cache", type=Path, default=Path("out/estimate_eval_olat.npz"))
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--frames-per-clip", type=int, default=4)
    ap.add_argument("--performers", type=int, default=3, help="held-out performers used (of 6)")
    ap.add_argument("--out", default="estimate_eval")
    a = ap.parse_args()
    torch.set_num_threads(2)
    t0 = time.perf_counter()
    dome = build_dome(DomeConfig())
    cal = led_calibration(dome, GAIN)
    data = render_held_out(a.cache, a.size)
    methods = ("learned", "sh")
    data = {**data, "olat": data["olat"][: a.performers], "alpha": data["alpha"][: a.performers]}
    held = synthetic(data, lightings(a.maps, False), dome, cal, methods)
    _write(a, held, {m: [] for m in methods}, {}, t0)  # what is done so far, in case the rest is cut short
    proc = synthetic(data, lightings(None, True), dome, cal, methods)
    _write(a, held, proc, {}, t0)
    real = real_checks(a.clips, a.frames_per_clip, methods) if a.clips.is_dir() else {}
    _write(a, held, proc, real, t0)


def _write(a, held: dict, proc: dict, real: dict, t0: float) -> None:
    methods = ("learned", "sh")
    results = {"held_out_maps": {m: table(held[m]) for m in methods if held[m]},
               "procedural": {m: table(proc[m]) for m in methods if proc[m]},
               "real_photos": real,
               "maps": sorted({r["case"].split("@")[0] for r in held["learned"]}),
               "performers": list(HELD_OUT[: a.performers]), "yaws_deg": list(YAWS), "size": a.size,
               "seconds": round(time.perf_counter() - t0)}
    sh_by_case = {r["case"]: r["psnr"] for r in held["sh"]}
    paired = [r["psnr"] - sh_by_case[r["case"]] for r in held["learned"] if r["case"] in sh_by_case]
    ratios = {"learned_minus_sh_psnr_db_median": round(float(np.median(paired)), 3) if paired else None}
    if proc["learned"] and proc["sh"]:
        ratios["learned_minus_sh_psnr_db_procedural"] = round(float(
            np.median([r["psnr"] for r in proc["learned"]]) - np.median([r["psnr"] for r in proc["sh"]])), 3)
    method = (f"Held-out virtual performers (seeds {HELD_OUT[0]}-{HELD_OUT[a.performers - 1]}; training used 100-259), "
              f"one instant each, {a.size}^2 OLAT sets; held-out real maps (scripts/fetch_eval_maps.sh: 11 Poly Haven "
              "maps not in ../shared), yaw 0 and 135 deg; photo = true relit image over the map's view, 99th-pct "
              "face luminance at 0.9, 8-bit sRGB. PSNR over performer pixels (alpha > 0.5) of the exposed relit "
              "images (estimated vs true weights, peak 1); psnr_exposure_matched: the same after the one gain "
              "that best matches the two (removes the albedo/exposure ambiguity; exposure_ratio is that gain's "
              "inverse); SSIM (pytorch-msssim) on the whole frame clipped to [0, 1]; direction = irradiance-"
              "weighted mean LED direction (degrees); ambient = mean radiance RGB (chroma angle in degrees, "
              "relative error). Second table: procedural skies, studio, looks (drawn from in training). Real "
              "photos: evenly spaced frames of ../shared clips; mirror: angle between the estimate of the photo "
              "and the x-flipped estimate of its mirror image; exposure: linear x2, re-encoded, clipped; ratio of "
              "summed weights.")
    print(write_results(a.out, method=method, results=results, ratios=ratios,
                        machine_extra={"load_average": list(np.round(__import__("os").getloadavg(), 2))}))


if __name__ == "__main__":
    main()

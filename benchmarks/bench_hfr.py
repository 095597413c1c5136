"""High-frame-rate reenactment against the simulator's truth and three baselines (docs/HFR.md).

For each held-out performer seed S (a performance the run never saw): the source is performer S
simulated at 25 fps; the truth is the run's own target performer (seed 0) acting S's motion
(`--motion.seed S`) over the same take (`--take-s`: the same continuous performance), rendered
at 100 fps under the ring LEDs only (the other 88 OLAT images are not rendered: CPU time), in
full (all 96, for the HDR maps) over the first --truth100-frames frames, and at 1000 fps over a
short span under the ring LEDs. The run is driven by the source's
true parameters without normalisation (so the truth is the target moving exactly as driven).

Methods on the same output instants:
  interp         `reenact --fps F`: parameters resampled, the network run once per output frame
                 (window spaced at the training rate, the default)
  interp_window_output   the same with `--window output` (100 fps only)
  repeat / blend / flow  the 25 fps output filled in by frame repetition, linear blending of the
                 neighbouring fields, DIS optical flow of the relit frames (nervp.evaluate.hfr)
  oracle_*       the same three applied to the truth's own 25 fps frames: what filling the gaps
                 costs with no network error (the size of what interpolation can win)
Scored relit under the ring of 8 LEDs (fps100, fps1000_span) and two HDR maps (fps100_hdr_first_frames)
(image_metrics of `nervp evaluate`); 'all'
averages every output frame, 'between' only the frames that fall between source frames (at the
source frames every method gives the network's 25 fps output). Speed: fields per second of the
network when interpolating (conditioning maps + translator, the 1000 fps span, batch 4).
Also docs/images/hfr_trajectory.png: a lower-lip landmark and the silhouette centroid at 1000 fps.

Run: python benchmarks/bench_hfr.py --run RUN [--seeds 7 8] [--frames 13] [--work DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write_results  # noqa: E402

from nervp.evaluate.hfr import blend_frames, flow_frames, repeat_frames, silhouette_centroid  # noqa: E402
from nervp.evaluate.reconstruction import image_metrics, ring_leds  # noqa: E402
from nervp.parse.resample import timeline  # noqa: E402
from nervp.presets import sim_preset  # noqa: E402
from nervp.reenact import RateSettings, drive, predict_frames  # noqa: E402
from nervp.relight.core import relight  # noqa: E402
from nervp.relight.lighting import parse_lighting, weights_for  # noqa: E402
from nervp.render.camera import project  # noqa: E402
from nervp.store.olat import load_olat  # noqa: E402
from nervp.structures.field import ReflectanceField  # noqa: E402
from nervp.synth.motion import MotionConfig  # noqa: E402
from nervp.synth.simulate import make_stage, simulate  # noqa: E402
from nervp.train.run import load_run  # noqa: E402
from nervp.train.targets import performer_params  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ENVMAPS = ROOT.parent / "shared" / "data" / "envmaps"
LIP = 17  # MediaPipe FaceMesh: lower-lip centre (moves with the jaw, the fastest channel)


def sim(out: Path, size: int, fps: float, frames: int, take: float, performer: int, motion: int | None,
        start: float = 0.0) -> Path:
    base = sim_preset("default")
    cfg = dataclasses.replace(base, size=size, fps=fps, frames=frames, take_s=take, start_s=start,
                              performer=dataclasses.replace(base.performer, seed=performer),
                              motion=dataclasses.replace(base.motion, seed=motion))
    if not (out / "manifest.json").exists():
        simulate(out, cfg)
    return out


def ring_truth(size: int, take: float, motion: int, times: np.ndarray, ring: list[int], n_lights: int,
               cache: Path | None = None) -> dict:
    """The target performer (seed 0) acting `motion` at `times`, lit by the ring LEDs only (the
    other OLAT images left 0: only ring lighting is scored), with alpha and landmarks; kept in
    `cache` (.npz) for a rerun."""
    if cache is not None and cache.exists():
        with np.load(cache) as z:
            if np.array_equal(z["time"], times):
                return {k: z[k] for k in z.files}
    out = _ring_truth(size, take, motion, times, ring, n_lights)
    if cache is not None:
        np.savez(cache, **out)
    return out


def _ring_truth(size: int, take: float, motion: int, times: np.ndarray, ring: list[int], n_lights: int) -> dict:
    base = sim_preset("default")
    cfg = dataclasses.replace(base, size=size, take_s=take, motion=dataclasses.replace(base.motion, seed=motion))
    stage = make_stage(cfg)
    olat = np.zeros((len(times), n_lights, size, size, 3), np.float32)
    alpha, lms = [], []
    for j, t in enumerate(times):
        f = stage.capture(float(t), lights=np.asarray(ring))
        olat[j, ring] = f.olat
        alpha.append(f.alpha)
        lms.append(f.landmarks)
    return {"olat": olat, "alpha": np.stack(alpha), "landmarks": np.stack(lms), "time": np.asarray(times)}


def predict(run, cond: torch.Tensor, stride: int, frames: list[int] | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """(olat (N, L, H, W, 3), alpha (N, H, W), seconds) of the translator over `frames`."""
    t0 = time.perf_counter()
    out = dict(predict_frames(run, cond, 4, frames, stride))
    dt = time.perf_counter() - t0
    keys = sorted(out)
    return np.stack([out[k].olat for k in keys]), np.stack([out[k].alpha for k in keys]), dt


def relit(olat: np.ndarray, w: np.ndarray) -> np.ndarray:
    return relight(ReflectanceField(torch.from_numpy(np.ascontiguousarray(olat, np.float32))), w).numpy()


def score(pred: np.ndarray, truth: np.ndarray, frames: np.ndarray) -> dict:
    rows = [image_metrics(pred[i], truth[i]) for i in frames]
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


ORACLES = ("oracle_repeat", "oracle_blend", "oracle_flow")


def compare(methods: dict[str, np.ndarray], truth: np.ndarray, fields25: np.ndarray, pos: np.ndarray,
            weights: dict[str, np.ndarray], truth25: np.ndarray | None = None) -> dict:
    """Per method: metrics over all frames and over in-between frames, per lighting and averaged.
    With `truth25` (the true fields at the source frames) also the oracle baselines: the three
    fillers applied to the truth's own 25 fps frames (what filling gaps costs without network error)."""
    between = np.flatnonzero(~np.isclose(pos, np.round(pos), atol=1e-9))
    every = np.arange(len(pos))
    extra = ORACLES if truth25 is not None else ()
    out: dict = {m: {"all": {}, "between": {}} for m in [*methods, "repeat", "blend", "flow", *extra]}
    for name, w in weights.items():
        t = relit(truth, w)
        r25 = relit(fields25, w)
        cands = {m: relit(f, w) for m, f in methods.items()}
        cands["repeat"] = repeat_frames(r25, pos)
        cands["blend"] = blend_frames(r25, pos)
        cands["flow"] = flow_frames(r25, pos)
        if truth25 is not None:
            g25 = relit(truth25, w)
            cands["oracle_repeat"] = repeat_frames(g25, pos)
            cands["oracle_blend"] = blend_frames(g25, pos)
            cands["oracle_flow"] = flow_frames(g25, pos)
        for m, p in cands.items():
            out[m]["all"][name] = score(p, t, every)
            out[m]["between"][name] = score(p, t, between)
    for m in out:
        for part in ("all", "between"):
            per = out[m][part]
            ring = [per[k] for k in per if k.startswith("led")]
            maps = [per[k] for k in per if not k.startswith("led")]
            out[m][part] = {"ring_8_lights": _avg(ring), "hdr_maps": _avg(maps), "overall": _avg(ring + maps),
                            "per_lighting": per}
    return out


def _avg(rows: list[dict]) -> dict:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} if rows else {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--step", type=int, default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 8])
    ap.add_argument("--frames", type=int, default=13, help="source frames at 25 fps")
    ap.add_argument("--truth100-frames", type=int, default=9, help="100 fps frames rendered in full for the HDR maps")
    ap.add_argument("--span-start", type=int, default=4, help="source frame where the 1000 fps span starts")
    ap.add_argument("--span-frames", type=int, default=101, help="frames of the 1000 fps span (0.1 s: one light orbit)")
    ap.add_argument("--maps", nargs="+", default=["studio_small_03_1k.hdr", "potsdamer_platz_1k.hdr"])
    ap.add_argument("--work", type=Path, default=Path("/tmp/nervp_hfr"))
    ap.add_argument("--name", default="hfr")
    ap.add_argument("--plot", type=Path, default=ROOT / "docs" / "images" / "hfr_trajectory.png")
    ap.add_argument("--movie", type=Path, default=ROOT / "docs" / "images" / "hfr_slowmo_light.mp4")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    run = load_run(a.run, "cpu", a.step)
    size, src_fps = run.info.height, 25.0
    take = max(a.frames / src_fps, 1.0)
    dome = run.info.dome_model()
    weights = {f"led{i}": np.repeat(np.eye(dome.n_lights, dtype=np.float32)[i][:, None], 3, 1) for i in ring_leds(dome)}
    for m in a.maps:
        weights[m.split("_1k")[0]] = weights_for(parse_lighting(str(ENVMAPS / m)), dome)
    results: dict = {"seeds": {}}
    speed = []
    for s in a.seeds:
        w = a.work / f"s{s}"
        w.mkdir(parents=True, exist_ok=True)
        source = sim(w / "source25.olat", size, src_fps, a.frames, take, performer=s, motion=None)
        n100 = min(a.truth100_frames, 4 * (a.frames - 1) + 1)
        truth100 = load_olat(sim(w / "truth100.olat", size, 100.0, n100, take, 0, s))
        span_t0 = a.span_start / src_fps
        ring = [int(k[3:]) for k in weights if k.startswith("led")]
        truth1k = ring_truth(size, take, s, span_t0 + np.arange(a.span_frames) / 1000.0, ring, dome.n_lights,
                             w / "ring1000.npz")
        src = performer_params(source, "truth")
        d25 = drive(run, source, src, normalize=False)
        f25, a25, _ = predict(run, d25.cond, 1)
        rec: dict = {}
        # 100 fps: the whole take
        tl = timeline(src.n_frames, src_fps, 100.0)
        d100 = drive(run, source, src, normalize=False, rate=RateSettings(fps=100.0))
        d100o = drive(run, source, src, normalize=False, rate=RateSettings(fps=100.0, window="output"))
        f100, _, _ = predict(run, d100.cond, d100.stride)
        f100o, _, _ = predict(run, d100o.cond, d100o.stride)
        ring_w = {k: v for k, v in weights.items() if k.startswith("led")}
        hdr_w = {k: v for k, v in weights.items() if not k.startswith("led")}
        R100 = ring_truth(size, take, s, d100.times, ring, dome.n_lights, w / "ring100.npz")["olat"]
        rec["fps100"] = compare({"interp": f100, "interp_window_output": f100o}, R100, f25, tl.pos, ring_w,
                                R100[::4])
        T100 = truth100.read("olat").astype(np.float32)
        assert np.allclose(truth100.read("time"), d100.times[:n100]), "truth and output instants differ"
        rec["fps100_hdr_first_frames"] = compare({"interp": f100[:n100], "interp_window_output": f100o[:n100]}, T100,
                                                 f25, tl.pos[:n100], hdr_w, T100[::4])
        knots = R100[::4].copy()  # the true ring-lit fields at the source frames
        del f100o, T100, R100
        # 1000 fps: a short span (the network only on the span's frames)
        tk = timeline(src.n_frames, src_fps, 1000.0)
        k0 = int(round(span_t0 * 1000.0))
        span = list(range(k0, k0 + a.span_frames))
        t_drive = time.perf_counter()
        d1k = drive(run, source, src, normalize=False, rate=RateSettings(fps=1000.0))
        t_drive = time.perf_counter() - t_drive
        f1k, a1k, t_net = predict(run, d1k.cond, d1k.stride, span)
        speed.append({"seed": s, "frames": len(span), "network_s": t_net, "network_fields_per_s": len(span) / t_net,
                      "conditioning_s_per_frame": t_drive / d1k.cond.shape[0],
                      "fields_per_s_with_conditioning": len(span) / (t_net + t_drive * len(span) / d1k.cond.shape[0])})
        T1k = truth1k["olat"]
        assert np.allclose(truth1k["time"], d1k.times[span]), "truth and output instants differ"
        rec["fps1000_span"] = compare({"interp": f1k}, T1k, f25, tk.pos[span], ring_w, knots)
        rec["fps1000_span"]["span_s"] = [span_t0, span_t0 + (a.span_frames - 1) / 1000.0]
        # trajectories at 1000 fps
        stage = make_stage(dataclasses.replace(sim_preset("default"), size=size, motion=MotionConfig()))
        cam = stage.camera

        def lip(theta: torch.Tensor, phi: torch.Tensor, stage=stage, cam=cam) -> np.ndarray:
            pts = torch.stack([stage.performer.landmarks(theta[i], phi[i])[LIP] for i in range(len(theta))])
            return project(pts[None], cam)[0, :, :2].numpy()

        sel = torch.as_tensor(span)
        lip_out = lip(d1k.driven.theta[sel], d1k.driven.phi[sel])
        rep_idx = torch.as_tensor(np.clip(np.floor(tk.pos[span] + 0.5).astype(int), 0, src.n_frames - 1))
        lip_rep = lip(d25.driven.theta[rep_idx], d25.driven.phi[rep_idx])
        lip_true = truth1k["landmarks"][:, LIP].astype(np.float64)
        cen_true = silhouette_centroid(truth1k["alpha"])
        cen_out = silhouette_centroid(a1k)
        cen_rep = silhouette_centroid(repeat_frames(a25, tk.pos[span]))
        cen_blend = silhouette_centroid(blend_frames(a25, tk.pos[span]))

        def rough(x: np.ndarray, ref: np.ndarray) -> float:  # RMS second difference, over the truth's
            return float(np.sqrt((np.diff(x, 2, axis=0) ** 2).mean() / max((np.diff(ref, 2, axis=0) ** 2).mean(), 1e-24)))

        rec["trajectory_1000fps"] = {
            "lip_rmse_px": {"interp_params": float(np.sqrt(((lip_out - lip_true) ** 2).sum(1).mean())),
                            "repeat_params": float(np.sqrt(((lip_rep - lip_true) ** 2).sum(1).mean()))},
            "silhouette_centroid_rmse_px": {m: float(np.sqrt(((c - cen_true) ** 2).sum(1).mean()))
                                            for m, c in (("interp", cen_out), ("repeat", cen_rep), ("blend", cen_blend))},
            "roughness_vs_truth": {"lip_interp_params": rough(lip_out, lip_true),
                                   "lip_repeat_params": rough(lip_rep, lip_true),
                                   "centroid_interp": rough(cen_out, cen_true), "centroid_repeat": rough(cen_rep, cen_true),
                                   "centroid_blend": rough(cen_blend, cen_true)},
        }
        results["seeds"][str(s)] = rec
        if s == a.seeds[0]:
            slowmo_light(a.movie, dome, f1k, a.span_frames)
            plot(a.plot, span_t0 + np.arange(len(span)) / 1000.0, tk.pos[span], lip_true, lip_out, lip_rep,
                 cen_true, cen_out, cen_rep, cen_blend, s)
        print(json.dumps({k: {m: v[m]["between"]["overall"] for m in v if isinstance(v[m], dict) and "between" in v[m]}
                          for k, v in rec.items() if k.startswith("fps")}, indent=1), flush=True)

    def mean_over_seeds(rate: str, method: str, part: str, key: str) -> float:
        return float(np.mean([results["seeds"][s][rate][method][part]["overall"][key] for s in results["seeds"]]))

    summary = {rate: {m: {part: {k: mean_over_seeds(rate, m, part, k) for k in ("psnr_db", "ssim")}
                          for part in ("all", "between")}
                      for m in results["seeds"][str(a.seeds[0])][rate] if m != "span_s"}
               for rate in ("fps100", "fps100_hdr_first_frames", "fps1000_span")}
    results["summary_mean_over_seeds"] = summary
    results["speed"] = speed
    ratios = {f"{rate}_interp_minus_{m}_between_psnr_db": summary[rate]["interp"]["between"]["psnr_db"]
              - summary[rate][m]["between"]["psnr_db"] for rate in summary for m in ("repeat", "blend", "flow")}
    ratios |= {f"{rate}_oracle_blend_minus_oracle_repeat_between_psnr_db": summary[rate]["oracle_blend"]["between"]["psnr_db"]
               - summary[rate]["oracle_repeat"]["between"]["psnr_db"] for rate in summary}
    results["config"] = {"run": str(a.run), "step": run.step, "size": size, "source_frames": a.frames,
                         "source_fps": src_fps, "take_s": take, "seeds": a.seeds, "maps": a.maps,
                         "span_frames": a.span_frames, "span_start_frame": a.span_start}
    method = ("held-out performances (motion seeds the run never saw) of the run's own target performer simulated "
              "at 100 fps (the first frames of the take) and 1000 fps (a span, ring LEDs only) as truth; source = performer S at 25 fps, driven with "
              "its true parameters, --no-normalize; relit under the ring of 8 LEDs and 2 HDR maps (1000 fps: ring only), image_metrics "
              "of nervp evaluate (linear, peak = truth max); 'between' = output frames between source frames; "
              "speed = translator (+ conditioning) on CPU, batch 4; see the script's docstring")
    write_results(RESULTS / f"{a.name}.json", method=method, results=results, ratios=ratios)
    print(json.dumps({"summary": summary, "ratios": ratios, "speed": speed}, indent=1))


def circling_light(dome, t: float, period: float = 0.1, elevation_deg: float = 20.0, sharpness: float = 60.0) -> np.ndarray:
    """(L, 3) LED weights of one soft white light circling the performer once per `period` seconds at
    `elevation_deg`: a lobe max(0, d·ω)^sharpness over the dome's LED directions, summing to 1."""
    az = 2 * np.pi * t / period
    el = np.radians(elevation_deg)
    w_dir = np.array([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)])
    w = np.clip(dome.direction @ w_dir, 0, None) ** sharpness
    return np.repeat((w / max(w.sum(), 1e-12)).astype(np.float32)[:, None], 3, 1)  # (L, 3) white


def slowmo_light(path: Path, dome, pred: np.ndarray, n: int) -> None:
    """MP4 at 25 fps (and a PNG strip beside it): the network's 1000 fps field relit by a light
    circling once per 0.1 s (the span's first frame is t = 0 of the orbit): 0.1 s in 4 s."""
    from nervp.colour import percentile_exposure, to_srgb8
    from nervp.viz.images import grid, label, save_png
    from nervp.viz.video import write_mp4

    rp = np.stack([relit(pred[j:j + 1], circling_light(dome, j / 1000.0))[0] for j in range(n)])
    exp = percentile_exposure(rp, target=0.9)
    up = max(1, 256 // rp.shape[1])
    frames = [np.kron(to_srgb8(rp[j], exp), np.ones((up, up, 1), np.uint8)) for j in range(n)]
    write_mp4(path, frames, fps=25.0)
    picks = np.linspace(0, n - 1, 8).round().astype(int)
    save_png(path.with_suffix(".png"), grid([label(frames[j], f"{j} ms") for j in picks], len(picks)))


def plot(path: Path, t: np.ndarray, pos: np.ndarray, lip_true, lip_out, lip_rep, cen_true, cen_out, cen_rep,
         cen_blend, seed: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    ms = 1000 * t
    ax[0].plot(ms, lip_true[:, 1], "k-", lw=2.5, label="truth (simulator, 1000 fps)")
    ax[0].plot(ms, lip_out[:, 1], "-", color="tab:orange", lw=1.3, label="interpolated parameters")
    ax[0].plot(ms, lip_rep[:, 1], "-", color="tab:blue", lw=1, label="frame repetition (25 fps)")
    knots = np.isclose(pos, np.round(pos), atol=1e-9)
    ax[0].plot(ms[knots], lip_true[knots, 1], "ko", ms=5, mfc="none", label="source frames (25 fps)")
    ax[0].set_ylabel("lower-lip landmark y (px)")
    ax[0].legend(fontsize=8)
    ax[1].plot(ms, cen_true[:, 0], "k-", lw=2.5, label="truth")
    ax[1].plot(ms, cen_out[:, 0], "-", color="tab:orange", lw=1.3, label="network at 1000 fps")
    ax[1].plot(ms, cen_rep[:, 0], "-", color="tab:blue", lw=1, label="frame repetition")
    ax[1].plot(ms, cen_blend[:, 0], "--", color="tab:green", lw=1, label="linear blend")
    ax[1].set_ylabel("silhouette centroid x (px)")
    ax[1].set_xlabel("time (ms)")
    ax[1].legend(fontsize=8)
    fig.suptitle(f"held-out performance (motion seed {seed}) at 1000 fps", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()

"""Cross-identity blink test: what eq. 6 buys when a different face drives the target.

End to end on the virtual light stage (`nervp.evaluate.blink` explains the quantities):
  1. simulate the target (seed 0) and the source (seed 1), exactly as
     `nervp simulate PATH --frames 40 --size 128 --performer.seed S` would; and a reference: the target's
     identity performing the source's performance (same renderer, the source's motion);
  2. fit all three with the product's tracker path (`performer_params(path, "fit")`:
     MediaPipe + head-model fit); the target's parameters and statistics go through
     `save_target` / `load_target` as a training run stores them;
  3. drive the target's β̄ with the source's fitted parameters with and without eq. 6
     (`nervp.reenact.driven_params`, what `source_conditioning` renders) and compare the eye
     and mouth apertures with the truth (target's true identity, source's true expression)
     and with the tracked reference.

Run:  python benchmarks/blink_test.py [--frames 40 100] [--size 128] [--work /tmp/nervp_blink]
(the stored results: --frames 40 100; about 4 + 6 minutes on 2 CPU cores, mostly rendering).
Writes benchmarks/results/blink.json (one entry per clip length under "runs") and
docs/images/blink_test.png (one column per length). The simulations are kept in --work and reused
when their settings match (--fresh renders them again).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write  # noqa: E402

from nervp.evaluate.blink import BlinkTest, blink_test  # noqa: E402
from nervp.parse.normalize import param_stats  # noqa: E402
from nervp.presets import sim_preset  # noqa: E402
from nervp.synth.motion import sample_motion  # noqa: E402
from nervp.synth.simulate import make_stage, stage_manifest  # noqa: E402
from nervp.train.targets import load_target, performer_params, save_target  # noqa: E402

PICTURE = Path(__file__).resolve().parents[1] / "docs" / "images" / "blink_test.png"


def render(out: Path, identity_seed: int, motion_seed: int, frames: int, size: int, preset: str) -> Path:
    """Like `nervp simulate` (the same preset, stage and dataset), but the performance may be
    drawn from another seed than the identity (`motion_seed`)."""
    from nervp.store.olat import write_olat_dataset

    settings = {"identity_seed": identity_seed, "motion_seed": motion_seed, "frames": frames, "size": size,
                "preset": preset}
    stamp = out.with_name(out.name + ".settings.json")
    if out.exists() and stamp.exists() and json.loads(stamp.read_text()) == settings:
        return out
    cfg = sim_preset(preset, frames=frames, size=size)
    cfg = dataclasses.replace(cfg, performer=dataclasses.replace(cfg.performer, seed=identity_seed))
    stage = make_stage(cfg)
    if motion_seed != identity_seed:  # make_stage drew the motion from the identity seed
        motion = sample_motion(stage.performer.model.expr_names, max(cfg.frames / cfg.fps, 1.0), motion_seed,
                               cfg.motion)
        stage = dataclasses.replace(stage, motion=motion)
    t0 = time.perf_counter()
    write_olat_dataset(out, (stage.capture(k / cfg.fps) for k in range(cfg.frames)), cfg.frames,
                       stage_manifest(stage), stage.dome, beta=stage.performer.beta.numpy(), overwrite=True)
    stamp.write_text(json.dumps(settings))
    print(f"  rendered {out.name} ({frames} frames, {size}²) in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def plot(runs: list[tuple[int, BlinkTest, float]], seeds: tuple[int, int], path: Path) -> None:
    """Eye (top) and mouth (bottom) aperture over time, one column per clip length."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(runs), figsize=(1.5 + 6.5 * len(runs), 6.6), squeeze=False)
    style = {"truth": ("truth (target identity, source's true expression)", "k", 2.4, "-"),
             "tracked_reference": ("tracked reference (target performing it, fitted)", "0.55", 1.6, ":"),
             "normalized": ("driven, eq. 6 normalised", "tab:green", 1.8, "-"),
             "not_normalized": ("driven, not normalised (--no-normalize)", "tab:orange", 1.8, "--")}
    for col, (frames, r, fps) in enumerate(runs):
        t = np.arange(r.blink.size) / fps
        for row, (kind, d) in enumerate((("eye aperture (lid gap / eye width, both eyes)", r.eyes),
                                         ("mouth aperture (inner lip gap / width)", r.mouth))):
            ax = axes[row, col]
            for name, (lab, c, lw, ls) in style.items():
                if name in d:
                    ax.plot(t, d[name].mean(1) if d[name].ndim == 2 else d[name], color=c, lw=lw, ls=ls, label=lab)
            for k in np.flatnonzero(r.blink):
                ax.axvspan(t[k] - 0.5 / fps, t[k] + 0.5 / fps, color="tab:blue", alpha=0.12, lw=0)
            ax.axhline(0, color="0.8", lw=0.8)
            ax.set_ylabel(kind.split(" (")[0])
            ax.set_title(f"{frames} frames: {kind}", fontsize=10, loc="left")
            ax.set_ylim(-0.01, 0.3 if row == 0 else None)
        axes[0, col].axhline(r.blink_fraction * r.open_eye, color="tab:blue", lw=0.8, ls=":")
        axes[0, col].text(t[0], r.blink_fraction * r.open_eye + 0.004,
                          f"blink: truth below {r.blink_fraction:.0%} of open", color="tab:blue", fontsize=8)
        axes[1, col].set_xlabel("time (s); shaded: the source's blink frames")
    axes[0, 0].legend(fontsize=8, loc="lower left", ncol=2)
    fig.suptitle(f"Cross-identity blink test: source seed {seeds[1]} drives target seed {seeds[0]} "
                 "(apertures of the conditioning mesh)", fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def measure(frames: int, a: argparse.Namespace) -> tuple[dict, BlinkTest, float]:
    """Simulate (or reuse), fit and measure one clip length; (JSON, result, fps)."""
    t0 = time.perf_counter()
    ts, ss = a.target_seed, a.source_seed
    tag = f"f{frames}_s{a.size}_{a.preset}"
    tgt = render(a.work / f"target_{ts}_{tag}.olat", ts, ts, frames, a.size, a.preset)
    src = render(a.work / f"source_{ss}_{tag}.olat", ss, ss, frames, a.size, a.preset)
    ref = render(a.work / f"target_{ts}_as_{ss}_{tag}.olat", ts, ss, frames, a.size, a.preset)
    t_sim = time.perf_counter() - t0
    t1 = time.perf_counter()
    fits = {name: performer_params(p, "fit") for name, p in (("target", tgt), ("source", src), ("reference", ref))}
    truth = {name: performer_params(p, "truth") for name, p in (("target", tgt), ("source", src))}
    t_fit = time.perf_counter() - t1
    with tempfile.TemporaryDirectory() as run_dir:  # the target as a training run stores it
        save_target(Path(run_dir), fits["target"], param_stats(fits["target"]))
        target, stats = load_target(Path(run_dir))
    r = blink_test(target, stats, fits["source"], truth["source"].phi, truth["target"].beta, truth["target"].phi,
                   reference=fits["reference"], blink_fraction=a.blink_fraction)
    res = r.to_json()
    e, m = res["eyes"], res["mouth"]
    print(f"{frames} frames: blink frames {res['blink_frames']}; open eye aperture {r.open_eye:.3f}")
    for name in ("normalized", "not_normalized", "identity_only", "tracked_reference"):
        at = e[name].get("at_blinks_of_open", {})
        print(f"  {name:18s} eye MAE {e[name]['mean_abs_error']:.4f}  at blinks min {at.get('min', float('nan')):.2f}"
              f" of open  mouth MAE {m[name]['mean_abs_error']:.4f}  r {m[name]['correlation']:.2f}", flush=True)
    return {
        "setup": {"target_seed": ts, "source_seed": ss, "frames": frames, "size": a.size, "preset": a.preset,
                  "params": "fit (MediaPipe + head-model fit)", "fps": fits["source"].fps,
                  "valid_frames": {k: int(v.valid.sum()) for k, v in fits.items()},
                  "seconds": {"simulate": round(t_sim, 1), "fit": round(t_fit, 1)}},
        **res,
        "series": {"eyes": {k: v.mean(1).round(5).tolist() for k, v in r.eyes.items()},
                   "mouth": {k: v.round(5).tolist() for k, v in r.mouth.items()}},
    }, r, fits["source"].fps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, nargs="+", default=[40],
                    help="clip length(s) in frames (25 fps), one column of the picture each")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--target-seed", type=int, default=0)
    ap.add_argument("--source-seed", type=int, default=1)
    ap.add_argument("--blink-fraction", type=float, default=0.5)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "nervp_blink")
    ap.add_argument("--fresh", action="store_true", help="render the datasets again")
    ap.add_argument("--no-picture", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(1)
    a.work.mkdir(parents=True, exist_ok=True)
    if a.fresh:
        for f in a.work.glob("*.settings.json"):
            f.unlink()
    runs = [measure(n, a) for n in a.frames]
    method = ("Deterministic, untimed (seconds are indicative): simulate target, source and reference; fit all three "
              "(MediaPipe + head-model fit); drive the target with and without eq. 6 and compare eye/mouth apertures "
              "with the truth and the tracked reference (mean absolute error, correlation) inside results. The "
              "with/without comparison is given as errors, not ratios: ratios is empty")
    out = write("blink", results={"runs": [j for j, _, _ in runs]}, ratios={}, method=method)
    if not a.no_picture:
        plot([(n, r, fps) for n, (_, r, fps) in zip(a.frames, runs, strict=True)], (a.target_seed, a.source_seed),
             PICTURE)
    print(f"wrote {out}" + ("" if a.no_picture else f" and {PICTURE}"))


if __name__ == "__main__":
    main()

"""The pictures of docs/PARSING.md: a tracked real clip with its maps, a reenactment with and
without normalisation (eq. 6), the smoothing plot and the blink experiment (Fig. 10).

    python benchmarks/parse_pictures.py [VIDEOS_DIR [WORK_DIR]]

Tracks the shared clips d3, d18 and d20 (from VIDEOS_DIR, default ../shared/data/videos)
into WORK_DIR (default /tmp/nervp_parse_pictures) and writes docs/images/parse_*.png.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nervp.store.params import load_params
from nervp.structures.face import ConditioningMaps, FaceParams
from nervp.viz.face import figure_to_array, map_tiles, mesh_overlay, to_uint8
from nervp.viz.images import grid, label, save_png


def strip(frames: np.ndarray, params: FaceParams, maps: ConditioningMaps, indices: list[int],
          size: int | None = None) -> np.ndarray:
    """uint8 picture, one row per frame index: frame with the fitted mesh, then its three maps.

    frames: (T, H, W, 3) uint8 sRGB source frames; maps: rendered for the same frames
    (maps[k] belongs to frames[indices[k]]). Tiles are resized to the maps' size."""
    import cv2

    tiles = []
    h, w = maps.diffuse.shape[1:3]
    for k, t in enumerate(indices):
        over = mesh_overlay(frames[t], params, t)
        tiles.append(label(cv2.resize(over, (w, h), interpolation=cv2.INTER_AREA), f"frame {t} + fit"))
        tiles += map_tiles(maps, k)
    return grid(tiles, 4)


def smoothing_figure(still: np.ndarray, fps_still: float, blinks: np.ndarray, fps_blinks: float,
                     window: tuple[int, int] = (0, 150), blink_window: tuple[int, int] = (0, 150)) -> np.ndarray:
    """uint8 plot, raw against smoothed (offline and causal One-Euro, default settings), in
    inter-ocular distances: top, the nose bridge of a clip whose head is nearly still (jitter);
    bottom, the left eye's lid gap of a clip with blinks (fast motion that must survive)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nervp.parse.smoothing import SmoothConfig, smooth_track
    from nervp.parse.track import inter_ocular

    fig, ax = plt.subplots(2, 1, figsize=(10, 5.5))
    for a, raw, fps, (first, count), what in ((ax[0], still, fps_still, window, "nose"),
                                              (ax[1], blinks, fps_blinks, blink_window, "lid")):
        scale = float(np.median(inter_ocular(raw)))
        sl = slice(first, first + count)
        t = np.arange(raw.shape[0])[sl] / fps
        for name, x in (("raw", raw), ("offline (default)", smooth_track(raw, fps, SmoothConfig(), scale)),
                        ("causal", smooth_track(raw, fps, SmoothConfig(mode="causal"), scale))):
            if what == "nose":
                y = (x[sl, 168, 0] - raw[sl, 168, 0].mean()) / scale
            else:
                y = np.linalg.norm(x[sl, 159] - x[sl, 145], axis=-1) / scale
            a.plot(t, y, label=name, lw=1.0 if name == "raw" else 1.6)
        a.set_xlabel("time (s)")
    ax[0].set_ylabel("nose bridge x (IOD)")
    ax[0].set_title("nearly still head (d18): tracker jitter and what smoothing leaves")
    ax[1].set_ylabel("left lid gap (IOD)")
    ax[1].set_title("eyes closing and opening (d3): fast motion is kept")
    ax[0].legend(fontsize=8)
    fig.tight_layout()
    return figure_to_array(fig)


def blink_figure(report_series: dict[str, np.ndarray], fps: float) -> np.ndarray:
    """uint8 plot of eye aperture (lid gap / eye width, `eye_aperture`) over time for named series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.6))
    for name, g in report_series.items():
        ax.plot(np.arange(len(g)) / fps, g, label=name, lw=2 if "target" in name else 1.4)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("target eye aperture (gap / width)")
    ax.set_title("Fig. 10 on synthetic landmarks: a small-eyed source drives the target")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return figure_to_array(fig)


def doc_pictures(out_dir: Path, videos: Path, work: Path) -> list[Path]:
    """The pictures of docs/PARSING.md: a tracked real clip with its maps, a reenactment with
    and without normalisation, the smoothing plot and the blink experiment. `work`: a
    scratch directory for the tracked parameters."""
    import dataclasses

    from nervp.evaluate.blink import eye_aperture
    from nervp.parse.conditioning import MapSettings, conditioning_maps
    from nervp.parse.evaluation import synthetic_track
    from nervp.parse.fit import FitConfig, fit_track, video_camera
    from nervp.parse.normalize import normalize, param_stats, retarget
    from nervp.parse.pipeline import track_clip
    from nervp.parse.track import load_frames

    out_dir.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    made = []
    pf = {}
    for name in ("d3", "d20", "d18"):
        p = work / f"{name}.params"
        if not p.exists():
            track_clip(videos / f"{name}.mp4", p)
        pf[name] = load_params(p)
    # 1. tracked real clip and its maps
    frames = load_frames(videos / "d3.mp4").images
    idx = [40, 118, 200, 300]
    p = pf["d3"].params
    maps = conditioning_maps(p.select(torch.as_tensor(idx)), MapSettings(size=256))
    path = out_dir / "parse_strip.png"
    save_png(path, strip(frames, p, maps, idx))
    made.append(path)
    # 2. reenactment: d20 drives d18, with and without eq. 6
    src_frames = load_frames(videos / "d20.mp4").images
    idx = [10, 60, 110, 160]
    tiles = []
    tgt = pf["d18"]
    on, _ = retarget(pf["d20"].params, tgt.params, tgt.stats)
    off, _ = retarget(pf["d20"].params, tgt.params, tgt.stats, enabled=False)
    sel = torch.as_tensor(idx)
    m_on, m_off = conditioning_maps(on.select(sel), MapSettings(size=192)), conditioning_maps(off.select(sel), MapSettings(size=192))
    import cv2

    for k, t in enumerate(idx):
        src = cv2.resize(mesh_overlay(src_frames[t], pf["d20"].params, t), (192, 192), interpolation=cv2.INTER_AREA)
        tiles += [label(src, f"source {t}"), label(to_uint8(m_on.diffuse[k]), "eq. 6"),
                  label(to_uint8(m_on.landmark[k]), "eq. 6"), label(to_uint8(m_off.diffuse[k]), "no norm."),
                  label(to_uint8(m_off.landmark[k]), "no norm.")]
    path = out_dir / "parse_reenact.png"
    save_png(path, grid(tiles, 5))
    made.append(path)
    # 3. smoothing
    path = out_dir / "parse_smoothing.png"
    save_png(path, smoothing_figure(pf["d18"].track.raw, pf["d18"].params.fps, pf["d3"].track.raw,
                                    pf["d3"].params.fps, (0, 150), (90, 150)))
    made.append(path)
    # 4. blink experiment (the same performance by two faces)
    from nervp.face import load_head_model
    from nervp.synth.motion import MotionConfig, sample_motion

    model = load_head_model()
    cam = video_camera(256, 256)
    fps, T = 25.0, 100
    th, ph = (torch.from_numpy(a) for a in sample_motion(model.expr_names, T / fps, 1, MotionConfig(blink_rate_hz=0.8))
              .at(np.arange(T) / fps))
    b_s = torch.zeros(model.n_id)
    b_s[model.id_index("eye_size")] = -2.5
    cfg = dataclasses.replace(FitConfig(), identity_frames=T)
    target = fit_track(synthetic_track(model, cam, torch.zeros(model.n_id), th, ph, fps, 0.3, 1), cam, cfg, model)
    source = fit_track(synthetic_track(model, cam, b_s, th, ph, fps, 0.3, 2), cam, cfg, model)
    normed, _ = normalize(source, param_stats(target))
    series = {"target (its own fit)": eye_aperture(target.beta, target.phi, model).mean(1).numpy(),
              "source without eq. 6": eye_aperture(target.beta, source.phi, model).mean(1).numpy(),
              "source with eq. 6": eye_aperture(target.beta, normed.phi, model).mean(1).numpy()}
    path = out_dir / "parse_blink.png"
    save_png(path, blink_figure(series, fps))
    made.append(path)
    return made


if __name__ == "__main__":
    import sys

    root = Path(__file__).resolve().parents[1]
    videos = Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared" / "data" / "videos"
    work = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("/tmp/nervp_parse_pictures")
    for p in doc_pictures(root / "docs" / "images", videos, work):
        print(p)

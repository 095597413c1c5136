"""Pictures of parsing results: contact sheets for `nervp inspect`, mesh overlays, strips."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from nervp.face import G, load_head_model
from nervp.parse.store import (
    PARAMS_KIND,
    ConditioningDataset,
    ParamsFile,
    load_conditioning,
    load_params,
)
from nervp.render.camera import project
from nervp.structures.face import METHOD_NAMES, ConditioningMaps, FaceParams
from nervp.viz.images import grid, label, save_png


def to_uint8(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """Float image in [0, 1] (H, W, 3) -> uint8 (no tone curve: maps are already display values)."""
    x = x.numpy() if isinstance(x, torch.Tensor) else x
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)


def map_tiles(maps: ConditioningMaps, t: int) -> list[np.ndarray]:
    """uint8 tiles of frame t: diffuse, PNCC, landmark image."""
    return [label(to_uint8(maps.diffuse[t]), "I^d diffuse"), label(to_uint8(maps.pncc[t]), "I^c PNCC"),
            label(to_uint8(maps.landmark[t]), "I^l landmarks")]


def mesh_overlay(image: np.ndarray, params: FaceParams, t: int, colour=(80, 255, 120),
                 points: np.ndarray | None = None) -> np.ndarray:
    """uint8 copy of `image` (H, W, 3) with the fitted mesh of frame t drawn over it (and the
    tracked landmarks `points` (478, 2), if given, as red dots)."""
    import cv2

    model = load_head_model()
    v = G(model, params.beta[None], params.theta[t:t + 1], params.phi[t:t + 1])
    uv = project(v, params.camera)[0, :, :2].numpy()
    out = np.ascontiguousarray(image.copy())
    shift = 4  # sub-pixel precision for cv2 drawing
    pts = np.round((uv - 0.5) * (1 << shift)).astype(np.int32)
    tris = pts[model.faces.numpy()]
    cv2.polylines(out, list(tris), True, colour, 1, cv2.LINE_AA, shift)
    for k in (468, 473):
        cv2.circle(out, tuple(int(c) for c in pts[k]), 3 << shift, (255, 80, 80), 1, cv2.LINE_AA, shift)
    if points is not None and np.isfinite(points).all():
        for p in np.round((points - 0.5) * (1 << shift)).astype(np.int32)[::3]:
            cv2.circle(out, tuple(int(c) for c in p), 1 << shift, (255, 0, 0), -1, cv2.LINE_AA, shift)
    return out


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


def _plot(params: FaceParams, found: np.ndarray | None, width_px: int = 1000) -> np.ndarray:
    """uint8 plot of θ, the φ dimensions that move most, and the fitting residual over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    T = params.n_frames
    t = np.arange(T) / params.fps
    fig, ax = plt.subplots(4, 1, figsize=(width_px / 100, 9), dpi=100, sharex=True)
    th = params.theta.numpy()
    for k, n in enumerate(("rot x", "rot y", "rot z")):
        ax[0].plot(t, np.degrees(th[:, k]), label=n)
    ax[0].set_ylabel("rotation (deg)")
    ax[0].legend(loc="upper right", fontsize=7, ncol=3)
    for k, n in enumerate(("x", "y", "z")):
        ax[1].plot(t, 1000 * (th[:, 3 + k] - th[:, 3 + k].mean()), label=f"t{n} - mean")
    ax[1].set_ylabel("translation (mm)")
    ax[1].legend(loc="upper right", fontsize=7, ncol=3)
    ph = params.phi.numpy()
    for k in np.argsort(-ph.std(0))[:6]:
        ax[2].plot(t, ph[:, k], label=params.expr_names[k])
    ax[2].set_ylabel("φ (6 most active)")
    ax[2].legend(loc="upper right", fontsize=7, ncol=3)
    ax[3].plot(t, params.residual.numpy(), color="k", label="median residual (IOD)")
    if found is not None and (~found).any():
        ax[3].plot(t[~found], np.zeros((~found).sum()), "rx", label="no face found")
    ax[3].set_ylabel("fit residual (IOD)")
    ax[3].set_xlabel("time (s)")
    ax[3].legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def params_sheet(pf: ParamsFile, frame: int = 0, size: int = 256) -> np.ndarray:
    """uint8 sheet: the maps of `frame` at `size` (tracked and fixed pose) above the time plots."""
    from nervp.parse.conditioning import conditioning_maps

    p = pf.params
    sl = slice(frame, frame + 1)
    tracked = conditioning_maps(p, size=size, frames=sl)
    fixed = conditioning_maps(p, size=size, frames=sl, pose="fixed")
    tiles = map_tiles(tracked, 0) + [label(to_uint8(fixed.diffuse[0]), "pose fixed")]
    top = grid(tiles, 4)
    plot = _plot(p, None if pf.track is None else pf.track.found, width_px=top.shape[1])
    w = max(top.shape[1], plot.shape[1])
    pad = lambda a: np.pad(a, ((0, 0), (0, w - a.shape[1]), (0, 0)), constant_values=255)  # noqa: E731
    return np.concatenate([pad(top), pad(plot)], axis=0)


def maps_sheet(ds: ConditioningDataset, frame: int = 0, count: int = 4) -> np.ndarray:
    """uint8 sheet: `count` frames from `frame` (spread over the rest of the clip), one row each:
    diffuse, PNCC, landmark image, mask."""
    idx = np.unique(np.linspace(frame, ds.n_frames - 1, min(count, ds.n_frames - frame)).round().astype(int))
    tiles = []
    for t in idx:
        m = ds.maps(slice(int(t), int(t) + 1))
        tiles += [label(x, f"{t} {n}") for x, n in zip(
            [to_uint8(m.diffuse[0]), to_uint8(m.pncc[0]), to_uint8(m.landmark[0]),
             np.repeat(m.mask[0].numpy()[..., None] * np.uint8(255), 3, -1)],
            ("diffuse", "PNCC", "landmarks", "mask"), strict=True)]
    return grid(tiles, 4)


def params_text(pf: ParamsFile) -> str:
    m, p = pf.manifest, pf.params
    s = m.get("summary", {})
    tr, fi = s.get("tracking", {}), s.get("fitting", {})
    lines = [f"{pf.path}: face parameters, format v{m['version']}, {p.n_frames} frames at {p.fps:g} fps, "
             f"{m['width']}x{m['height']} px",
             f"  source: {m.get('source', {}).get('path')} ({m.get('source', {}).get('kind')})"]
    if tr:
        methods = ", ".join(f"{k} {v}" for k, v in tr.get("methods", {}).items() if v)
        lines.append(f"  tracking: face found in {tr['found']}/{tr['frames']} frames ({100 * tr['found_fraction']:.1f} %); "
                     f"{methods}; gaps {tr.get('gaps')}")
    if fi:
        lines.append(f"  fit: median residual {fi['median_residual_iod']:.4f} IOD (p90 {fi['p90_residual_iod']:.4f}, "
                     f"max {fi['max_residual_iod']:.4f}) over {fi['fitted_frames']} frames")
    cam = m["camera"]
    lines.append(f"  camera: {'assumed ' + str(cam['assumed']) if cam.get('assumed') else 'from the dataset'}")
    st = pf.stats
    lines.append("  θ mean " + np.array2string(st.theta_mean, precision=3) + ", std "
                 + np.array2string(st.theta_std, precision=3))
    active = np.argsort(-st.phi_std)[:5]
    lines.append("  φ most active: " + ", ".join(f"{st.expr_names[k]} {st.phi_mean[k]:+.2f}±{st.phi_std[k]:.2f}"
                                                for k in active))
    lines.append(f"  colour: {m.get('colour')}")
    if pf.track is not None:
        counts = np.bincount(pf.track.method, minlength=len(METHOD_NAMES))
        lines.append("  frames by method: " + ", ".join(f"{n} {c}" for n, c in zip(METHOD_NAMES, counts, strict=True)))
    return "\n".join(lines)


def maps_text(ds: ConditioningDataset) -> str:
    m = ds.manifest
    return "\n".join([
        f"{ds.path}: conditioning maps, format v{m['version']}, {ds.n_frames} frames, {ds.width}x{ds.height} px",
        f"  from {m.get('params')}" + (f" onto target {m['target']}" if m.get("target") else " (target's own)"),
        f"  pose {m.get('pose')}, normalised (eq. 6): {m.get('normalized')}",
        "  arrays: " + ", ".join(f"{k}{tuple(v['shape'])}:{v['dtype']}" for k, v in m["arrays"].items()),
    ])


def inspect_parse(path: Path, kind: str, frame: int, sheet: Path) -> str:
    """`nervp inspect` for `face_params` and `conditioning` datasets: validate, write a sheet,
    return a summary."""
    from nervp.store.zstore import DatasetError

    if kind == PARAMS_KIND:
        pf = load_params(path)
        if not 0 <= frame < pf.params.n_frames:
            raise DatasetError(f"{path} has frames 0..{pf.params.n_frames - 1}; --frame {frame} is out of range")
        save_png(sheet, params_sheet(pf, frame))
        return params_text(pf)
    ds = load_conditioning(path)
    if not 0 <= frame < ds.n_frames:
        raise DatasetError(f"{path} has frames 0..{ds.n_frames - 1}; --frame {frame} is out of range")
    save_png(sheet, maps_sheet(ds, frame))
    return maps_text(ds)


# --------------------------------------------------------------------------- documentation


def _figure_to_array(fig) -> np.ndarray:
    import matplotlib.pyplot as plt
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


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
    return _figure_to_array(fig)


def blink_figure(report_series: dict[str, np.ndarray], fps: float) -> np.ndarray:
    """uint8 plot of eye opening (mm) over time for named series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.6))
    for name, g in report_series.items():
        ax.plot(np.arange(len(g)) / fps, g, label=name, lw=2 if "target" in name else 1.4)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("target eye opening (mm)")
    ax.set_title("Fig. 10 on synthetic landmarks: a small-eyed source drives the target")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return _figure_to_array(fig)


def doc_pictures(out_dir: Path, videos: Path, work: Path) -> list[Path]:
    """The pictures of docs/PARSING.md: a tracked real clip with its maps, a reenactment with
    and without normalisation, the smoothing plot and the blink experiment. `work`: a
    scratch directory for the tracked parameters."""
    import dataclasses

    from nervp.parse.conditioning import conditioning_maps
    from nervp.parse.evaluation import eye_opening_mm, synthetic_track
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
    maps = conditioning_maps(p.select(torch.as_tensor(idx)), size=256)
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
    m_on, m_off = conditioning_maps(on.select(sel), size=192), conditioning_maps(off.select(sel), size=192)
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
    series = {"target (its own fit)": eye_opening_mm(model, target.beta, target.phi).numpy(),
              "source without eq. 6": eye_opening_mm(model, target.beta, source.phi).numpy(),
              "source with eq. 6": eye_opening_mm(model, target.beta, normed.phi).numpy()}
    path = out_dir / "parse_blink.png"
    save_png(path, blink_figure(series, fps))
    made.append(path)
    return made


if __name__ == "__main__":
    import sys

    root = Path(__file__).resolve().parents[2]
    videos = Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared" / "data" / "videos"
    work = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("/tmp/nervp_parse_pictures")
    for p in doc_pictures(root / "docs" / "images", videos, work):
        print(p)

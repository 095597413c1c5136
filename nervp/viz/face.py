"""Summaries and contact sheets of face datasets (`face_params`, `conditioning`), and the
small picture helpers that parse's documentation figures share. Maps are display values
(sRGB-encoded in [0, 1]); every picture is uint8 (H, W, 3) sRGB."""

from __future__ import annotations

import io

import numpy as np
import torch

from nervp.face import G, load_head_model
from nervp.render.camera import project
from nervp.store.conditioning import ConditioningDataset
from nervp.store.params import ParamsFile
from nervp.structures.face import METHOD_NAMES, ConditioningMaps, FaceParams
from nervp.viz.contact import stack
from nervp.viz.images import grid, label


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


def figure_to_array(fig) -> np.ndarray:
    """A matplotlib figure as a uint8 (H, W, 3) sRGB picture (100 dpi); closes the figure."""
    import matplotlib.pyplot as plt
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def params_plot(params: FaceParams, found: np.ndarray | None, width_px: int = 1000) -> np.ndarray:
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
    return figure_to_array(fig)


def params_sheet(pf: ParamsFile, frame: int = 0, size: int = 256) -> np.ndarray:
    """uint8 sheet of a `face_params` dataset: the fitted mesh of `frame` (and the tracked
    landmarks, when stored) on a dark canvas of the camera's aspect, `size` px on the long side,
    above plots of θ, the most active φ and the fitting residual over time."""
    import cv2

    p = pf.params
    W, H = p.camera.width, p.camera.height
    points = None if pf.track is None else pf.track.landmarks[frame]
    canvas = np.full((H, W, 3), 24, np.uint8)
    over = mesh_overlay(canvas, p, frame, points=points)
    s = size / max(W, H)
    over = cv2.resize(over, (max(1, round(W * s)), max(1, round(H * s))), interpolation=cv2.INTER_AREA)
    top = grid([label(over, f"frame {frame} fit" + (" + landmarks" if points is not None else ""))], 1)
    plot = params_plot(p, None if pf.track is None else pf.track.found, width_px=1000)
    return stack([top, plot], bg=255)


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


def params_summary(pf: ParamsFile) -> str:
    """A few human-readable lines about a `face_params` dataset."""
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


def maps_summary(ds: ConditioningDataset) -> str:
    """A few human-readable lines about a `conditioning` dataset."""
    m = ds.manifest
    return "\n".join([
        f"{ds.path}: conditioning maps, format v{m['version']}, {ds.n_frames} frames, {ds.width}x{ds.height} px",
        f"  from {m.get('params')}" + (f" onto target {m['target']}" if m.get("target") else " (target's own)"),
        f"  pose {m.get('pose')}, normalised (eq. 6): {m.get('normalized')}",
        "  arrays: " + ", ".join(f"{k}{tuple(v['shape'])}:{v['dtype']}" for k, v in m["arrays"].items()),
    ])

"""Scoring high-frame-rate reflectance fields against the three ways to fill frames without the network.

Between two neighbouring source-rate outputs (fields at positions i and i + 1 of the source's
timeline) an output frame at position p = i + u (u in [0, 1)) can be made by

* frame repetition: the field of the nearest source frame (round(p)), as a display repeats frames;
* linear blending: (1 - u) F_i + u F_{i+1} of the two fields (linear radiance, so every relit
  image is the same blend of the two relit images);
* optical flow: the two *relit* frames warped toward instant u along DIS flow (OpenCV, as
  `nervp capture` uses it) and blended, I_u(y) = (1 - u) A(y + u F_BA(y)) + u B(y + (1 - u) F_AB(y)),
  with F_AB the flow from A to B (A(x) ≈ B(x + F_AB(x))), per lighting;

and the network's own answer: the field predicted from the resampled parameters (`nervp reenact
--fps`). All are relit with `nervp.relight` and scored with `evaluate.reconstruction.image_metrics`
(linear light, divided by the truth's peak, clipped to [0, 1]).
"""

from __future__ import annotations

import numpy as np

from nervp.capture.align import dis_flow, flow_image, grid, sample

METHODS = ("repeat", "blend", "flow")


def repeat_frames(src: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Frame repetition: `src` (T, ...) at the nearest source frame of each position (N,)."""
    idx = np.clip(np.floor(np.asarray(pos) + 0.5).astype(np.int64), 0, len(src) - 1)
    return src[idx]


def blend_frames(src: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Linear blending of the two neighbouring frames of `src` (T, ...) at each position (N,)."""
    pos = np.asarray(pos, np.float64)
    i = np.clip(np.floor(pos).astype(np.int64), 0, max(len(src) - 2, 0))
    u = (pos - i).astype(np.float32).reshape(-1, *([1] * (src.ndim - 1)))
    j = np.minimum(i + 1, len(src) - 1)
    return (1 - u) * src[i] + u * src[j]


def flow_frames(relit: np.ndarray, pos: np.ndarray, preset: str = "medium") -> np.ndarray:
    """Optical-flow interpolation of relit frames `relit` (T, H, W, 3) linear radiance at each
    position (N,): DIS flow both ways between neighbours (on tone-mapped luminance with one
    scale per pair), both frames warped to the instant and blended (module docstring)."""
    T, H, W = relit.shape[:3]
    pos = np.asarray(pos, np.float64)
    base = grid(H, W)
    flows: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    out = np.empty((len(pos), H, W, 3), np.float32)
    for k, p in enumerate(pos):
        i = int(min(max(np.floor(p), 0), max(T - 2, 0)))
        u = float(p - i)
        if T == 1 or u < 1e-9:
            out[k] = relit[min(i, T - 1)]
            continue
        a, b = relit[i].astype(np.float32), relit[i + 1].astype(np.float32)
        if i not in flows:
            scale = 1.0 / max(float(np.percentile(np.concatenate([a, b]), 99.5)), 1e-8)
            ga, gb = flow_image(a, scale), flow_image(b, scale)
            flows[i] = (dis_flow(ga, gb, preset), dis_flow(gb, ga, preset))
        f_ab, f_ba = flows[i]
        out[k] = (1 - u) * sample(a, u * f_ba, base) + u * sample(b, (1 - u) * f_ab, base)
    return out


def silhouette_centroid(alpha: np.ndarray) -> np.ndarray:
    """(T, 2) coverage-weighted centroid (x, y) in pixels of alpha mattes (T, H, W): an image-space
    trajectory of the head that needs no tracker."""
    a = np.asarray(alpha, np.float64)
    H, W = a.shape[1:]
    ys, xs = np.mgrid[0:H, 0:W]
    m = np.maximum(a.sum((1, 2)), 1e-12)
    return np.stack([(a * xs).sum((1, 2)) / m, (a * ys).sum((1, 2)) / m], 1)


__all__ = ["METHODS", "blend_frames", "flow_frames", "repeat_frames", "silhouette_centroid"]

"""Build the head model G(β, θ, φ) on MediaPipe FaceMesh's 478-landmark topology.

Run once by a developer; it writes the committed files

    nervp/face/data/head_model.npz   float32 mean, bases; int32 triangles
    nervp/face/data/head_model.json  provenance, conventions, names, landmark index groups

Sources: MediaPipe FaceMesh (static_image_mode, refine_landmarks=True) on scikit-image's
astronaut photo and on every `--stride`-th frame of each clip in `--videos`.

Model space (metres, right-handed):
    +x toward the subject's left (image right for a camera in front of the face),
    +y up, +z out of the face toward a camera in front (the camera looks along -z).
    MediaPipe's LEFT_* sets are the subject's own left (on +x here).
    Origin: the head's rotation centre, placed 0.09 m behind (-z) the nose bridge
    (landmark 168) and 0.02 m below the line through the iris centres, on the midline.
    Scale: inter-pupillary distance (iris centres 468, 473) = 0.063 m.

Usage:
    python scripts/build_head_model.py [--videos DIR] [--stride 2] [--out nervp/face/data]
"""

from __future__ import annotations

import argparse
import datetime
import glob
import io
import json
import os
import sys
from collections import defaultdict
from itertools import combinations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import dijkstra
from scipy.sparse.linalg import spsolve

N_MESH = 468
N_ALL = 478
IPD_M = 0.063
HEAD_CENTRE_BEHIND_BRIDGE_M = 0.09
HEAD_CENTRE_BELOW_EYES_M = 0.02
EYEBALL_RADIUS_M = 0.012
GAZE_MAX_DEG = 25.0
JAW_GAP_M = 0.025
# Effective mandible pivot (hinge plus condylar glide): below the ears, near the jaw angle.
JAW_PIVOT_BELOW_EYES_M = 0.075
JAW_PIVOT_BEHIND_BRIDGE_M = 0.08
SINGLE_FRAME_MAX_GAP = 0.08  # inner-lip gap / IPD above which a lone photo is not 'neutral'
R_IRIS, L_IRIS = 468, 473  # iris centres (subject's right, left)
NOSE_BRIDGE = 168
FOREHEAD_TOP, CHIN = 10, 152
LIP_MID_UPPER_INNER, LIP_MID_LOWER_INNER = 13, 14


# --------------------------------------------------------------------------------------
# 1. Landmarks from images
# --------------------------------------------------------------------------------------


def _facemesh():
    import mediapipe as mp

    return mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, refine_landmarks=True, max_num_faces=1
    )


def _landmarks_px(mesh, rgb: np.ndarray) -> np.ndarray | None:
    """(478, 3) landmarks in pixels: x right, y down, z in x's pixel scale (negative = nearer)."""
    h, w = rgb.shape[:2]
    res = mesh.process(rgb)
    if not res.multi_face_landmarks:
        return None
    lm = res.multi_face_landmarks[0].landmark
    return np.array([[p.x * w, p.y * h, p.z * w] for p in lm], dtype=np.float64)


def collect_landmarks(video_dir: str, stride: int) -> tuple[dict[str, np.ndarray], dict]:
    """Per source, (N, 478, 3) landmarks converted to a right-handed y-up, z-toward-viewer frame."""
    import cv2
    from skimage import data

    mesh = _facemesh()
    flip = np.array([1.0, -1.0, -1.0])  # image (x right, y down, z away) -> (x, y up, z toward)
    out: dict[str, np.ndarray] = {}
    stats: dict[str, dict] = {}
    lm = _landmarks_px(mesh, data.astronaut())
    out["skimage.data.astronaut"] = (
        np.stack([lm * flip]) if lm is not None else np.zeros((0, N_ALL, 3))
    )
    stats["skimage.data.astronaut"] = {"frames_tried": 1, "faces_detected": int(lm is not None)}
    for path in sorted(glob.glob(os.path.join(video_dir, "*.mp4"))):
        cap = cv2.VideoCapture(path)
        frames, tried, index = [], 0, 0
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            if index % stride == 0:
                tried += 1
                lm = _landmarks_px(mesh, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                if lm is not None:
                    frames.append(lm * flip)
            index += 1
        cap.release()
        name = os.path.basename(path)
        out[name] = np.stack(frames) if frames else np.zeros((0, N_ALL, 3))
        stats[name] = {
            "frames_total": index,
            "stride": stride,
            "frames_tried": tried,
            "faces_detected": len(frames),
        }
    mesh.close()
    return out, stats


# --------------------------------------------------------------------------------------
# 2. Alignment and the mean shape
# --------------------------------------------------------------------------------------


def similarity(
    a: np.ndarray, b: np.ndarray, scale: bool = True
) -> tuple[float, np.ndarray, np.ndarray]:
    """(s, R, t) minimising |s R a + t - b|² over the rows of a, b (Umeyama)."""
    ca, cb = a.mean(0), b.mean(0)
    a0, b0 = a - ca, b - cb
    u, sv, vt = np.linalg.svd(b0.T @ a0)
    d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    r = u @ d @ vt
    s = float((sv * np.diag(d)).sum() / (a0**2).sum()) if scale else 1.0
    return s, r, cb - s * r @ ca


def apply_sim(x: np.ndarray, s: float, r: np.ndarray, t: np.ndarray) -> np.ndarray:
    return s * x @ r.T + t


def generalised_procrustes(
    shapes: np.ndarray, iters: int = 20
) -> tuple[np.ndarray, np.ndarray, float]:
    """Align (N, 478, 3) shapes by similarity transforms fitted on the 468 mesh points.

    Returns the mean (unit Frobenius norm on the mesh points, centred), the aligned shapes,
    and the mean squared residual per shape.
    """
    x = shapes - shapes[:, :N_MESH].mean(1, keepdims=True)
    x = x / np.linalg.norm(x[:, :N_MESH], axis=(1, 2), keepdims=True)
    mean = x[0]
    aligned = x
    for _ in range(iters):
        aligned = np.stack([apply_sim(xi, *similarity(xi[:N_MESH], mean[:N_MESH])) for xi in x])
        new = aligned.mean(0)
        new = new - new[:N_MESH].mean(0)
        _, r, _ = similarity(new[:N_MESH], mean[:N_MESH], scale=False)
        new = new @ r.T
        new = new / np.linalg.norm(new[:N_MESH])
        done = np.abs(new - mean).max() < 1e-9
        mean = new
        if done:
            break
    resid = float(np.mean(np.sum((aligned[:, :N_MESH] - mean[:N_MESH]) ** 2, axis=(1, 2))))
    return mean, aligned, resid


def neutral_mask(aligned: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames with a near-closed mouth and open eyes; also returns the two measures (/IPD)."""
    ipd = np.linalg.norm(aligned[:, L_IRIS] - aligned[:, R_IRIS], axis=-1)
    gap = (
        np.linalg.norm(aligned[:, LIP_MID_UPPER_INNER] - aligned[:, LIP_MID_LOWER_INNER], axis=-1)
        / ipd
    )
    eye = (
        0.5
        * (
            np.linalg.norm(aligned[:, 159] - aligned[:, 145], axis=-1)
            + np.linalg.norm(aligned[:, 386] - aligned[:, 374], axis=-1)
        )
        / ipd
    )
    if len(aligned) < 3:  # a single photo: use it only if it is itself near-neutral
        return (gap < SINGLE_FRAME_MAX_GAP) & (eye > 0.06), gap, eye
    keep = (gap <= np.percentile(gap, 35)) & (eye >= 0.7 * np.median(eye))
    return keep, gap, eye


# --------------------------------------------------------------------------------------
# 3. Symmetry, orientation, scale, origin
# --------------------------------------------------------------------------------------


def frame_from_landmarks(x: np.ndarray) -> np.ndarray:
    """Rows = model axes (x to subject's left, y up, z out of the face) in x's coordinates."""
    ex = x[L_IRIS] - x[R_IRIS]
    ex /= np.linalg.norm(ex)
    up = x[FOREHEAD_TOP] - x[CHIN]
    ey = up - ex * (up @ ex)
    ey /= np.linalg.norm(ey)
    ez = np.cross(ex, ey)
    if ez @ (x[1] - x[:N_MESH].mean(0)) < 0:
        raise RuntimeError("nose tip is behind the face: the input frame is mirrored")
    return np.stack([ex, ey, ez])


def mirror_permutation(x: np.ndarray) -> np.ndarray:
    """perm[i] = landmark that is i's mirror image across the x = 0 plane (x oriented, centred)."""
    mirrored = x * np.array([-1.0, 1.0, 1.0])
    perm = np.empty(N_ALL, dtype=np.int64)
    for sl in (slice(0, N_MESH), slice(N_MESH, N_ALL)):
        idx = np.arange(N_ALL)[sl]
        cost = np.linalg.norm(mirrored[idx][:, None] - x[idx][None], axis=-1)
        rows, cols = linear_sum_assignment(cost)
        perm[idx[rows]] = idx[cols]
    if not np.array_equal(perm[perm], np.arange(N_ALL)):
        raise RuntimeError("mirror correspondence is not an involution")
    return perm


def reflect_labelled(x: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """The mirror image of a labelled shape or displacement field: point i <- reflect(x[perm[i]])."""
    return x[..., perm, :] * np.array([-1.0, 1.0, 1.0])


def canonical_mean(mean: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """Symmetrise, orient, scale to metres and move the origin to the head centre."""
    x = (mean - mean[:N_MESH].mean(0)) @ frame_from_landmarks(mean).T
    perm = mirror_permutation(x)
    asym = []
    for _ in range(5):
        q = reflect_labelled(x, perm)
        s, r, t = similarity(q[:N_MESH], x[:N_MESH], scale=False)
        x = 0.5 * (x + apply_sim(q, s, r, t))
        x = (x - x[:N_MESH].mean(0)) @ frame_from_landmarks(x).T
        asym.append(float(np.abs(x - reflect_labelled(x, perm)).max()))
    x = 0.5 * (x + reflect_labelled(x, perm))  # exact symmetry about x = 0
    scale = IPD_M / np.linalg.norm(x[L_IRIS] - x[R_IRIS])
    x = x * scale
    eye_y = 0.5 * (x[L_IRIS, 1] + x[R_IRIS, 1])
    origin = np.array(
        [0.0, eye_y - HEAD_CENTRE_BELOW_EYES_M, x[NOSE_BRIDGE, 2] - HEAD_CENTRE_BEHIND_BRIDGE_M]
    )
    x = x - origin
    info = {
        "asymmetry_before_last_step_m": asym[-1] * scale,
        "perm_fixed_points": int((perm == np.arange(N_ALL)).sum()),
    }
    return x, perm, info


# --------------------------------------------------------------------------------------
# 4. Triangulation from MediaPipe's tessellation edges
# --------------------------------------------------------------------------------------


def triangulate(edges: set[tuple[int, int]], x: np.ndarray) -> tuple[np.ndarray, dict]:
    """Faces of the edge graph, outward oriented, as (F, 3) indices.

    Candidate faces are the graph's 3-cliques. A 3-clique whose three edges are each claimed
    by more than two cliques is a 'separating' triangle (it spans a ring of faces rather than
    being one) and is dropped. Orientation is propagated across shared edges and the global
    sign chosen so the mean normal points +z (out of the face).
    """
    und = {tuple(sorted(e)) for e in edges}
    adj: dict[int, set[int]] = defaultdict(set)
    for a, b in und:
        adj[a].add(b)
        adj[b].add(a)
    tris = {tuple(sorted((a, b, c))) for a, b in und for c in adj[a] & adj[b]}
    n_cliques = len(tris)

    def edge_use(ts):
        use: dict[tuple[int, int], int] = defaultdict(int)
        for t in ts:
            for e in combinations(t, 2):
                use[e] += 1
        return use

    use = edge_use(tris)
    dropped = [t for t in tris if all(use[e] > 2 for e in combinations(t, 2))]
    tris -= set(dropped)
    use = edge_use(tris)
    if max(use.values()) > 2:
        raise RuntimeError("non-manifold edge left after dropping separating triangles")

    tri_list = sorted(tris)
    by_edge: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, t in enumerate(tri_list):
        for e in combinations(t, 2):
            by_edge[e].append(i)
    oriented: list[tuple[int, int, int] | None] = [None] * len(tri_list)
    oriented[0] = tri_list[0]
    stack = [0]
    while stack:
        i = stack.pop()
        a, b, c = oriented[i]
        for u, v in ((a, b), (b, c), (c, a)):
            for j in by_edge[tuple(sorted((u, v)))]:
                if j == i:
                    continue
                p, q, r = tri_list[j]
                # the neighbour must traverse edge (u, v) as (v, u)
                for cand in ((p, q, r), (p, r, q)):
                    cyc = [(cand[0], cand[1]), (cand[1], cand[2]), (cand[2], cand[0])]
                    if (v, u) in cyc:
                        break
                if oriented[j] is None:
                    oriented[j] = cand
                    stack.append(j)
                elif not _same_cycle(oriented[j], cand):
                    raise RuntimeError("mesh is not orientable")
    if any(o is None for o in oriented):
        raise RuntimeError("triangulation is not connected")
    faces = np.array(oriented, dtype=np.int64)
    n = np.cross(x[faces[:, 1]] - x[faces[:, 0]], x[faces[:, 2]] - x[faces[:, 0]])
    if n[:, 2].sum() < 0:
        faces = faces[:, [0, 2, 1]]
    info = {
        "tessellation_edges": len(und),
        "three_cliques": n_cliques,
        "separating_cliques_dropped": [list(map(int, t)) for t in sorted(dropped)],
        "faces": len(faces),
    }
    return faces, info


def _same_cycle(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    return tuple(b) in (tuple(a), (a[1], a[2], a[0]), (a[2], a[0], a[1]))


def boundary_loops_np(faces: np.ndarray) -> list[list[int]]:
    use: dict[tuple[int, int], int] = defaultdict(int)
    for t in faces:
        for e in combinations(sorted(t), 2):
            use[e] += 1
    nxt = {}
    for a, b, c in faces:
        for u, v in ((a, b), (b, c), (c, a)):
            if use[tuple(sorted((u, v)))] == 1:
                nxt[int(u)] = int(v)
    loops, seen = [], set()
    for s in sorted(nxt):
        if s in seen:
            continue
        loop, v = [s], nxt[s]
        seen.add(s)
        while v != s:
            loop.append(v)
            seen.add(v)
            v = nxt[v]
        loops.append(loop)
    return sorted(loops, key=len, reverse=True)


# --------------------------------------------------------------------------------------
# 5. Landmark groups from MediaPipe's connection sets
# --------------------------------------------------------------------------------------


def chains(edges) -> list[list[int]]:
    """Split an edge set into its connected paths/cycles, each as an ordered vertex list."""
    adj: dict[int, list[int]] = defaultdict(list)
    for a, b in edges:
        adj[a].append(b)
        adj[b].append(a)
    seen: set[int] = set()
    out = []
    for start in sorted(adj, key=lambda v: (len(adj[v]) != 1, v)):  # path ends first
        if start in seen:
            continue
        path, prev, cur = [start], None, start
        seen.add(start)
        while True:
            nxt = [w for w in adj[cur] if w != prev and w not in seen]
            if not nxt:
                break
            prev, cur = cur, nxt[0]
            path.append(cur)
            seen.add(cur)
        out.append(path)
    return out


def split_loop(
    loop: list[int], x: np.ndarray, lateral_first_sign: float
) -> tuple[list[int], list[int]]:
    """Split a closed contour at its two x-extreme points into (upper, lower) chains.

    Both chains include the two corners and run from the corner with the larger
    `lateral_first_sign * x` to the other one.
    """
    xs = x[loop, 0] * lateral_first_sign
    a = loop.index(loop[int(np.argmax(xs))])
    b = loop.index(loop[int(np.argmin(xs))])
    n = len(loop)
    c1 = [loop[(a + k) % n] for k in range((b - a) % n + 1)]
    c2 = [loop[(a - k) % n] for k in range((a - b) % n + 1)]
    if x[c1[1:-1], 1].mean() > x[c2[1:-1], 1].mean():
        return c1, c2
    return c2, c1


def landmark_groups(x: np.ndarray, perm: np.ndarray) -> dict:
    import mediapipe as mp

    c = mp.solutions.face_mesh_connections
    g: dict = {}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        eye = getattr(c, f"FACEMESH_{side.upper()}_EYE")
        (loop,) = chains(eye)
        upper, lower = split_loop(loop, x, sign)  # from the outer (lateral) corner inward
        g[f"{side}_eye_upper"], g[f"{side}_eye_lower"] = upper, lower
        brow_chains = chains(getattr(c, f"FACEMESH_{side.upper()}_EYEBROW"))
        brow_chains = [
            ch if sign * x[ch[0], 0] < sign * x[ch[-1], 0] else ch[::-1] for ch in brow_chains
        ]
        brow_chains.sort(key=lambda ch: -x[ch, 1].mean())
        g[f"{side}_brow_upper"], g[f"{side}_brow_lower"] = brow_chains  # medial -> lateral
        ring = chains(getattr(c, f"FACEMESH_{side.upper()}_IRIS"))[0]
        g[f"{side}_iris_ring"] = ring
    g["left_iris_center"], g["right_iris_center"] = L_IRIS, R_IRIS
    lip_chains = chains(c.FACEMESH_LIPS)
    lip_chains.sort(key=lambda ch: np.ptp(x[ch, 0]) * np.ptp(x[ch, 1]))  # inner (smaller) first
    for name, loop in zip(("inner", "outer"), lip_chains, strict=True):
        upper, lower = split_loop(loop, x, -1.0)  # from the subject's right corner to the left
        g[f"lips_{name}_upper"], g[f"lips_{name}_lower"] = upper, lower
    oval = chains(c.FACEMESH_FACE_OVAL)[0]
    start = oval.index(FOREHEAD_TOP) if FOREHEAD_TOP in oval else 0
    oval = oval[start:] + oval[:start]
    if x[oval[1], 0] < 0:  # walk toward the subject's left first
        oval = [oval[0]] + oval[1:][::-1]
    g["face_oval"] = oval
    nose = sorted({i for e in c.FACEMESH_NOSE for i in e})
    g["nose"] = nose
    g["nose_tip"] = int(nose[int(np.argmax(x[nose, 2]))])
    g["nose_bridge"] = NOSE_BRIDGE
    g["chin"] = CHIN
    g["forehead_top"] = FOREHEAD_TOP
    g["mirror"] = perm.tolist()
    return {
        k: (int(v) if isinstance(v, (int, np.integer)) else [int(i) for i in v])
        for k, v in g.items()
    }


def build_mean(
    sources: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], dict]:
    """Mean neutral shape in model space (metres), mirror permutation, per-identity means.

    All detected frames are aligned together by generalised Procrustes; per source the
    near-neutral frames (mouth among the 35 % least open, eyes not blinking) are averaged,
    and the sources are weighted equally (one source = one identity). A single photo enters
    the mean only if it is itself near-neutral; every source still yields an identity mean.
    MediaPipe's depth is used at its own scale: the Procrustes residual is smallest near a
    depth scale of 1 (recorded under "depth_scale_check").
    """
    names = [k for k, v in sources.items() if len(v)]
    allx = np.concatenate([sources[k] for k in names])
    _, aligned, resid = generalised_procrustes(allx)
    check = {
        f"{z:.2f}": generalised_procrustes(allx * [1.0, 1.0, z], 8)[2] for z in (0.8, 0.9, 1.1, 1.2)
    }
    check["1.00"] = resid
    stats: dict = {
        "procrustes_mean_sq_residual_unit_norm": resid,
        "depth_scale_check": dict(sorted(check.items())),
        "sources": {},
    }
    id_means, in_mean, start = {}, {}, 0
    for k in names:
        a = aligned[start : start + len(sources[k])]
        start += len(sources[k])
        keep, gap, eye = neutral_mask(a)
        id_means[k] = a[keep].mean(0) if keep.any() else a.mean(0)
        in_mean[k] = bool(keep.any())
        stats["sources"][k] = {
            "neutral_frames_used": int(keep.sum()),
            "inner_lip_gap_over_ipd_median": float(np.median(gap)),
            "inner_lip_gap_over_ipd_max": float(gap.max()),
            "eye_opening_over_ipd_median": float(np.median(eye)),
            "in_mean_shape": in_mean[k],
        }
    stacked = np.stack([id_means[k] for k in names])
    _, id_aligned, _ = generalised_procrustes(stacked)
    mean = id_aligned[[in_mean[k] for k in names]].mean(0)
    model, perm, info = canonical_mean(mean)
    stats.update(info)
    # per-identity means in model space: align each to the model mean by similarity
    ids = {}
    for k, a in zip(names, id_aligned, strict=True):
        ids[k] = apply_sim(a, *similarity(a[:N_MESH], model[:N_MESH]))
    return model, perm, ids, stats


# --------------------------------------------------------------------------------------
# 6. Smooth fields on the mesh
# --------------------------------------------------------------------------------------


def smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


class MeshFields:
    """Geodesic distances and harmonic interpolation on the 468-point surface.

    Distances run along mesh edges, so they go around the eye and mouth openings: a field
    placed on the lower lip does not leak across the mouth slit into the upper lip.
    """

    def __init__(self, x: np.ndarray, faces: np.ndarray):
        e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
        e = np.unique(np.sort(e, axis=1), axis=0)
        length = np.linalg.norm(x[e[:, 0]] - x[e[:, 1]], axis=1)
        n = N_MESH
        self.graph = sp.coo_matrix((length, (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
        w = 1.0 / length
        a = sp.coo_matrix(
            (np.r_[w, w], (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])), shape=(n, n)
        ).tocsr()
        self.lap = (sp.diags(np.asarray(a.sum(1)).ravel()) - a).tocsr()

    def geodesic(self, sources) -> np.ndarray:
        """(468,) distance along the mesh to the nearest of `sources`."""
        return dijkstra(self.graph, directed=False, indices=list(sources), min_only=True)

    def harmonic(self, fixed: dict[int, np.ndarray], channels: int) -> np.ndarray:
        """(468, C) field equal to `fixed` where given and harmonic (Laplace) elsewhere."""
        n = N_MESH
        idx = np.array(sorted(fixed), dtype=np.int64)
        vals = np.stack([np.broadcast_to(np.asarray(fixed[i], float), (channels,)) for i in idx])
        free = np.setdiff1d(np.arange(n), idx)
        out = np.zeros((n, channels))
        out[idx] = vals
        lff = self.lap[free][:, free].tocsc()
        rhs = -self.lap[free][:, idx] @ vals
        out[free] = spsolve(lff, rhs).reshape(len(free), channels)
        return out

    def spread(self, handles: dict[int, np.ndarray], radius: float, zero=()) -> np.ndarray:
        """(468, 3) displacement: `handles` exact, 0 on `zero` and beyond `radius`, harmonic between."""
        d = self.geodesic(handles.keys())
        fixed = {int(i): np.zeros(3) for i in np.nonzero(d > radius)[0]}
        fixed.update({int(i): np.zeros(3) for i in zero})
        fixed.update({int(i): np.asarray(v, float) for i, v in handles.items()})
        return self.harmonic(fixed, 3)

    def weight(self, core, radius: float, zero=()) -> np.ndarray:
        """(468,) smooth weight: 1 on `core`, 0 on `zero` and beyond `radius`, C¹ falloff between."""
        d = self.geodesic(core)
        fixed = {int(i): 0.0 for i in np.nonzero(d > radius)[0]}
        fixed.update({int(i): 0.0 for i in zero})
        fixed.update({int(i): 1.0 for i in core})
        return smoothstep(self.harmonic(fixed, 1)[:, 0])


def chain_profile(x: np.ndarray, chain: list[int]) -> np.ndarray:
    """sin(π s) along a corner-to-corner chain, s = normalised arc length (0 at both corners)."""
    seg = np.linalg.norm(np.diff(x[chain], axis=0), axis=1)
    s = np.r_[0.0, np.cumsum(seg)] / seg.sum()
    return np.clip(np.sin(np.pi * s), 0.0, None)


def rot_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


class Context:
    """Everything the basis builders need: mean shape, groups, mesh fields, eyeball centres."""

    def __init__(self, x: np.ndarray, faces: np.ndarray, groups: dict):
        self.x = x
        self.faces = faces
        self.g = groups
        self.perm = np.asarray(groups["mirror"])
        self.f = MeshFields(x[:N_MESH], faces)
        self.eye_centers = {}
        for side in ("left", "right"):
            c = x[groups[f"{side}_iris_center"]]
            ring = x[groups[f"{side}_iris_ring"]]
            rho = float(np.linalg.norm(ring - c, axis=1).mean())
            depth = np.sqrt(EYEBALL_RADIUS_M**2 - rho**2)
            self.eye_centers[side] = c - np.array([0.0, 0.0, depth])
        self.iris_radius = rho

    def eye_contour(self, side: str) -> list[int]:
        return self.g[f"{side}_eye_upper"] + self.g[f"{side}_eye_lower"][1:-1]

    def brow(self, side: str) -> list[int]:
        return self.g[f"{side}_brow_upper"] + self.g[f"{side}_brow_lower"]

    def cheek_apex(self, side: str) -> int:
        """The front-surface vertex at the cheek's high point, between eye corner and mouth corner."""
        g, x = self.g, self.x
        eye_outer = x[g[f"{side}_eye_upper"][0]]
        lid_mid = x[g[f"{side}_eye_lower"][len(g[f"{side}_eye_lower"]) // 2]]
        mouth = x[g["lips_outer_upper"][-1 if side == "left" else 0]]
        target = np.array([0.6 * eye_outer[0] + 0.4 * mouth[0], 0.6 * lid_mid[1] + 0.4 * mouth[1]])
        d = np.linalg.norm(x[:N_MESH, :2] - target, axis=1)
        d[x[:N_MESH, 2] < np.median(x[:N_MESH, 2])] = np.inf
        return int(np.argmin(d))

    def lips(self) -> list[int]:
        g = self.g
        return sorted(
            set(
                g["lips_outer_upper"]
                + g["lips_outer_lower"]
                + g["lips_inner_upper"]
                + g["lips_inner_lower"]
            )
        )

    def full(self, mesh_field: np.ndarray, iris: str = "zero") -> np.ndarray:
        """Extend a (468, 3) field to (478, 3): iris rows zero or following their eye contour."""
        out = np.zeros((N_ALL, 3))
        out[:N_MESH] = mesh_field
        if iris == "follow":
            for side in ("left", "right"):
                idx = [self.g[f"{side}_iris_center"], *self.g[f"{side}_iris_ring"]]
                out[idx] = mesh_field[self.eye_contour(side)].mean(0)
        return out

    def mirror(self, field: np.ndarray) -> np.ndarray:
        return reflect_labelled(field, self.perm)

    def symmetrise(self, field: np.ndarray) -> np.ndarray:
        return 0.5 * (field + self.mirror(field))


# --------------------------------------------------------------------------------------
# 7. Expression basis φ (φ = 1 is the full expression; left/right = subject's own)
# --------------------------------------------------------------------------------------


def lid_rotation(ctx: Context, side: str, chain: list[int], lift: float) -> dict[int, np.ndarray]:
    """Rotate lid points about the eyeball's horizontal axis; the chain's middle rises `lift` m."""
    c = ctx.eye_centers[side]
    prof = chain_profile(ctx.x, chain)
    out = {}
    for i, p in zip(chain, prof, strict=True):
        r = np.hypot(*(ctx.x[i, 1:] - c[1:]))
        angle = -lift * p / r  # R_x(-a) turns +z toward +y
        out[i] = (rot_x(angle) @ (ctx.x[i] - c) + c) - ctx.x[i]
    return out


def expr_blink(ctx: Context, side: str) -> np.ndarray:
    """Upper lid meets lower lid exactly: pair k of each chain goes to one closure point."""
    up, lo = ctx.g[f"{side}_eye_upper"], ctx.g[f"{side}_eye_lower"]
    c = ctx.eye_centers[side]
    handles = {}
    for u, lw in zip(up[1:-1], lo[1:-1], strict=True):
        # the lids close low: the upper lid travels most of the way
        target = ctx.x[lw] + 0.3 * (ctx.x[u] - ctx.x[lw])
        off = target - c
        r_min = EYEBALL_RADIUS_M + 0.0015  # the closed lid lies on the eyeball, not inside it
        if np.linalg.norm(off) < r_min:
            target = c + off * r_min / np.linalg.norm(off)
        handles[u] = target - ctx.x[u]
        handles[lw] = target - ctx.x[lw]
    handles[up[0]] = handles[up[-1]] = np.zeros(3)
    return ctx.full(ctx.f.spread(handles, 0.022, zero=ctx.brow(side)))


def expr_eye_wide(ctx: Context, side: str) -> np.ndarray:
    handles = lid_rotation(ctx, side, ctx.g[f"{side}_eye_upper"], 0.003)
    handles.update(lid_rotation(ctx, side, ctx.g[f"{side}_eye_lower"][1:-1], -0.001))
    return ctx.full(ctx.f.spread(handles, 0.018, zero=ctx.brow(side)))


def expr_brow_raise(ctx: Context, side: str) -> np.ndarray:
    handles = {i: np.array([0.0, 0.009, 0.001]) for i in ctx.brow(side)}
    return ctx.full(ctx.f.spread(handles, 0.04, zero=ctx.eye_contour(side)))


def expr_brow_lower(ctx: Context, side: str) -> np.ndarray:
    sign = 1.0 if side == "left" else -1.0
    handles = {}
    for chain in (ctx.g[f"{side}_brow_upper"], ctx.g[f"{side}_brow_lower"]):
        for k, i in enumerate(chain):
            medial = 1.0 - k / (len(chain) - 1)  # chains run medial -> lateral
            handles[i] = np.array([-sign * 0.003 * medial, -0.006 * (0.5 + 0.5 * medial), -0.001])
    return ctx.full(ctx.f.spread(handles, 0.025, zero=ctx.eye_contour(side)))


def expr_smile(ctx: Context, side: str) -> np.ndarray:
    g = ctx.g
    sign = 1.0 if side == "left" else -1.0
    corner = np.array([sign * 0.008, 0.009, -0.004])
    handles = {}
    for chain in ("lips_outer_upper", "lips_inner_upper"):
        handles[g[chain][-1 if sign > 0 else 0]] = corner
    handles[ctx.cheek_apex(side)] = np.array([sign * 0.002, 0.004, 0.003])
    lower_lid = g[f"{side}_eye_lower"]
    for i, p in zip(lower_lid, chain_profile(ctx.x, lower_lid), strict=True):
        handles[i] = np.array([0.0, 0.001 * p, 0.0])
    for i in g[f"{side}_eye_upper"]:
        handles[i] = np.zeros(3)
    midline = [i for i in ctx.lips() if abs(ctx.x[i, 0]) < 1e-9]
    return ctx.full(ctx.f.spread(handles, 0.045, zero=midline + g["nose"]))


def _lip_frame(ctx: Context) -> tuple[np.ndarray, float]:
    lips = ctx.lips()
    centre = ctx.x[lips].mean(0)
    half_width = float(np.abs(ctx.x[lips, 0] - centre[0]).max())
    return centre, half_width


def expr_pucker(ctx: Context) -> np.ndarray:
    centre, hw = _lip_frame(ctx)
    handles = {}
    for i in ctx.lips():
        rel = ctx.x[i] - centre
        u = rel[0] / hw
        handles[i] = np.array([-0.35 * rel[0], -0.15 * rel[1], 0.010 * (1.0 - 0.5 * u * u)])
    return ctx.full(ctx.f.spread(handles, 0.03, zero=ctx.g["nose"]))


def expr_funnel(ctx: Context) -> np.ndarray:
    g = ctx.g
    centre, hw = _lip_frame(ctx)
    opening = {
        "lips_inner_upper": 0.004,
        "lips_inner_lower": -0.005,
        "lips_outer_upper": 0.002,
        "lips_outer_lower": -0.003,
    }
    handles = {}
    for chain, dy in opening.items():
        for i, p in zip(g[chain], chain_profile(ctx.x, g[chain]), strict=True):
            u = (ctx.x[i, 0] - centre[0]) / hw
            handles[i] = np.array(
                [-0.25 * (ctx.x[i, 0] - centre[0]), dy * p, 0.008 * (1.0 - 0.5 * u * u)]
            )
    return ctx.full(ctx.f.spread(handles, 0.03, zero=g["nose"]))


def expr_upper_lip_raise(ctx: Context) -> np.ndarray:
    g = ctx.g
    handles = {}
    for chain in ("lips_outer_upper", "lips_inner_upper"):
        for i, p in zip(g[chain], chain_profile(ctx.x, g[chain]), strict=True):
            handles[i] = np.array([0.0, 0.004, 0.001]) * np.sqrt(p)
    for i in g["nose"]:  # the nose wings lift a little
        if abs(ctx.x[i, 0]) > 0.008:
            handles[i] = np.array([0.0, 0.001, 0.0])
    zero = g["lips_outer_lower"][1:-1] + g["lips_inner_lower"][1:-1]
    return ctx.full(ctx.f.spread(handles, 0.025, zero=zero))


def expr_lower_lip_depress(ctx: Context) -> np.ndarray:
    g = ctx.g
    handles = {}
    for chain in ("lips_outer_lower", "lips_inner_lower"):
        for i, p in zip(g[chain], chain_profile(ctx.x, g[chain]), strict=True):
            handles[i] = np.array([0.0, -0.005, 0.0015]) * np.sqrt(p)
    zero = g["lips_outer_upper"] + g["lips_inner_upper"] + g["nose"]
    return ctx.full(ctx.f.spread(handles, 0.025, zero=zero))


def jaw_weight(ctx: Context) -> np.ndarray:
    """(468,) 1 on the mandible (lower lip, chin, jaw line), 0 on the upper face, smooth between."""
    g, x = ctx.g, ctx.x
    y_corner = x[g["lips_outer_upper"][0], 1]
    y_subnasal = x[g["nose"], 1].min()
    fixed: dict[int, float] = {}
    for i in range(N_MESH):
        if x[i, 1] > y_subnasal:
            fixed[i] = 0.0
    for i in g["face_oval"]:
        if x[i, 1] < y_corner - 0.01:
            fixed[i] = 1.0
        elif x[i, 1] > y_corner + 0.01:
            fixed[i] = 0.0
    for i in g["lips_outer_upper"][1:-1] + g["lips_inner_upper"][1:-1] + g["nose"]:
        fixed[i] = 0.0
    for i in g["lips_outer_lower"][1:-1] + g["lips_inner_lower"][1:-1] + [g["chin"]]:
        fixed[i] = 1.0
    return smoothstep(ctx.f.harmonic(fixed, 1)[:, 0])


def expr_jaw_open(ctx: Context) -> tuple[np.ndarray, dict]:
    """Mandible rotation about a pivot below the ears, sized for a JAW_GAP_M inner-lip gap."""
    x = ctx.x[:N_MESH]
    eye_y = 0.5 * (ctx.x[L_IRIS, 1] + ctx.x[R_IRIS, 1])
    pivot = np.array(
        [0.0, eye_y - JAW_PIVOT_BELOW_EYES_M, ctx.x[NOSE_BRIDGE, 2] - JAW_PIVOT_BEHIND_BRIDGE_M]
    )
    w = jaw_weight(ctx)[:, None]

    def field(angle):
        return w * ((x - pivot) @ rot_x(angle).T + pivot - x)

    def gap(angle):
        y = x + field(angle)
        return np.linalg.norm(y[LIP_MID_UPPER_INNER] - y[LIP_MID_LOWER_INNER])

    lo, hi = 0.0, np.radians(45.0)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if gap(mid) < JAW_GAP_M else (lo, mid)
    angle = 0.5 * (lo + hi)
    info = {
        "jaw_pivot_m": pivot.tolist(),
        "jaw_angle_deg": float(np.degrees(angle)),
        "inner_lip_gap_m": float(gap(angle)),
    }
    return ctx.full(field(angle)), info


def expr_gaze(ctx: Context, axis: str) -> np.ndarray:
    """Linearised gaze field: tangent of the iris rotation per unit φ (25° at φ = 1).

    `shape()` at runtime rotates the iris points exactly instead; this field documents the
    first-order motion and is what a linear fitter would see.
    """
    a = np.radians(GAZE_MAX_DEG)
    w = np.array([0.0, a, 0.0]) if axis == "yaw" else np.array([-a, 0.0, 0.0])
    out = np.zeros((N_ALL, 3))
    for side in ("left", "right"):
        c = ctx.eye_centers[side]
        for i in [ctx.g[f"{side}_iris_center"], *ctx.g[f"{side}_iris_ring"]]:
            out[i] = np.cross(w, ctx.x[i] - c)
    return out


def expression_basis(ctx: Context) -> tuple[list[str], np.ndarray, dict]:
    jaw, jaw_info = expr_jaw_open(ctx)
    fields: dict[str, np.ndarray] = {"jaw_open": jaw}
    sided = {
        "smile": expr_smile,
        "blink": expr_blink,
        "eye_wide": expr_eye_wide,
        "brow_raise": expr_brow_raise,
        "brow_lower": expr_brow_lower,
    }
    for name, fn in sided.items():
        left = fn(ctx, "left")
        fields[f"{name}_left"] = left
        fields[f"{name}_right"] = ctx.mirror(left)
    fields["pucker"] = ctx.symmetrise(expr_pucker(ctx))
    fields["funnel"] = ctx.symmetrise(expr_funnel(ctx))
    fields["upper_lip_raise"] = ctx.symmetrise(expr_upper_lip_raise(ctx))
    fields["lower_lip_depress"] = ctx.symmetrise(expr_lower_lip_depress(ctx))
    fields["jaw_open"] = ctx.symmetrise(jaw)
    fields["gaze_yaw"] = expr_gaze(ctx, "yaw")
    fields["gaze_pitch"] = expr_gaze(ctx, "pitch")
    order = [
        "jaw_open", "smile_left", "smile_right", "pucker", "funnel", "upper_lip_raise",
        "lower_lip_depress", "blink_left", "blink_right", "eye_wide_left", "eye_wide_right",
        "brow_raise_left", "brow_raise_right", "brow_lower_left", "brow_lower_right",
        "gaze_yaw", "gaze_pitch",
    ]  # fmt: skip
    return order, np.stack([fields[k] for k in order]), jaw_info


# --------------------------------------------------------------------------------------
# 8. Identity basis β (unit ≈ one standard deviation of adult variation)
# --------------------------------------------------------------------------------------

# Approximate adult standard deviations (metres) the named dimensions are scaled to; rounded
# from general anthropometric ranges, per side where a feature moves symmetrically outward.
ID_SIGMA = {
    "head_width": 0.003,  # per side: face breadth ± 6 mm
    "face_length": 0.006,  # nasion to chin
    "jaw_width": 0.003,  # per side
    "chin_length": 0.004,
    "nose_length": 0.004,
    "nose_width": 0.0018,  # per side
    "nose_projection": 0.003,
    "eye_size": 0.0012,  # eye opening height
    "eye_spacing": 0.0017,  # per side: IPD ± 3.4 mm
    "mouth_width": 0.0022,  # per side
    "lip_thickness": 0.0015,  # per lip
    "brow_height": 0.003,
    "cheek_fullness": 0.003,
}


def identity_basis(ctx: Context) -> tuple[list[str], np.ndarray]:
    g, x, f = ctx.g, ctx.x, ctx.f
    xm = x[:N_MESH]
    ax = np.abs(xm[:, 0])
    sgn = np.sign(xm[:, 0])
    x_max = ax.max()
    y_bridge = x[NOSE_BRIDGE, 1]
    y_chin = x[g["chin"], 1]
    y_corner = x[g["lips_outer_upper"][0], 1]
    y_tip = x[g["nose_tip"], 1]
    y_lower_lip = x[g["lips_outer_lower"][len(g["lips_outer_lower"]) // 2], 1]
    s = ID_SIGMA
    fields: dict[str, np.ndarray] = {}

    def mesh(dx=0.0, dy=0.0, dz=0.0):
        out = np.zeros((N_MESH, 3))
        out[:, 0], out[:, 1], out[:, 2] = dx, dy, dz
        return out

    lateral = smoothstep((ax - 0.02) / (x_max - 0.02))
    fields["head_width"] = mesh(dx=s["head_width"] * sgn * lateral)
    fields["face_length"] = mesh(
        dy=-s["face_length"] * smoothstep((y_bridge - xm[:, 1]) / (y_bridge - y_chin))
    )
    low = smoothstep((y_corner + 0.01 - xm[:, 1]) / 0.03)
    fields["jaw_width"] = mesh(dx=s["jaw_width"] * sgn * smoothstep((ax - 0.015) / 0.045) * low)
    chin = smoothstep((y_lower_lip - xm[:, 1]) / (y_lower_lip - y_chin)) * smoothstep(
        (0.055 - ax) / 0.03
    )
    fields["chin_length"] = mesh(dy=-s["chin_length"] * chin)
    lips_eyes = ctx.lips() + ctx.eye_contour("left") + ctx.eye_contour("right")
    nose_w = f.weight(g["nose"], 0.012, zero=lips_eyes)
    along = np.clip((y_bridge - xm[:, 1]) / (y_bridge - y_tip), 0.0, 1.0)
    fields["nose_length"] = mesh(dy=-s["nose_length"] * nose_w * along)
    lower_nose = smoothstep((y_bridge - 0.012 - xm[:, 1]) / 0.012)
    fields["nose_width"] = mesh(
        dx=s["nose_width"] * sgn * nose_w * smoothstep(ax / 0.018) * lower_nose
    )
    tip_w = smoothstep(1.0 - f.geodesic([g["nose_tip"]]) / 0.03)
    fields["nose_projection"] = mesh(dz=s["nose_projection"] * tip_w)

    handles = {}
    for side in ("left", "right"):
        contour = ctx.eye_contour(side)
        centre = x[contour].mean(0)
        opening = np.linalg.norm(x[g[f"{side}_eye_upper"][4]] - x[g[f"{side}_eye_lower"][4]])
        k = s["eye_size"] / opening
        for i in contour:
            handles[i] = np.array([0.05 * (x[i, 0] - centre[0]), k * (x[i, 1] - centre[1]), 0.0])
    fields["eye_size"] = f.spread(handles, 0.015, zero=ctx.brow("left") + ctx.brow("right"))
    eyes = ctx.eye_contour("left") + ctx.eye_contour("right")
    fields["eye_spacing"] = mesh(dx=s["eye_spacing"] * sgn * f.weight(eyes, 0.02))

    centre, hw = _lip_frame(ctx)
    handles = {
        i: np.array([s["mouth_width"] * (x[i, 0] - centre[0]) / hw, 0.0, 0.0]) for i in ctx.lips()
    }
    fields["mouth_width"] = f.spread(handles, 0.02, zero=g["nose"])
    handles = {i: np.zeros(3) for i in g["lips_inner_upper"] + g["lips_inner_lower"]}
    for chain, up in (("lips_outer_upper", 1.0), ("lips_outer_lower", -1.0)):
        for i, p in zip(g[chain], chain_profile(x, g[chain]), strict=True):
            handles[i] = np.array([0.0, up * s["lip_thickness"], 0.5 * s["lip_thickness"]]) * p
    fields["lip_thickness"] = f.spread(handles, 0.012)
    handles = {
        i: np.array([0.0, s["brow_height"], 0.0]) for i in ctx.brow("left") + ctx.brow("right")
    }
    fields["brow_height"] = f.spread(handles, 0.03, zero=eyes)
    apex = [ctx.cheek_apex("left"), ctx.cheek_apex("right")]
    normals = _vertex_normals_np(xm, ctx.faces)
    fields["cheek_fullness"] = (
        s["cheek_fullness"] * smoothstep(1.0 - f.geodesic(apex) / 0.035)[:, None] * normals
    )

    names = list(ID_SIGMA)
    basis = np.stack([ctx.symmetrise(ctx.full(fields[k], iris="follow")) for k in names])
    return names, basis


def _vertex_normals_np(x: np.ndarray, faces: np.ndarray) -> np.ndarray:
    fn = np.cross(x[faces[:, 1]] - x[faces[:, 0]], x[faces[:, 2]] - x[faces[:, 0]])
    n = np.zeros_like(x)
    for k in range(3):
        np.add.at(n, faces[:, k], fn)
    return n / np.linalg.norm(n, axis=1, keepdims=True).clip(1e-12)


def measured_identity_modes(
    ctx: Context, identities: dict[str, np.ndarray], spans: list[np.ndarray], n_modes: int
) -> tuple[np.ndarray, dict]:
    """PCA of the per-source mean shapes after removing what the named bases explain.

    Each identity's deviation from the mean is regressed on the named identity and expression
    fields and on the 7 similarity-transform generators; the symmetric part of what is left
    is decomposed, and each mode scaled to one standard deviation across the identities.
    """
    x = ctx.x
    gens = [np.tile(np.eye(3)[k], (N_ALL, 1)) for k in range(3)]
    gens += [np.cross(np.eye(3)[k], x) for k in range(3)] + [x.copy()]
    a = np.stack([m.reshape(-1) for m in spans + gens], axis=1)
    names = list(identities)
    dev = np.stack([identities[k] - x for k in names]).reshape(len(names), -1)
    coef, *_ = np.linalg.lstsq(a, dev.T, rcond=None)
    resid = (dev.T - a @ coef).T.reshape(len(names), N_ALL, 3)
    resid = np.stack([ctx.symmetrise(r) for r in resid]).reshape(len(names), -1)
    resid -= resid.mean(0)
    u, sv, vt = np.linalg.svd(resid, full_matrices=False)
    std = sv / np.sqrt(max(len(names) - 1, 1))
    modes = (vt[:n_modes] * std[:n_modes, None]).reshape(n_modes, N_ALL, 3)
    info = {
        "identities": names,
        "deviation_rms_m": float(np.sqrt((dev**2).mean())),
        "residual_rms_m_after_named_and_similarity": float(np.sqrt((resid**2).mean())),
        "mode_std_rms_per_point_m": [float(v / np.sqrt(N_ALL)) for v in std[:n_modes]],
        "mode_max_displacement_m": [float(np.linalg.norm(m, axis=1).max()) for m in modes],
    }
    return modes, info


# --------------------------------------------------------------------------------------
# 9. Checks, files, figure
# --------------------------------------------------------------------------------------


def sanity(
    ctx: Context, expr_names: list[str], expr: np.ndarray, id_names: list[str], ident: np.ndarray
) -> dict:
    x, g = ctx.x, ctx.g

    def field(name):
        return expr[expr_names.index(name)]

    def lid_gap(y, side):
        return float(
            np.linalg.norm(
                y[g[f"{side}_eye_upper"][1:-1]] - y[g[f"{side}_eye_lower"][1:-1]], axis=1
            ).max()
        )

    blink = x + field("blink_left")
    eye_size = x + ident[id_names.index("eye_size")]
    jaw = x + field("jaw_open")
    inside = {}
    for name in ("blink_left", "eye_wide_left"):
        y = x + field(name)
        inside[name] = float(np.linalg.norm(y[:N_MESH] - ctx.eye_centers["left"], axis=1).min())
    return {
        "ipd_m": float(np.linalg.norm(x[L_IRIS] - x[R_IRIS])),
        "mean_inner_lip_gap_m": float(
            np.linalg.norm(x[LIP_MID_UPPER_INNER] - x[LIP_MID_LOWER_INNER])
        ),
        "jaw_open_inner_lip_gap_m": float(
            np.linalg.norm(jaw[LIP_MID_UPPER_INNER] - jaw[LIP_MID_LOWER_INNER])
        ),
        "mean_left_eye_max_lid_gap_m": lid_gap(x, "left"),
        "blink_left_max_lid_gap_m": lid_gap(blink, "left"),
        "blink_left_right_eye_max_lid_gap_m": lid_gap(blink, "right"),
        "eye_size_plus1_left_max_lid_gap_m": lid_gap(eye_size, "left"),
        "min_mesh_distance_to_left_eyeball_centre_m": inside,
        "face_width_m": float(np.ptp(x[:N_MESH, 0])),
        "nasion_to_chin_m": float(x[NOSE_BRIDGE, 1] - x[g["chin"], 1]),
    }


def write(out_dir: str, arrays: dict[str, np.ndarray], meta: dict) -> None:
    os.makedirs(out_dir, exist_ok=True)
    np.savez_compressed(os.path.join(out_dir, "head_model.npz"), **arrays)
    with open(os.path.join(out_dir, "head_model.json"), "w") as fh:
        json.dump(meta, fh, indent=1)
        fh.write("\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--videos", default="../shared/data/videos", help="folder of talking-head .mp4 clips"
    )
    ap.add_argument("--stride", type=int, default=2, help="use every STRIDE-th video frame")
    ap.add_argument("--out", default="nervp/face/data", help="folder for head_model.npz/.json")
    ap.add_argument("--n-pca", type=int, default=2, help="measured identity modes to append")
    ap.add_argument("--figure", default="", help="also draw the model to this .png")
    args = ap.parse_args(argv)
    import mediapipe as mp

    sources, detect = collect_landmarks(args.videos, args.stride)
    print({k: v["faces_detected"] for k, v in detect.items()})
    x, perm, identities, align = build_mean(sources)
    faces, tri = triangulate(mp.solutions.face_mesh_connections.FACEMESH_TESSELATION, x)
    loops = boundary_loops_np(faces)
    groups = landmark_groups(x, perm)
    holes = check_holes(loops, groups)
    ctx = Context(x, faces, groups)
    expr_names, expr, jaw = expression_basis(ctx)
    id_names, ident = identity_basis(ctx)
    non_gaze = [i for i, n in enumerate(expr_names) if not n.startswith("gaze")]
    modes, pca = measured_identity_modes(
        ctx, identities, list(ident) + list(expr[non_gaze]), args.n_pca
    )
    id_names += [f"pca{k}" for k in range(len(modes))]
    ident = np.concatenate([ident, modes])
    checks = sanity(ctx, expr_names, expr, id_names, ident)
    print(json.dumps(checks, indent=1))
    eye_centers = np.stack([ctx.eye_centers["left"], ctx.eye_centers["right"]])
    arrays = {
        "mean": x.astype(np.float32),
        "faces": faces.astype(np.int32),
        "id_basis": ident.astype(np.float32),
        "expr_basis": expr.astype(np.float32),
        "eye_centers": eye_centers.astype(np.float32),
        "eye_radius": np.float32(EYEBALL_RADIUS_M),
        "gaze_max_deg": np.float32(GAZE_MAX_DEG),
        "id_names": np.array(id_names),
        "expr_names": np.array(expr_names),
    }
    meta = {
        "script": "scripts/build_head_model.py",
        "date": datetime.date.today().isoformat(),
        "command": " ".join(
            [os.path.basename(sys.argv[0]), *(argv if argv is not None else sys.argv[1:])]
        ),
        "mediapipe": mp.__version__,
        "topology": "MediaPipe FaceMesh: 468 mesh landmarks + 10 iris landmarks (refine_landmarks=True), same order",
        "conventions": {
            "units": "metres",
            "axes": "+x toward the subject's left (image right for a camera in front), +y up, +z out of the face (toward a camera in front); right-handed",
            "left_right": "left/right always mean the subject's own side; MediaPipe's FACEMESH_LEFT_* sets and iris centre 473 are the subject's left (+x)",
            "scale": f"inter-pupillary distance between iris centres 468 and 473 = {IPD_M} m",
            "origin": f"head rotation centre: on the midline, {HEAD_CENTRE_BEHIND_BRIDGE_M} m behind (-z) nose-bridge landmark {NOSE_BRIDGE} and {HEAD_CENTRE_BELOW_EYES_M} m below the line through the iris centres",
            "up_direction": f"+y is landmark {CHIN} (chin) to {FOREHEAD_TOP} (forehead) made orthogonal to the iris line",
            "image_to_model": "MediaPipe (x*W, y*H, z*W) pixels mapped to (x, -y, -z); mean symmetrised about x = 0",
            "pose": "world = R(rx, ry, rz) @ v + t, axis-angle radians, t metres",
            "faces": "counter-clockwise seen from outside (outward normals); iris points are in no triangle",
            "eye_centers": "rows (subject's left, right); eyeball centre = iris centre moved sqrt(r^2 - iris_radius^2) along -z",
            "gaze": f"gaze_yaw/gaze_pitch = +-1 rotate the iris points +-{GAZE_MAX_DEG} deg about the eyeball centres (yaw + toward +x, pitch + up); expr_basis holds their linearised fields, shape() applies the exact rotation",
            "expression_scale": "phi = 1 is the full expression; blink = 1 closes the lids exactly; jaw_open = 1 gives a 25 mm inner-lip gap",
            "identity_scale": "beta = 1 is about one adult standard deviation; named sigmas in identity_sigma_m; pca modes scaled to one standard deviation across the source identities",
        },
        "video_dir": args.videos,
        "sources": detect,
        "alignment": align,
        "triangulation": {**tri, "holes": holes},
        "jaw": jaw,
        "identity_sigma_m": ID_SIGMA,
        "measured_identity_modes": pca,
        "eyeball": {
            "radius_m": EYEBALL_RADIUS_M,
            "iris_radius_m": ctx.iris_radius,
            "centers_m": eye_centers.tolist(),
        },
        "sanity": checks,
        "id_names": id_names,
        "expr_names": expr_names,
        "groups": groups,
    }
    write(args.out, arrays, meta)
    print(f"wrote {args.out}/head_model.npz and head_model.json")
    if args.figure:
        draw_figure(args.figure)
        print(f"wrote {args.figure}")
    return 0


def check_holes(loops: list[list[int]], groups: dict) -> dict:
    """The boundary must be exactly the face oval, the two eye contours and the inner lips."""
    expect = {
        "face_oval": set(groups["face_oval"]),
        "left_eye": set(groups["left_eye_upper"] + groups["left_eye_lower"]),
        "right_eye": set(groups["right_eye_upper"] + groups["right_eye_lower"]),
        "mouth": set(groups["lips_inner_upper"] + groups["lips_inner_lower"]),
    }
    found = {}
    for loop in loops:
        match = [k for k, v in expect.items() if v == set(loop)]
        if len(match) != 1:
            raise RuntimeError(f"unexpected boundary loop {loop}")
        found[match[0]] = len(loop)
    if set(found) != set(expect):
        raise RuntimeError(f"missing boundary loops: {set(expect) - set(found)}")
    return found


def draw_figure(path: str) -> None:
    """Wireframe of the packaged model (nervp/face/data): mean (front, side) and expressions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch
    from matplotlib.collections import LineCollection

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from nervp.face import load_head_model, shape

    m = load_head_model()
    f = m.faces.numpy()
    edges = np.unique(
        np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1), axis=0
    )
    mean = m.mean.numpy()
    panels = [
        ("jaw_open = 1", {"jaw_open": 1.0}, "front", None),
        ("jaw_open = 1 (side)", {"jaw_open": 1.0}, "side", None),
        ("smile_left = smile_right = 1", {"smile_left": 1.0, "smile_right": 1.0}, "front", "mouth"),
        ("pucker = 1 (side)", {"pucker": 1.0}, "side", "mouth"),
        ("funnel = 1", {"funnel": 1.0}, "front", "mouth"),
        ("blink_left = 1", {"blink_left": 1.0}, "front", "eyes"),
        ("brow_raise_left = 1", {"brow_raise_left": 1.0}, "front", "upper"),
        (
            "brow_lower_left = brow_lower_right = 1",
            {"brow_lower_left": 1.0, "brow_lower_right": 1.0},
            "front",
            "upper",
        ),
        ("gaze_yaw = +1 (toward +x, subject's left)", {"gaze_yaw": 1.0}, "front", "eyes"),
        ("gaze_pitch = +1 (up)", {"gaze_pitch": 1.0}, "front", "eyes"),
    ]
    boxes = {
        "mouth": (-0.05, 0.05, -0.09, -0.01),
        "eyes": (-0.06, 0.06, -0.01, 0.06),
        "upper": (-0.07, 0.07, -0.01, 0.075),
    }
    side_boxes = {"mouth": (0.04, 0.13, -0.1, -0.01)}

    def draw(ax, v, view, ref=None, box=None, title=""):
        ij = [0, 1] if view == "front" else [2, 1]
        if ref is not None:
            ax.add_collection(LineCollection(ref[edges][:, :, ij], lw=0.4, color="0.75"))
        ax.add_collection(LineCollection(v[edges][:, :, ij], lw=0.5, color="k"))
        for side in ("left", "right"):
            ring = list(m.groups.iris(side)[1:])
            loop = v[ring + ring[:1]]
            ax.plot(loop[:, ij[0]], loop[:, ij[1]], color="red", lw=1.5)
            c = v[m.groups.iris(side)[0]]
            ax.plot(c[ij[0]], c[ij[1]], ".", color="red", ms=4)
        ax.set_aspect("equal")
        if box is None:
            ax.autoscale()
        else:
            ax.set_xlim(box[0], box[1])
            ax.set_ylim(box[2], box[3])
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("z (m)" if view == "side" else "x (m)", fontsize=7)
        ax.tick_params(labelsize=6)

    fig = plt.figure(figsize=(17, 15))
    grid = fig.add_gridspec(3, 5, height_ratios=[2.3, 1, 1])
    draw(
        fig.add_subplot(grid[0, 0:3]),
        mean,
        "front",
        title="mean shape, front (camera on +z; subject's left = +x = image right)",
    )
    draw(
        fig.add_subplot(grid[0, 3:5]), mean, "side", title="mean shape, side (+z = out of the face)"
    )
    for k, (title, phi_d, view, zoom) in enumerate(panels):
        beta, _, phi = m.zeros(1)
        for name, val in phi_d.items():
            phi[0, m.expr_index(name)] = val
        with torch.no_grad():
            v = shape(m, beta, phi)[0].numpy()
        box = (side_boxes if view == "side" else boxes).get(zoom) if zoom else None
        draw(fig.add_subplot(grid[1 + k // 5, k % 5]), v, view, ref=mean, box=box, title=title)
    fig.suptitle(
        "nervp head model on MediaPipe FaceMesh topology (grey: mean; black: expression; red: iris)"
    )
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, dpi=80)
    plt.close(fig)
    from PIL import Image  # a 64-colour palette keeps the committed picture small

    rgb = Image.open(buf).convert("RGB")
    rgb.quantize(128, method=Image.Quantize.FASTOCTREE).save(path, optimize=True)


if __name__ == "__main__":
    sys.exit(main())

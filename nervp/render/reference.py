"""The slow, obviously-correct twin of `rasterize`: a Python loop over triangles and the
pixels of each bounding box, in numpy float32 scalars, following the rules of
`nervp.render.triangle` one scalar operation at a time (the tests hold the fast path to it,
bit for bit)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from nervp.render.fragments import Fragments
from nervp.render.triangle import AREA_EPS, EPS, NEAR_M, check_inputs, near32


def rasterize_reference(
    screen: Tensor, faces: Tensor, height: int, width: int, *,
    cull_backfaces: bool = False, near: float = NEAR_M,
) -> Fragments:
    """Slow, obviously-correct twin of `rasterize`: a Python loop over triangles and the
    pixels of each bounding box, in numpy float32 scalars, with the same rules."""
    screen, faces = check_inputs(screen, faces, height, width)
    near = near32(near)
    device = screen.device
    s_np = screen.cpu().numpy()
    f_np = faces.cpu().numpy()
    B = s_np.shape[0]
    f32 = np.float32
    eps, one_eps = f32(EPS), f32(1.0 + EPS)
    face_idx = np.full((B, height, width), -1, np.int64)
    bary = np.zeros((B, height, width, 3), np.float32)
    depth = np.full((B, height, width), np.inf, np.float32)
    with np.errstate(all="ignore"):
        for b in range(B):
            for f, tri in enumerate(f_np):
                (x0, y0, z0), (x1, y1, z1), (x2, y2, z2) = (s_np[b, v] for v in tri)
                e1x, e1y, e2x, e2y = x1 - x0, y1 - y0, x2 - x0, y2 - y0
                area = e1x * e2y - e1y * e2x
                if not (z0 > near and z1 > near and z2 > near):
                    continue
                if not (AREA_EPS < abs(area) < np.inf) or (cull_backfaces and area > 0):
                    continue
                col0 = max(np.ceil(min(x0, x1, x2) - f32(0.5)), f32(0))
                col1 = min(np.floor(max(x0, x1, x2) - f32(0.5)), f32(width - 1))
                row0 = max(np.ceil(min(y0, y1, y2) - f32(0.5)), f32(0))
                row1 = min(np.floor(max(y0, y1, y2) - f32(0.5)), f32(height - 1))
                inv = f32(1) / area
                A1, B1, A2, B2 = e2y * inv, (-e2x) * inv, (-e1y) * inv, e1x * inv
                iz0, iz1, iz2 = f32(1) / z0, f32(1) / z1, f32(1) / z2
                d1, d2 = iz1 - iz0, iz2 - iz0
                Az, Bz = A1 * d1 + A2 * d2, B1 * d1 + B2 * d2
                ox, oy = (col0 + f32(0.5)) - x0, (row0 + f32(0.5)) - y0
                for i in range(int(row0), int(row1) + 1):
                    dy = oy + (f32(i) - row0)
                    for j in range(int(col0), int(col1) + 1):
                        dx = ox + (f32(j) - col0)
                        l1 = A1 * dx + B1 * dy
                        l2 = A2 * dx + B2 * dy
                        s = iz0 + (Az * dx + Bz * dy)
                        if not (l1 >= -eps and l2 >= -eps and l1 + l2 <= one_eps and s > 0):
                            continue
                        zz = f32(1) / s
                        if (
                            not np.isfinite(zz) or zz >= depth[b, i, j]
                        ):  # ties keep the earlier, smaller face
                            continue
                        l0 = (f32(1) - l1) - l2
                        w0 = max(l0, f32(0)) * iz0
                        w1 = max(l1, f32(0)) * iz1
                        w2 = max(l2, f32(0)) * iz2
                        sw = (w0 + w1) + w2
                        depth[b, i, j] = zz
                        face_idx[b, i, j] = f
                        bary[b, i, j] = (w0 / sw, w1 / sw, w2 / sw)
    return Fragments(
        torch.from_numpy(face_idx).to(device),
        torch.from_numpy(bary).to(device),
        torch.from_numpy(depth).to(device),
    )

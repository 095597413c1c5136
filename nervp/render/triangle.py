"""Per-triangle set-up shared by the fast rasterizer (`nervp.render.rasterize`) and its
reference (`nervp.render.reference`): input checks, the drop test and candidate box, and
the coefficients of the barycentric and 1/z planes.

Rules
-----
Inputs are screen-space vertices from `camera.project`: pixel x (right), pixel y
(down), camera-space depth z in metres.

1. **Dropped triangles.** A triangle is dropped when any vertex fails ``z > near``
   (no clipping; NaN fails), or when its doubled signed screen area
   ``a = (x1-x0)(y2-y0) - (y1-y0)(x2-x0)`` is not finite (a non-finite x or y always
   makes it so) or has ``|a| <= 2**-20`` px².
2. **Back faces.** Mesh faces list their vertices counter-clockwise seen from
   outside (outward normal ``(v1-v0) x (v2-v0)``, right-hand rule). With camera
   +x right, +y down, +z forward and ``fx, fy > 0``, the sign of ``a`` equals the
   sign of ``n . (v0 - eye)``: ``a < 0`` is a front face (it looks counter-clockwise
   in the displayed image, whose y axis points down), ``a > 0`` is a back face.
   ``cull_backfaces=True`` drops triangles with ``a > 0``.
3. **Candidates.** The centre of pixel (row i, column j) is ``(j + 0.5, i + 0.5)``.
   A triangle is tested against the pixels whose centres lie in its bounding box,
   clipped to the image: columns ``ceil(min x - 0.5) .. floor(max x - 0.5)``.
4. **Coverage.** With ``lx = j - col0``, ``ly = i - row0`` (offsets from the box
   corner), ``ox = (col0 + 0.5) - x0`` and ``oy = (row0 + 0.5) - y0``, the pixel
   offset from vertex 0 is ``dx = ox + lx``, ``dy = oy + ly``, and the screen-space
   barycentrics are ``l1 = A1*dx + B1*dy``, ``l2 = A2*dx + B2*dy`` with
   ``A1 = (y2-y0)*r``, ``B1 = -(x2-x0)*r``, ``A2 = -(y1-y0)*r``, ``B2 = (x1-x0)*r``,
   ``r = 1/a`` (Cramer's rule; ``l0 = 1 - l1 - l2``). The pixel is covered, on the edge
   included, when ``l1 >= -eps``, ``l2 >= -eps`` and ``l1 + l2 <= 1 + eps`` with
   ``eps = 2**-17``.
5. **Depth.** ``1/z`` is affine in screen space:
   ``s = 1/z0 + (Az*dx + Bz*dy)`` with ``Az = A1*(1/z1 - 1/z0) + A2*(1/z2 - 1/z0)``
   (``Bz`` likewise with ``B1, B2``), and the depth is ``z = 1/s`` (the pixel is
   not covered unless ``s > 0`` and ``z`` is finite). This is the perspective-correct
   camera z.
6. **Depth test.** Per image and pixel the smallest ``z`` wins; exact ties go to the
   smaller face index.
7. **Barycentrics** of the winner: ``w_k = max(l_k, 0) / z_k``,
   ``bary_k = w_k / ((w0 + w1) + w2)``: perspective-correct, summing to 1, weights
   for ``faces[f, 0..2]``. Background pixels get ``face_idx = -1``, ``bary = 0``,
   ``depth = +inf``.

All the arithmetic is float32 (inputs are cast), one IEEE operation at a time in the
order written in `triangle_box`, `plane_coeffs`, `binning.covered` and
`rasterize._resolve` (no fused multiply-add),
so CPU, GPU and the reference agree.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

EPS = 2.0**-17
"""Coverage tolerance on screen-space barycentrics (exactly representable)."""
AREA_EPS = 2.0**-20
"""Triangles with ``|doubled screen area| <= AREA_EPS`` px² are dropped."""
NEAR_M = 1e-3
"""Default near limit (metres): triangles with a vertex at ``z <= near`` are dropped."""
MAX_PAIRS = 2**24
"""Default bound on the (triangle, pixel) candidate pairs the fast path holds at once."""
NCOLS = 9  # rows of the per-triangle table: ox oy A1 B1 A2 B2 iz0 Az Bz
MAX_PIXELS = 1 << 22  # pixel indices stay exact in float32 arithmetic


def check_inputs(screen: Tensor, faces: Tensor, height: int, width: int) -> tuple[Tensor, Tensor]:
    if not isinstance(screen, Tensor) or screen.dim() != 3 or screen.shape[-1] != 3:
        shape = tuple(screen.shape) if isinstance(screen, Tensor) else type(screen).__name__
        raise ValueError(
            f"screen must be a (B, V, 3) tensor of pixel x, y and depth z; got {shape}"
        )
    if not screen.is_floating_point():
        raise ValueError(f"screen must be floating point, got {screen.dtype}")
    if not isinstance(faces, Tensor) or faces.dim() != 2 or faces.shape[-1] != 3:
        shape = tuple(faces.shape) if isinstance(faces, Tensor) else type(faces).__name__
        raise ValueError(f"faces must be an (F, 3) integer tensor; got {shape}")
    if faces.is_floating_point() or faces.dtype == torch.bool:
        raise ValueError(
            f"faces must be integer, got {faces.dtype} with shape {tuple(faces.shape)}"
        )
    if int(height) <= 0 or int(width) <= 0:
        raise ValueError(f"image size must be positive, got height={height}, width={width}")
    if int(height) * int(width) > MAX_PIXELS:
        raise ValueError(
            f"image {height}x{width} has more than {MAX_PIXELS} pixels (2048 x 2048); "
            "render it in tiles"
        )
    v = screen.shape[1]
    if faces.numel() and (int(faces.min()) < 0 or int(faces.max()) >= v):
        raise ValueError(
            f"faces (shape {tuple(faces.shape)}) index vertices in [{int(faces.min())}, "
            f"{int(faces.max())}] but screen (shape {tuple(screen.shape)}) has {v} vertices"
        )
    if screen.shape[0] * faces.shape[0] >= 2**31:
        raise ValueError(f"too many triangles: batch {screen.shape[0]} x {faces.shape[0]} faces")
    screen = screen.detach().to(torch.float32)
    return screen, faces.to(device=screen.device, dtype=torch.int64)


def near32(near: float) -> float:
    """`near` rounded to float32, so every path compares against the same value."""
    return float(np.float32(near))


def triangle_box(
    x: Tensor,
    y: Tensor,
    z: Tensor,
    height: int,
    width: int,
    near: float,
    cull: bool,
    out: Tensor,
) -> Tensor:
    """Candidate box and drop test (rules 1-3). x, y, z: (3, n) float32 per vertex.

    Writes into `out` (4, n) float32 the first column and row of each box and its
    width and height in pixels (0 when empty). Returns keep: (n,) bool.
    """
    x0, x1, x2 = x
    y0, y1, y2 = y
    area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
    aa = area.abs()
    keep = (aa > AREA_EPS) & (aa < torch.inf)  # non-finite x or y make the area non-finite
    keep &= torch.minimum(torch.minimum(z[0], z[1]), z[2]) > near  # NaN z fails too
    if cull:
        keep &= area < 0
    col0 = torch.ceil(torch.minimum(torch.minimum(x0, x1), x2) - 0.5, out=out[0]).clamp_(min=0.0)
    col1 = torch.floor(torch.maximum(torch.maximum(x0, x1), x2) - 0.5).clamp_(max=width - 1.0)
    row0 = torch.ceil(torch.minimum(torch.minimum(y0, y1), y2) - 0.5, out=out[1]).clamp_(min=0.0)
    row1 = torch.floor(torch.maximum(torch.maximum(y0, y1), y2) - 0.5).clamp_(max=height - 1.0)
    zero = torch.zeros((), device=x.device)
    torch.fmax(col1 - col0 + 1.0, zero, out=out[2])  # fmax: NaN (non-finite vertex) -> 0
    torch.fmax(row1 - row0 + 1.0, zero, out=out[3])
    return keep


def plane_coeffs(x: Tensor, y: Tensor, z: Tensor, col0: Tensor, row0: Tensor) -> Tensor:
    """(9, n) float32 rows ox, oy, A1, B1, A2, B2, 1/z0, Az, Bz (rules 4-5)."""
    x0, x1, x2 = x
    y0, y1, y2 = y
    e1x, e1y, e2x, e2y = x1 - x0, y1 - y0, x2 - x0, y2 - y0
    area = e1x * e2y - e1y * e2x
    out = torch.empty((NCOLS,) + x0.shape, dtype=torch.float32, device=x0.device)
    ox, oy, A1, B1, A2, B2, iz0, Az, Bz = out.unbind(0)
    torch.sub(col0 + 0.5, x0, out=ox)
    torch.sub(row0 + 0.5, y0, out=oy)
    inv = torch.reciprocal(area)
    torch.mul(e2y, inv, out=A1)
    torch.mul(e2x.neg_(), inv, out=B1)
    torch.mul(e1y.neg_(), inv, out=A2)
    torch.mul(e1x, inv, out=B2)
    torch.reciprocal(z[0], out=iz0)
    d1 = torch.reciprocal(z[1]).sub_(iz0)
    d2 = torch.reciprocal(z[2]).sub_(iz0)
    torch.add(A1 * d1, A2 * d2, out=Az)
    torch.add(B1 * d1, B2 * d2, out=Bz)
    return out

"""The one triangle rasterizer of the project: a vectorised z-buffer in plain PyTorch.

The same code runs on CPU and GPU. `rasterize` is the fast path; `rasterize_reference`
(`nervp.render.reference`) is a slow per-triangle, per-pixel loop written to be obviously
correct. Both follow the rules of `nervp.render.triangle` *exactly*, in the same float32
arithmetic, so their outputs match bit for bit (the tests hold them to it).

Method of the fast path
-----------------------
Triangles are processed in blocks (whole images of the batch at a time when a mesh
fits). Per block: gather the vertices, compute each triangle's box and drop test, and
sort the live triangles by box size (a stable sort of a uint8 class). Each class is
evaluated as dense (tile slot, triangle) arrays by broadcasting, with no per-pair
gathers: tiles match boxes of up to 8 x 8 pixels exactly and are powers of two up to
64 beyond that (slots outside a box are masked). Boxes wider or taller than 64 pixels
enumerate their (triangle, pixel) pairs with ``repeat_interleave``. Each candidate
pair becomes one int64, ``(float32 bits of z) << 32 | flat triangle id``, or an
"empty" key when not covered. Positive floats order like their bit patterns, so a
single ``scatter_reduce(amin)`` into the per-pixel buffer performs the depth test *and*
the tie-break, and blocks and chunks merge into the same buffer by the same rule
(depth-only rasterization scatters the int32 bits alone). Only the winners are then
revisited to compute barycentrics. Memory is bounded by ``max_pairs`` candidate pairs
per step (CPU steps are smaller still, to stay in cache). Images are limited to 2**22
pixels (2048 x 2048), where pixel offsets stay exact in float32.
The binning (box classes, tiles, pair enumeration, packed keys) is `nervp.render.binning`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from nervp.render.binning import (
    BIG,
    DROPPED,
    NT,
    SLACK_ROWS,
    TILES,
    big_class,
    chunks,
    classify,
    tile_class,
)
from nervp.render.fragments import Fragments, interpolate
from nervp.render.reference import rasterize_reference
from nervp.render.triangle import (
    MAX_PAIRS,
    NEAR_M,
    check_inputs,
    near32,
    plane_coeffs,
    triangle_box,
)

__all__ = ["Fragments", "rasterize", "rasterize_depth", "interpolate", "rasterize_reference"]

_EMPTY = torch.iinfo(torch.int64).max
_LOW32 = 0xFFFFFFFF
_TRI_BLOCK = 1 << 19  # triangles set up at once
_PAIR_BLOCK = 1 << 20  # pairs evaluated at once: keeps temporaries cache-resident
_INF_BITS = 0x7F800000  # float32 +inf: keys at or above it are empty


def _zbuffer(
    screen: Tensor,
    faces: Tensor,
    height: int,
    width: int,
    cull: bool,
    near: float,
    max_pairs: int,
    with_ids: bool = True,
) -> Tensor:
    """(B * H * W,) per-pixel winners: int64 ``z bits << 32 | flat triangle id (b * F + f)``,
    or with ``with_ids=False`` int32 z bits; z bits >= +inf's mean empty."""
    B, V = screen.shape[:2]
    F = faces.shape[0]
    hw = height * width
    dev = screen.device
    slack = SLACK_ROWS * width + TILES[-1]  # masked tile slots may reach past the end
    if with_ids:
        buf = torch.full((B * hw + slack,), _EMPTY, dtype=torch.int64, device=dev)
    else:  # depth only: float32 bits of z, compared as int32
        buf = torch.full((B * hw + slack,), 0x7FFFFFFF, dtype=torch.int32, device=dev)
    if F == 0:
        return buf[: B * hw]
    screen_t = screen.reshape(B * V, 3).t().contiguous()  # (3, B * V)
    faces_t = faces.t().contiguous()  # (3, F)
    if dev.type == "cpu":  # blocks sized for the caches
        cap, block = max(1, min(int(max_pairs), _PAIR_BLOCK)), _TRI_BLOCK
    else:  # few, large launches
        cap, block = max(1, int(max_pairs)), max(_TRI_BLOCK, int(max_pairs) // 8)
    for b0, b1, f0, f1 in chunks(B, F, block):
        nf = f1 - f0
        vid = faces_t[:, None, f0:f1] + (torch.arange(b0, b1, device=dev) * V).view(1, -1, 1)
        n = vid[0].numel()
        # rows: x0 x1 x2 y0 y1 y2 z0 z1 z2 col0 row0 bw bh of every triangle of the block
        tab = torch.empty(13, n, dtype=torch.float32, device=dev)
        for c in range(3):
            torch.index_select(screen_t[c], 0, vid.reshape(-1), out=tab[3 * c : 3 * c + 3].view(-1))
        keep = triangle_box(*tab[:9].view(3, 3, n), height, width, near, cull, out=tab[9:])
        cls, sizes = classify(tab[11], tab[12], keep)
        n_live = n - sizes[DROPPED]
        if n_live == 0:
            continue
        # sort the live triangles by class: each class is then one contiguous slice
        order = torch.argsort(cls, stable=True)[:n_live]
        sel = torch.empty(13, n_live, dtype=torch.float32, device=dev)
        for r in range(13):
            torch.index_select(tab[r], 0, order, out=sel[r])
        col0, row0, box = sel[9], sel[10], sel[11:]
        cols = plane_coeffs(*sel[:9].view(3, 3, -1), col0, row0)
        img = torch.div(order, nf, rounding_mode="floor") + b0
        base = img * hw + (row0 * width + col0).long()
        tid = order + (b0 * F + f0) if with_ids else None
        a = 0
        for k in range(DROPPED):
            m = sizes[k]
            sl = slice(a, a + m)
            a += m
            if m == 0:
                continue
            tk = None if tid is None else tid[sl]
            if k < BIG:
                tw, th = TILES[k // NT], TILES[k % NT]
                tile_class(
                    buf,
                    cols[:, sl],
                    box[:, sl],
                    base[sl].unsqueeze(0),
                    None if tk is None else tk.unsqueeze(0),
                    tw,
                    th,
                    width,
                    cap,
                )
            else:
                count = (box[0, sl] * box[1, sl]).long()
                big_class(buf, cols[:, sl], base[sl], tk, box[0, sl], count, width, cap)
    return buf[: B * hw]


def _winners(
    screen: Tensor, faces: Tensor, height: int, width: int,
    cull_backfaces: bool, near: float, max_pairs: int, with_ids: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The checked inputs (screen (B, V, 3) float32, faces (F, 3) int64), the per-pixel
    winners of `_zbuffer` (B * H * W,) and their float32 z bits (B * H * W,) int32."""
    screen, faces = check_inputs(screen, faces, height, width)
    with torch.no_grad():
        buf = _zbuffer(screen, faces, height, width, cull_backfaces, near32(near), max_pairs, with_ids)
    zkey = buf if buf.dtype == torch.int32 else (buf >> 32).int()
    return screen, faces, buf, zkey


def _depth(zkey: Tensor) -> Tensor:
    """float32 depth of z bits, +inf where empty."""
    return torch.where(zkey < _INF_BITS, zkey.view(torch.float32), torch.inf)


def rasterize_depth(
    screen: Tensor, faces: Tensor, height: int, width: int, *,
    cull_backfaces: bool = False, near: float = NEAR_M, max_pairs: int = MAX_PAIRS,
) -> Tensor:
    """Depth only (B, H, W) float32, +inf on background: `rasterize(...).depth` without
    the barycentric pass (for shadow maps)."""
    screen, _, _, zkey = _winners(screen, faces, height, width, cull_backfaces, near, max_pairs, False)
    return _depth(zkey).view(screen.shape[0], height, width)


def rasterize(
    screen: Tensor, faces: Tensor, height: int, width: int, *,
    cull_backfaces: bool = False, near: float = NEAR_M, max_pairs: int = MAX_PAIRS,
) -> Fragments:
    """Rasterize a batch of meshes that share one triangle list.

    Args:
        screen: (B, V, 3) float screen-space vertices from `camera.project`: pixel x,
            pixel y, camera z in metres.
        faces: (F, 3) int64 vertex indices, counter-clockwise seen from outside.
        height, width: image size in pixels.
        cull_backfaces: drop triangles seen from behind (see the rules in
            `nervp.render.triangle`).
        near: triangles with a vertex at ``z <= near`` metres are dropped.
        max_pairs: at most this many (triangle, pixel) candidate pairs are held in
            memory at once (a single triangle larger than that is still done whole).

    Returns:
        `Fragments` (B, H, W); not differentiable (use `interpolate` for attributes).

    Example:
        >>> cam = make_camera(eye, target, 30.0, 256, 256)
        >>> frags = rasterize(project(verts, cam), faces, 256, 256)
        >>> normals_img = interpolate(frags, faces, vertex_normals)
    """
    screen, faces, buf, zkey = _winners(screen, faces, height, width, cull_backfaces, near, max_pairs, True)
    B = screen.shape[0]
    F = faces.shape[0]
    hw = height * width
    with torch.no_grad():
        face_idx = torch.full((B * hw,), -1, dtype=torch.int64, device=screen.device)
        bary = torch.zeros(B * hw, 3, dtype=torch.float32, device=screen.device)
        b, i, j = torch.nonzero(zkey.view(B, height, width) < _INF_BITS).unbind(1)
        if b.numel():
            pix = (b * height + i) * width + j
            face = (buf.index_select(0, pix) & _LOW32) - b * F
            face_idx.index_copy_(0, pix, face)
            step = _PAIR_BLOCK // 4 if screen.device.type == "cpu" else pix.numel()
            for a in range(0, pix.numel(), step):  # blocks that stay in cache
                sl = slice(a, a + step)
                weights = _resolve(screen, faces, b[sl], face[sl], i[sl], j[sl], height, width)
                for k in range(3):
                    bary[:, k].index_copy_(0, pix[sl], weights[k])
    return Fragments(
        face_idx.view(B, height, width),
        bary.view(B, height, width, 3),
        _depth(zkey).view(B, height, width),
    )


def _resolve(
    screen: Tensor,
    faces: Tensor,
    b: Tensor,
    face: Tensor,
    row: Tensor,
    col: Tensor,
    height: int,
    width: int,
) -> list[Tensor]:
    """Barycentrics (rule 7) of triangles `face` of images `b` at pixels (row, col):
    three (n,) float32 weights."""
    V = screen.shape[1]
    screen_t = screen.reshape(-1, 3).t().contiguous()  # (3, B * V)
    vbase = b * V
    vid = torch.cat([faces[:, k].index_select(0, face) + vbase for k in range(3)])  # (3n,)
    x, y, z = (screen_t[c].index_select(0, vid).view(3, -1) for c in range(3))
    box = torch.empty(4, face.shape[0], dtype=torch.float32, device=face.device)
    triangle_box(x, y, z, height, width, 0.0, False, out=box)
    col0, row0 = box[0], box[1]
    ox, oy, A1, B1, A2, B2, _, _, _ = plane_coeffs(x, y, z, col0, row0)
    dx = ox + (col.float() - col0)
    dy = oy + (row.float() - row0)
    l1 = A1 * dx + B1 * dy
    l2 = A2 * dx + B2 * dy
    l0 = (1.0 - l1) - l2
    w = [
        torch.clamp_(lk, min=0.0).mul_(torch.reciprocal(z[k])) for k, lk in enumerate((l0, l1, l2))
    ]
    total = (w[0] + w[1]) + w[2]
    return [wk.div_(total) for wk in w]


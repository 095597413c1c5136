"""The one triangle rasterizer of the project: a vectorised z-buffer in plain PyTorch.

The same code runs on CPU and GPU. `rasterize` is the fast path; `rasterize_reference`
is a slow per-triangle, per-pixel loop written to be obviously correct. Both follow
the rules below *exactly*, in the same float32 arithmetic, so their outputs match
bit for bit (the tests hold them to it).

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
order written in `_box`, `_coeffs`, `_covered` and `_resolve` (no fused multiply-add),
so CPU, GPU and the reference agree.

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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["Fragments", "rasterize", "rasterize_depth", "interpolate", "rasterize_reference"]

EPS = 2.0**-17
"""Coverage tolerance on screen-space barycentrics (exactly representable)."""
AREA_EPS = 2.0**-20
"""Triangles with ``|doubled screen area| <= AREA_EPS`` px² are dropped."""

_EMPTY = torch.iinfo(torch.int64).max
_LOW32 = 0xFFFFFFFF
_TRI_BLOCK = 1 << 19  # triangles set up at once
_PAIR_BLOCK = 1 << 20  # pairs evaluated at once: keeps temporaries cache-resident
_NCOLS = 9  # rows of the per-triangle table: ox oy A1 B1 A2 B2 iz0 Az Bz
_MAX_PIXELS = 1 << 22  # pixel indices stay exact in float32 arithmetic


@dataclass(frozen=True)
class Fragments:
    """What each pixel sees.

    Attributes:
        face_idx: (B, H, W) int64 index into ``faces`` of the visible triangle, -1 where
            no triangle covers the pixel centre.
        bary: (B, H, W, 3) float32 perspective-correct barycentric weights of
            ``faces[face_idx]``'s three vertices (sum to 1), 0 on background.
        depth: (B, H, W) float32 camera-space z of the visible surface in metres,
            +inf on background.
    """

    face_idx: Tensor
    bary: Tensor
    depth: Tensor

    @property
    def mask(self) -> Tensor:
        """(B, H, W) bool, True where a triangle is visible."""
        return self.face_idx >= 0


# --------------------------------------------------------------------------- checks


def _check(screen: Tensor, faces: Tensor, height: int, width: int) -> tuple[Tensor, Tensor]:
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
    if int(height) * int(width) > _MAX_PIXELS:
        raise ValueError(
            f"image {height}x{width} has more than {_MAX_PIXELS} pixels (2048 x 2048); "
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


def _near32(near: float) -> float:
    """`near` rounded to float32, so every path compares against the same value."""
    return float(np.float32(near))


# --------------------------------------------------------------------------- per triangle


def _box(
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


def _coeffs(x: Tensor, y: Tensor, z: Tensor, col0: Tensor, row0: Tensor) -> Tensor:
    """(9, n) float32 rows ox, oy, A1, B1, A2, B2, 1/z0, Az, Bz (rules 4-5)."""
    x0, x1, x2 = x
    y0, y1, y2 = y
    e1x, e1y, e2x, e2y = x1 - x0, y1 - y0, x2 - x0, y2 - y0
    area = e1x * e2y - e1y * e2x
    out = torch.empty((_NCOLS,) + x0.shape, dtype=torch.float32, device=x0.device)
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


# --------------------------------------------------------------------------- fast path

# Box classes. A box of bw x bh pixels is evaluated in a dense tile of TW x TH slots,
# TW the first of _TILES >= bw (likewise TH): exact up to 8, masked above. Boxes wider
# or taller than the last tile take the per-pair path (_BIG).
_TILES = (1, 2, 3, 4, 5, 6, 7, 8, 16, 32, 64)
_EXACT = 8  # tiles up to this size match the box exactly (no slot mask)
_NT = len(_TILES)
_BIG = _NT * _NT  # class of larger boxes (per-pair gathers)
_NONE = _BIG + 1  # class of dropped triangles and empty boxes
_SLACK_ROWS = _TILES[-1]  # masked slots may index past the last pixel: buffer slack


def _pack(zinv: Tensor, h: Tensor, tid: Tensor | None) -> Tensor:
    """The scatter key of each candidate pair.

    zinv: the 1/z plane value s; h: < 0 where the pair is not covered; tid: flat
    triangle ids broadcastable to zinv, or None for depth only. Returns int64
    ``z bits << 32 | tid`` (or int32 z bits without tid), where the z bits of a pair
    that is not covered are 0x7FFFFFFF (above +inf: empty).
    """
    zb = torch.reciprocal(zinv).view(torch.int32)
    # sign bit of h (or of z, where s < 0) -> all 31 value bits set: an empty key
    zkey = torch.maximum(zb, torch.bitwise_and(h.view(torch.int32) >> 31, 0x7FFFFFFF))
    if tid is None:
        return zkey
    packed = torch.empty(zkey.shape + (2,), dtype=torch.int32, device=zkey.device)
    packed[..., 0] = tid  # little-endian: low word
    packed[..., 1] = zkey
    return packed.view(torch.int64).squeeze(-1)


def _covered(dx: Tensor, dy: Tensor, A1, B1, A2, B2, iz0, Az, Bz) -> tuple[Tensor, Tensor]:
    """(s, h): the 1/z plane and a value that is >= 0 exactly where the rule holds."""
    l1 = A1 * dx + B1 * dy
    l2 = A2 * dx + B2 * dy
    s = iz0 + (Az * dx + Bz * dy)
    # l >= -eps  <=>  l + eps >= 0 and l1 + l2 <= 1 + eps <=> (1 + eps) - (l1 + l2) >= 0:
    # IEEE addition keeps the sign of the exact sum, so these are the rule's comparisons.
    h = torch.minimum(torch.minimum(l1, l2) + EPS, (1.0 + EPS) - (l1 + l2))
    return s, torch.minimum(h, s)


def _slot_offsets(tw: int, th: int, width: int, device) -> tuple[Tensor, Tensor, Tensor]:
    """(S, 1) column and row offsets (float32) and pixel-key offsets (int64) of a tile."""
    ly, lx = torch.meshgrid(
        torch.arange(th, device=device), torch.arange(tw, device=device), indexing="ij"
    )
    ly, lx = ly.reshape(-1, 1), lx.reshape(-1, 1)
    return lx.float(), ly.float(), ly * width + lx


def _tile_class(buf, cols, box, base, tid, tw: int, th: int, width: int, cap: int) -> None:
    """Triangles whose boxes fit a tw x th tile: dense (slots, triangles) arrays.

    cols: (9, n) coefficients; box: (2, n) box width and height (used only when the
    tile is larger than some boxes: slots outside a box are made empty); base, tid:
    (1, n) pixel key of the box corner and flat triangle id (or None).
    """
    lx, ly, koff = _slot_offsets(tw, th, width, buf.device)
    masked = tw > _EXACT or th > _EXACT
    n = base.shape[1]
    step = max(1, cap // (tw * th))
    for a in range(0, n, step):
        ox, oy, A1, B1, A2, B2, iz0, Az, Bz = cols[:, a : a + step].unbind(0)
        s, h = _covered(ox + lx, oy + ly, A1, B1, A2, B2, iz0, Az, Bz)
        if masked:  # >= 0 inside the box: (bw - 1) - lx and (bh - 1) - ly
            bw, bh = (box[:, a : a + step] - 1.0).unbind(0)
            h = torch.minimum(h, torch.minimum(bw - lx, bh - ly))
        packed = _pack(s, h, None if tid is None else tid[:, a : a + step])
        key = (base[:, a : a + step] + koff).view(-1)
        buf.scatter_reduce_(0, key, packed.view(-1), reduce="amin")


def _blocks(count: Tensor, cap: int) -> list[tuple[int, int, int]]:
    """Split triangles into consecutive ranges of at most `cap` pairs (a single
    triangle with more pairs gets a range of its own). Returns (start, end, pairs)."""
    cum = count.cumsum(0).cpu().numpy()
    out = []
    start, done, n = 0, 0, len(cum)
    while start < n:
        end = max(int(np.searchsorted(cum, done + cap, side="right")), start + 1)
        total = int(cum[end - 1])
        if total > done:
            out.append((start, end, total - done))
        start, done = end, total
    return out


def _big_class(buf, cols, base, tid, bw: Tensor, count: Tensor, width: int, cap: int) -> None:
    """Triangles with larger boxes: (triangle, pixel) pairs via repeat_interleave."""
    dev = buf.device
    rows = cols.t().contiguous()  # (n, 9): one row gather per pair
    for s, e, pairs in _blocks(count, cap):
        cnt = count[s:e]
        t = torch.repeat_interleave(cnt, output_size=pairs)
        first = cnt.cumsum(0) - cnt
        k = (torch.arange(pairs, device=dev) - first.index_select(0, t)).float()
        bwt = bw[s:e].float().index_select(0, t)
        ly = torch.floor((k + 0.5) / bwt)  # exact while k < 2**22
        lx = k - ly * bwt
        ox, oy, A1, B1, A2, B2, iz0, Az, Bz = rows[s:e].index_select(0, t).unbind(1)
        zinv, h = _covered(ox + lx, oy + ly, A1, B1, A2, B2, iz0, Az, Bz)
        packed = _pack(zinv, h, None if tid is None else tid[s:e].index_select(0, t))
        key = base[s:e].index_select(0, t) + (ly * width + lx).long()
        buf.scatter_reduce_(0, key, packed, reduce="amin")


def _chunks(B: int, F: int, block: int):
    """(b0, b1, f0, f1) triangle blocks: whole images [b0, b1) when a mesh fits in a
    block, else face ranges [f0, f1) of one image. Flat ids run contiguously."""
    if block >= F:
        k = block // F
        for b0 in range(0, B, k):
            yield b0, min(b0 + k, B), 0, F
    else:
        for b in range(B):
            for f0 in range(0, F, block):
                yield b, b + 1, f0, min(f0 + block, F)


def _class_table() -> Tensor:
    """(L, L) uint8 class of a box of w x h pixels, sizes clipped to L - 1 = last tile + 1."""
    lim = _TILES[-1] + 1
    tile = np.searchsorted(np.array(_TILES), np.arange(lim + 1))  # _NT where too big
    t = tile[:, None] * _NT + tile[None, :]
    t = np.where((tile[:, None] == _NT) | (tile[None, :] == _NT), _BIG, t)
    t[0, :] = t[:, 0] = _NONE
    return torch.from_numpy(t.astype(np.uint8))


def _classify(bw: Tensor, bh: Tensor, keep: Tensor) -> tuple[Tensor, list[int]]:
    """Box class per triangle (uint8): tile index ``i * _NT + j`` (tile ``_TILES[i] x
    _TILES[j]``), _BIG for boxes beyond the tiles, _NONE for dropped triangles and empty
    boxes; and the number of triangles in each class."""
    lim = _TILES[-1] + 1
    raw = (bw * keep).clamp_(max=lim) * (lim + 1) + bh.clamp(max=lim)
    cls = _class_table().view(-1).to(bw.device).index_select(0, raw.long())
    return cls, torch.bincount(cls, minlength=_NONE + 1).tolist()


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
    slack = _SLACK_ROWS * width + _TILES[-1]  # masked tile slots may reach past the end
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
    for b0, b1, f0, f1 in _chunks(B, F, block):
        nf = f1 - f0
        vid = faces_t[:, None, f0:f1] + (torch.arange(b0, b1, device=dev) * V).view(1, -1, 1)
        n = vid[0].numel()
        # rows: x0 x1 x2 y0 y1 y2 z0 z1 z2 col0 row0 bw bh of every triangle of the block
        tab = torch.empty(13, n, dtype=torch.float32, device=dev)
        for c in range(3):
            torch.index_select(screen_t[c], 0, vid.reshape(-1), out=tab[3 * c : 3 * c + 3].view(-1))
        keep = _box(*tab[:9].view(3, 3, n), height, width, near, cull, out=tab[9:])
        cls, sizes = _classify(tab[11], tab[12], keep)
        n_live = n - sizes[_NONE]
        if n_live == 0:
            continue
        # sort the live triangles by class: each class is then one contiguous slice
        order = torch.argsort(cls, stable=True)[:n_live]
        sel = torch.empty(13, n_live, dtype=torch.float32, device=dev)
        for r in range(13):
            torch.index_select(tab[r], 0, order, out=sel[r])
        col0, row0, box = sel[9], sel[10], sel[11:]
        cols = _coeffs(*sel[:9].view(3, 3, -1), col0, row0)
        img = torch.div(order, nf, rounding_mode="floor") + b0
        base = img * hw + (row0 * width + col0).long()
        tid = order + (b0 * F + f0) if with_ids else None
        a = 0
        for k in range(_NONE):
            m = sizes[k]
            sl = slice(a, a + m)
            a += m
            if m == 0:
                continue
            tk = None if tid is None else tid[sl]
            if k < _BIG:
                tw, th = _TILES[k // _NT], _TILES[k % _NT]
                _tile_class(
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
                _big_class(buf, cols[:, sl], base[sl], tk, box[0, sl], count, width, cap)
    return buf[: B * hw]


_INF_BITS = 0x7F800000  # float32 +inf: keys at or above it are empty


def _unpack_depth(buf: Tensor) -> Tensor:
    zkey = buf if buf.dtype == torch.int32 else (buf >> 32).int()
    return torch.where(zkey < _INF_BITS, zkey.view(torch.float32), torch.inf)


def rasterize_depth(
    screen: Tensor,
    faces: Tensor,
    height: int,
    width: int,
    *,
    cull_backfaces: bool = False,
    near: float = 1e-3,
    max_pairs: int = 2**24,
) -> Tensor:
    """Depth only (B, H, W) float32, +inf on background: `rasterize(...).depth` without
    the barycentric pass (for shadow maps)."""
    screen, faces = _check(screen, faces, height, width)
    with torch.no_grad():
        buf = _zbuffer(
            screen, faces, height, width, cull_backfaces, _near32(near), max_pairs, with_ids=False
        )
    return _unpack_depth(buf).view(screen.shape[0], height, width)


def rasterize(
    screen: Tensor,
    faces: Tensor,
    height: int,
    width: int,
    *,
    cull_backfaces: bool = False,
    near: float = 1e-3,
    max_pairs: int = 2**24,
) -> Fragments:
    """Rasterize a batch of meshes that share one triangle list.

    Args:
        screen: (B, V, 3) float screen-space vertices from `camera.project`: pixel x,
            pixel y, camera z in metres.
        faces: (F, 3) int64 vertex indices, counter-clockwise seen from outside.
        height, width: image size in pixels.
        cull_backfaces: drop triangles seen from behind (see the module rules).
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
    screen, faces = _check(screen, faces, height, width)
    B, V = screen.shape[:2]
    F = faces.shape[0]
    hw = height * width
    with torch.no_grad():
        buf = _zbuffer(screen, faces, height, width, cull_backfaces, _near32(near), max_pairs)
        face_idx = torch.full((B * hw,), -1, dtype=torch.int64, device=screen.device)
        bary = torch.zeros(B * hw, 3, dtype=torch.float32, device=screen.device)
        zkey = (buf >> 32).int()
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
        depth = torch.where(zkey < _INF_BITS, zkey.view(torch.float32), torch.inf)
    return Fragments(
        face_idx.view(B, height, width),
        bary.view(B, height, width, 3),
        depth.view(B, height, width),
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
    _box(x, y, z, height, width, 0.0, False, out=box)
    col0, row0 = box[0], box[1]
    ox, oy, A1, B1, A2, B2, _, _, _ = _coeffs(x, y, z, col0, row0)
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


# --------------------------------------------------------------------------- attributes


def interpolate(frags: Fragments, faces: Tensor, attrs: Tensor) -> Tensor:
    """Per-vertex attributes (B, V, C) (or (V, C), shared) -> (B, H, W, C) images.

    Perspective-correct (uses `frags.bary`), 0 on background, differentiable with
    respect to `attrs`.
    """
    B, H, W = frags.face_idx.shape
    if attrs.dim() == 2:
        attrs = attrs.unsqueeze(0).expand(B, -1, -1)
    if attrs.dim() != 3 or attrs.shape[0] != B:
        raise ValueError(f"attrs must be (B={B}, V, C) or (V, C); got {tuple(attrs.shape)}")
    if faces.dim() != 2 or faces.shape[1] != 3:
        raise ValueError(f"faces must be (F, 3); got {tuple(faces.shape)}")
    V, C = attrs.shape[1], attrs.shape[2]
    faces = faces.to(device=attrs.device, dtype=torch.int64)
    mask = frags.face_idx >= 0
    vid = faces.index_select(0, frags.face_idx.clamp(min=0).view(-1)).view(B, H * W * 3)
    vid = vid + (torch.arange(B, device=attrs.device) * V).unsqueeze(1)
    vals = attrs.reshape(B * V, C).index_select(0, vid.view(-1)).view(B, H, W, 3, C)
    out = (vals * frags.bary.to(attrs.dtype).unsqueeze(-1)).sum(-2)
    return torch.where(mask.unsqueeze(-1), out, torch.zeros((), dtype=out.dtype, device=out.device))


# --------------------------------------------------------------------------- reference


def rasterize_reference(
    screen: Tensor,
    faces: Tensor,
    height: int,
    width: int,
    *,
    cull_backfaces: bool = False,
    near: float = 1e-3,
) -> Fragments:
    """Slow, obviously-correct twin of `rasterize`: a Python loop over triangles and the
    pixels of each bounding box, in numpy float32 scalars, with the same rules."""
    screen, faces = _check(screen, faces, height, width)
    near = _near32(near)
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

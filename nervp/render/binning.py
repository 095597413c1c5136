"""Binning of the fast rasterizer: triangles sorted into box-size classes, each evaluated
as dense (tile slot, triangle) arrays or, for large boxes, as enumerated (triangle, pixel)
pairs, and scattered into the per-pixel z-buffer as packed keys.

All arithmetic follows the rules of `nervp.render.triangle`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from nervp.render.triangle import EPS

# Box classes. A box of bw x bh pixels is evaluated in a dense tile of TW x TH slots,
# TW the first of TILES >= bw (likewise TH): exact up to 8, masked above. Boxes wider
# or taller than the last tile take the per-pair path (BIG).
TILES = (1, 2, 3, 4, 5, 6, 7, 8, 16, 32, 64)
EXACT = 8  # tiles up to this size match the box exactly (no slot mask)
NT = len(TILES)
BIG = NT * NT  # class of larger boxes (per-pair gathers)
DROPPED = BIG + 1  # class of dropped triangles and empty boxes
SLACK_ROWS = TILES[-1]  # masked slots may index past the last pixel: buffer slack


def pack(zinv: Tensor, h: Tensor, tid: Tensor | None) -> Tensor:
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


def covered(dx: Tensor, dy: Tensor, A1, B1, A2, B2, iz0, Az, Bz) -> tuple[Tensor, Tensor]:
    """(s, h): the 1/z plane and a value that is >= 0 exactly where the rule holds."""
    l1 = A1 * dx + B1 * dy
    l2 = A2 * dx + B2 * dy
    s = iz0 + (Az * dx + Bz * dy)
    # l >= -eps  <=>  l + eps >= 0 and l1 + l2 <= 1 + eps <=> (1 + eps) - (l1 + l2) >= 0:
    # IEEE addition keeps the sign of the exact sum, so these are the rule's comparisons.
    h = torch.minimum(torch.minimum(l1, l2) + EPS, (1.0 + EPS) - (l1 + l2))
    return s, torch.minimum(h, s)


def slot_offsets(tw: int, th: int, width: int, device) -> tuple[Tensor, Tensor, Tensor]:
    """(S, 1) column and row offsets (float32) and pixel-key offsets (int64) of a tile."""
    ly, lx = torch.meshgrid(
        torch.arange(th, device=device), torch.arange(tw, device=device), indexing="ij"
    )
    ly, lx = ly.reshape(-1, 1), lx.reshape(-1, 1)
    return lx.float(), ly.float(), ly * width + lx


def tile_class(buf, cols, box, base, tid, tw: int, th: int, width: int, cap: int) -> None:
    """Triangles whose boxes fit a tw x th tile: dense (slots, triangles) arrays.

    cols: (9, n) coefficients; box: (2, n) box width and height (used only when the
    tile is larger than some boxes: slots outside a box are made empty); base, tid:
    (1, n) pixel key of the box corner and flat triangle id (or None).
    """
    lx, ly, koff = slot_offsets(tw, th, width, buf.device)
    masked = tw > EXACT or th > EXACT
    n = base.shape[1]
    step = max(1, cap // (tw * th))
    for a in range(0, n, step):
        ox, oy, A1, B1, A2, B2, iz0, Az, Bz = cols[:, a : a + step].unbind(0)
        s, h = covered(ox + lx, oy + ly, A1, B1, A2, B2, iz0, Az, Bz)
        if masked:  # >= 0 inside the box: (bw - 1) - lx and (bh - 1) - ly
            bw, bh = (box[:, a : a + step] - 1.0).unbind(0)
            h = torch.minimum(h, torch.minimum(bw - lx, bh - ly))
        packed = pack(s, h, None if tid is None else tid[:, a : a + step])
        key = (base[:, a : a + step] + koff).view(-1)
        buf.scatter_reduce_(0, key, packed.view(-1), reduce="amin")


def blocks(count: Tensor, cap: int) -> list[tuple[int, int, int]]:
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


def big_class(buf, cols, base, tid, bw: Tensor, count: Tensor, width: int, cap: int) -> None:
    """Triangles with larger boxes: (triangle, pixel) pairs via repeat_interleave."""
    dev = buf.device
    rows = cols.t().contiguous()  # (n, 9): one row gather per pair
    for s, e, pairs in blocks(count, cap):
        cnt = count[s:e]
        t = torch.repeat_interleave(cnt, output_size=pairs)
        first = cnt.cumsum(0) - cnt
        k = (torch.arange(pairs, device=dev) - first.index_select(0, t)).float()
        bwt = bw[s:e].float().index_select(0, t)
        ly = torch.floor((k + 0.5) / bwt)  # exact while k < 2**22
        lx = k - ly * bwt
        ox, oy, A1, B1, A2, B2, iz0, Az, Bz = rows[s:e].index_select(0, t).unbind(1)
        zinv, h = covered(ox + lx, oy + ly, A1, B1, A2, B2, iz0, Az, Bz)
        packed = pack(zinv, h, None if tid is None else tid[s:e].index_select(0, t))
        key = base[s:e].index_select(0, t) + (ly * width + lx).long()
        buf.scatter_reduce_(0, key, packed, reduce="amin")


def chunks(B: int, F: int, block: int):
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


def class_table() -> Tensor:
    """(L, L) uint8 class of a box of w x h pixels, sizes clipped to L - 1 = last tile + 1."""
    lim = TILES[-1] + 1
    tile = np.searchsorted(np.array(TILES), np.arange(lim + 1))  # NT where too big
    t = tile[:, None] * NT + tile[None, :]
    t = np.where((tile[:, None] == NT) | (tile[None, :] == NT), BIG, t)
    t[0, :] = t[:, 0] = DROPPED
    return torch.from_numpy(t.astype(np.uint8))


def classify(bw: Tensor, bh: Tensor, keep: Tensor) -> tuple[Tensor, list[int]]:
    """Box class per triangle (uint8): tile index ``i * NT + j`` (tile ``TILES[i] x
    TILES[j]``), BIG for boxes beyond the tiles, DROPPED for dropped triangles and empty
    boxes; and the number of triangles in each class."""
    lim = TILES[-1] + 1
    raw = (bw * keep).clamp_(max=lim) * (lim + 1) + bh.clamp(max=lim)
    cls = class_table().view(-1).to(bw.device).index_select(0, raw.long())
    return cls, torch.bincount(cls, minlength=DROPPED + 1).tolist()


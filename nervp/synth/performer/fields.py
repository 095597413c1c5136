"""Scalar fields and 2D tests the performer builder paints and shapes with.

Points are model-space metres (see `nervp.synth.performer`); a 2D point is the frontal
(x, y) projection.
"""

from __future__ import annotations

import numpy as np

# Channels of the lattice noise: each use adds its own offset to the identity seed, so the
# fields are independent of one another (the offsets are part of who a seed is: keep them).
NOISE_PORES = 0
NOISE_BUMPS = 1
NOISE_WRINKLES = 2
NOISE_HAIR_STRANDS = 3
NOISE_HAIR_CLUMPS = 4
NOISE_SKIN_MOTTLE = 5
NOISE_SKIN_FINE = 6
NOISE_BROW_STRANDS = 7
NOISE_HAIR_ALBEDO = 8
NOISE_CLOTH = 9


def value_noise(p: np.ndarray, freq: float, seed: int) -> np.ndarray:
    """Smooth pseudo-random scalar field on 3D points (N, 3) in [-1, 1] (trilinear lattice noise).

    freq: lattice cells per unit of `p` (per metre for model-space points).
    """
    q = p * freq
    i = np.floor(q).astype(np.int64)
    f = q - i
    f = f * f * (3 - 2 * f)

    def h(ix, iy, iz):
        n = (ix * 73856093) ^ (iy * 19349663) ^ (iz * 83492791) ^ (seed * 2654435761)
        n = (n ^ (n >> 13)) * 1274126177
        return ((n & 0xFFFF) / 32767.5) - 1.0

    out = 0.0
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                w = (f[:, 0] if dx else 1 - f[:, 0]) * (f[:, 1] if dy else 1 - f[:, 1]) * (f[:, 2] if dz else 1 - f[:, 2])
                out = out + w * h(i[:, 0] + dx, i[:, 1] + dy, i[:, 2] + dz)
    return out


def polyline_distance(points: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Distance (N,) from points (N, 2) to a 2D polyline (K, 2)."""
    a, b = line[:-1][None], line[1:][None]
    p = points[:, None]
    ab = b - a
    t = np.clip(((p - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0, 1)
    return np.linalg.norm(p - (a + t[..., None] * ab), axis=-1).min(1)


def inside(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd test of points (N, 2) against a closed polygon (K, 2): (N,) bool."""
    x, y = points[:, 0:1], points[:, 1:2]
    x1, y1 = poly[None, :, 0], poly[None, :, 1]
    x2, y2 = np.roll(poly, -1, 0)[None, :, 0], np.roll(poly, -1, 0)[None, :, 1]
    cross = ((y1 > y) != (y2 > y)) & (x < (x2 - x1) * (y - y1) / np.where(y2 == y1, 1e-12, y2 - y1) + x1)
    return cross.sum(1) % 2 == 1

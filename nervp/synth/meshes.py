"""Procedural triangle meshes for the parts of the performer the head model lacks.

All meshes are outward-oriented: triangle (a, b, c) has outward normal (b - a) x (c - a).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Mesh:
    """A triangle mesh. verts: (V, 3) float64 metres; faces: (F, 3) int64."""

    verts: np.ndarray
    faces: np.ndarray

    def transformed(self, scale=(1.0, 1.0, 1.0), offset=(0.0, 0.0, 0.0)) -> Mesh:
        return Mesh(self.verts * np.asarray(scale) + np.asarray(offset), self.faces)


def merge(meshes: list[Mesh]) -> tuple[Mesh, np.ndarray]:
    """Concatenate meshes; also return (V,) int64 part index of each vertex."""
    verts, faces, part = [], [], []
    off = 0
    for k, m in enumerate(meshes):
        verts.append(m.verts)
        faces.append(m.faces + off)
        part.append(np.full(len(m.verts), k))
        off += len(m.verts)
    return Mesh(np.concatenate(verts), np.concatenate(faces)), np.concatenate(part)


def uv_sphere(n_lat: int, n_lon: int) -> tuple[Mesh, np.ndarray]:
    """Unit sphere with poles on ±y; also return (V, 2) (polar angle, azimuth) per vertex.

    Azimuth 0 points to +z (the face's side), increasing toward +x.
    """
    th = np.linspace(0, np.pi, n_lat + 1)[1:-1]
    ph = np.linspace(0, 2 * np.pi, n_lon, endpoint=False)
    T, P = np.meshgrid(th, ph, indexing="ij")
    ring = np.stack([np.sin(T) * np.sin(P), np.cos(T), np.sin(T) * np.cos(P)], -1).reshape(-1, 3)
    verts = np.concatenate([[[0, 1, 0]], ring, [[0, -1, 0]]])
    angles = np.concatenate([[[0, 0]], np.stack([T, P], -1).reshape(-1, 2), [[np.pi, 0]]])
    faces = []
    top, bottom = 0, len(verts) - 1

    def idx(i: int, j: int) -> int:
        return 1 + i * n_lon + (j % n_lon)

    for j in range(n_lon):
        faces.append((top, idx(0, j), idx(0, j + 1)))
        faces.append((bottom, idx(n_lat - 2, j + 1), idx(n_lat - 2, j)))
    for i in range(n_lat - 2):
        for j in range(n_lon):
            a, b, c, d = idx(i, j), idx(i, j + 1), idx(i + 1, j), idx(i + 1, j + 1)
            faces.append((a, c, b))
            faces.append((b, c, d))
    return Mesh(verts.astype(np.float64), np.asarray(faces, dtype=np.int64)), angles


def tube(profile: np.ndarray, n_lon: int, cap_top: bool = False, cap_bottom: bool = False) -> Mesh:
    """A surface of revolution about +y: `profile` (K, 3) rows are (y, radius_x, radius_z), top first."""
    ph = np.linspace(0, 2 * np.pi, n_lon, endpoint=False)
    y, rx, rz = profile[:, 0:1], profile[:, 1:2], profile[:, 2:3]
    verts = np.stack([rx * np.sin(ph), np.broadcast_to(y, (len(profile), n_lon)), rz * np.cos(ph)], -1).reshape(-1, 3)
    faces = []
    K = len(profile)
    for i in range(K - 1):
        for j in range(n_lon):
            a, b = i * n_lon + j, i * n_lon + (j + 1) % n_lon
            c, d = (i + 1) * n_lon + j, (i + 1) * n_lon + (j + 1) % n_lon
            faces += [(a, c, b), (b, c, d)]
    verts = list(verts)
    if cap_top:
        t = len(verts)
        verts.append([0, profile[0, 0], 0])
        faces += [(t, j, (j + 1) % n_lon) for j in range(n_lon)]
    if cap_bottom:
        t = len(verts)
        verts.append([0, profile[-1, 0], 0])
        base = (K - 1) * n_lon
        faces += [(t, base + (j + 1) % n_lon, base + j) for j in range(n_lon)]
    return Mesh(np.asarray(verts, dtype=np.float64), np.asarray(faces, dtype=np.int64))


def face_normals(m: Mesh) -> np.ndarray:
    a, b, c = (m.verts[m.faces[:, k]] for k in range(3))
    return np.cross(b - a, c - a)

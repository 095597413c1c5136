"""LED weights: how strongly to mix each OLAT image to reproduce a lighting environment.

Relighting is ``image = sum_l w_l * OLAT_l`` with one RGB weight per LED, w (L, 3).

Calibration. OLAT image l was recorded with LED l alone, which delivers the irradiance
``E_l = gain * intensity_l / radius^2`` (RGB) at the dome centre. Light that arrives from
the directions of LED l's Voronoi cell with total irradiance ``P_l = integral of L(w) dw``
over the cell is reproduced by ``w_l = P_l / E_l``. For a dome with ``E_l = 1`` a uniform
environment of radiance 1 therefore gives ``w_l = solid_angle_l`` exactly.

Area weighting. Texel t of the map (centre direction d_t, solid angle a_t, radiance L_t) is
assigned to an LED by a kernel k_tl: "voronoi" assigns it whole to the LED nearest d_t (the
LED's solid-angle cell); "smooth" spreads it over the three LEDs of the spherical Delaunay
triangle around d_t with barycentric weights, so a small bright source (a sun) crossing a
cell boundary moves smoothly instead of jumping. Then

    P_l = solid_angle_l * (sum_t L_t a_t k_tl) / (sum_t a_t k_tl)

i.e. the cell's exact solid angle times the area-weighted mean radiance of its texels. This
is exact for a uniform map and for a map lit inside one cell, at any map resolution.

Approximation (documented, measured in docs/RELIGHT.md): an environment is at infinity
while the LEDs are 1.3 m away. A surface point 0.1 m from the dome centre toward an LED is
(1.3 / 1.2)^2 = 1.17 times brighter under it than under the distant light the weight
stands for, and the direction differs by up to ~4.4 degrees; the weights are exact only for
the dome centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from scipy.spatial import ConvexHull

from nervp.lightstage.dome import Dome
from nervp.relight.envmap import EnvMap, LightingError, texel_directions, texel_solid_angles

Spread = Literal["voronoi", "smooth"]


def led_calibration(dome: Dome, gain: float = 1.0) -> np.ndarray:
    """(L, 3) float64 irradiance each LED delivers at the dome centre, in image units.

    `gain` is the capture's exposure on top of the LED intensities (the manifest's
    ``exposure``, 1 when absent).
    """
    if not gain > 0:
        raise LightingError(f"LED gain must be positive, got {gain}")
    e = np.asarray(dome.intensity, dtype=np.float64) * (gain / dome.radius ** 2)
    if e.shape != (dome.n_lights, 3) or not (e > 0).all():
        raise LightingError("LED intensities must be positive (L, 3) values; check the dome calibration")
    return e


@dataclass(frozen=True)
class Triangulation:
    """Spherical Delaunay triangles of the LED directions (the convex hull).

    Attributes:
        faces: (F, 3) int64 LED indices of each triangle.
        inverse: (F, 3, 3) float64: ``inverse[f] @ d`` gives d's coordinates in the
            triangle's three LED directions (all >= 0 inside the triangle's cone).
        incident: (L, D) int64 triangles around each LED, padded with -1.
    """

    faces: np.ndarray
    inverse: np.ndarray
    incident: np.ndarray


@lru_cache(maxsize=8)
def _triangulate(directions: bytes, n: int) -> Triangulation:
    dirs = np.frombuffer(directions, dtype=np.float64).reshape(n, 3)
    faces = ConvexHull(dirs).simplices.astype(np.int64)
    around: list[list[int]] = [[] for _ in range(n)]
    for f, tri in enumerate(faces):
        for v in tri:
            around[v].append(f)
    incident = np.full((n, max(len(a) for a in around)), -1, dtype=np.int64)
    for v, a in enumerate(around):
        incident[v, :len(a)] = a
    return Triangulation(faces, np.linalg.inv(dirs[faces].transpose(0, 2, 1)), incident)


def triangulation(dome: Dome) -> Triangulation:
    d = np.ascontiguousarray(dome.direction, dtype=np.float64)
    return _triangulate(d.tobytes(), d.shape[0])


def _best_face(tri: Triangulation, q: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Among candidate faces (m, c) (-1 = none) the one whose cone holds q (m, 3) best:
    (face (m,), its min coordinate (m,))."""
    lam = np.einsum("mcij,mj->mci", tri.inverse[cand], q)
    score = np.where(cand >= 0, lam.min(-1), -np.inf)
    k = score.argmax(-1)
    rows = np.arange(q.shape[0])
    return cand[rows, k], score[rows, k]


def barycentric(dome: Dome, dirs: np.ndarray, chunk: int = 32768) -> tuple[np.ndarray, np.ndarray]:
    """For unit directions (M, 3): the 3 LED indices (M, 3) of the enclosing triangle and
    barycentric weights (M, 3) summing to 1. Continuous in the direction: on a triangle
    edge the third weight is 0, at an LED that LED's weight is 1.

    The triangles around the nearest LED are tried first; the rare direction none of them
    holds (possible next to obtuse triangles) is tested against all of them.
    """
    tri = triangulation(dome)
    all_faces = np.arange(tri.faces.shape[0])
    idx = np.empty((dirs.shape[0], 3), dtype=np.int64)
    wts = np.empty((dirs.shape[0], 3), dtype=np.float64)
    for s in range(0, dirs.shape[0], chunk):
        q = dirs[s:s + chunk]
        f, score = _best_face(tri, q, tri.incident[nearest_led(dome, q)])
        miss = score < -1e-12
        if miss.any():
            f[miss], _ = _best_face(tri, q[miss], np.broadcast_to(all_faces, (int(miss.sum()), all_faces.size)))
        lm = np.clip(np.einsum("mij,mj->mi", tri.inverse[f], q), 0.0, None)
        wts[s:s + chunk] = lm / lm.sum(-1, keepdims=True)
        idx[s:s + chunk] = tri.faces[f]
    return idx, wts


def nearest_led(dome: Dome, dirs: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """(M,) index of the LED nearest each unit direction (M, 3) (its Voronoi cell)."""
    led = np.asarray(dome.direction, dtype=np.float64)
    out = np.empty(dirs.shape[0], dtype=np.int64)
    for s in range(0, dirs.shape[0], chunk):
        out[s:s + chunk] = (dirs[s:s + chunk] @ led.T).argmax(-1)
    return out


def env_weights(env: EnvMap, dome: Dome, calibration: np.ndarray | None = None,
                spread: Spread = "voronoi", max_width: int = 512) -> np.ndarray:
    """LED weights (L, 3) float32 that reproduce `env` on `dome` (see the module docstring).

    calibration: (L, 3) LED irradiance at the centre (`led_calibration`); default all ones.
    max_width: maps wider than this are first reduced by area-weighted 2x2 averaging.
    """
    env = env.downsampled(max_width)
    h, w = env.height, env.width
    dirs = env.world_directions().reshape(-1, 3)
    area = np.repeat(texel_solid_angles(h, w), w)
    rad = env.radiance.reshape(-1, 3).astype(np.float64)
    L = dome.n_lights
    if spread == "voronoi":
        idx, k = nearest_led(dome, dirs)[:, None], np.ones((dirs.shape[0], 1))
    elif spread == "smooth":
        idx, k = barycentric(dome, dirs)
    else:
        raise LightingError(f"unknown spread {spread!r}; choose 'voronoi' or 'smooth'")
    ak = area[:, None] * k
    den = np.bincount(idx.ravel(), ak.ravel(), minlength=L)
    num = np.stack([np.bincount(idx.ravel(), (ak * rad[:, c, None]).ravel(), minlength=L)
                    for c in range(3)], -1)
    mean = np.empty((L, 3))
    has = den > 0
    mean[has] = num[has] / den[has, None]
    if not has.all():  # cells smaller than a texel: take the radiance at the LED direction
        mean[~has] = env.sample(dome.direction[~has])
    return _calibrated(mean * dome.solid_angle[:, None], dome, calibration)


def env_weights_reference(env: EnvMap, dome: Dome, calibration: np.ndarray | None = None) -> np.ndarray:
    """Slow, obviously-correct per-texel loop for `env_weights(spread="voronoi")` (tests only)."""
    h, w = env.height, env.width
    num = np.zeros((dome.n_lights, 3))
    den = np.zeros(dome.n_lights)
    for i in range(h):
        theta0, theta1 = math.pi * i / h, math.pi * (i + 1) / h
        area = (math.cos(theta0) - math.cos(theta1)) * 2 * math.pi / w
        theta = 0.5 * (theta0 + theta1)
        for j in range(w):
            phi = 2 * math.pi * (j + 0.5) / w - math.pi
            d_map = np.array([math.sin(theta) * math.sin(phi), math.cos(theta), -math.sin(theta) * math.cos(phi)])
            d = env.rotation @ d_map
            angles = [math.acos(max(-1.0, min(1.0, float(d @ led)))) for led in dome.direction]
            best = int(np.argmin(angles))
            num[best] += env.radiance[i, j] * area
            den[best] += area
    mean = np.where(den[:, None] > 0, num / np.maximum(den, 1e-300)[:, None], env.sample(dome.direction))
    return _calibrated(mean * dome.solid_angle[:, None], dome, calibration)


def _calibrated(irradiance: np.ndarray, dome: Dome, calibration: np.ndarray | None) -> np.ndarray:
    if calibration is None:
        return irradiance.astype(np.float32)
    cal = np.asarray(calibration, dtype=np.float64)
    if cal.shape != (dome.n_lights, 3):
        raise LightingError(f"calibration has shape {cal.shape}, the dome has {dome.n_lights} LEDs: expected "
                            f"({dome.n_lights}, 3)")
    return (irradiance / cal).astype(np.float32)


def cell_env(dome: Dome, led: int, height: int = 64, radiance: float = 1.0) -> EnvMap:
    """An environment that is `radiance` in the texels nearest LED `led` and 0 elsewhere."""
    dirs = texel_directions(height, 2 * height).reshape(-1, 3)
    on = (nearest_led(dome, dirs) == led).reshape(height, 2 * height)
    return EnvMap(np.repeat(on[..., None] * np.float32(radiance), 3, -1), name=f"cell {led}")


def check_weights(weights: np.ndarray, n_lights: int, name: str = "LED weights") -> np.ndarray:
    """Validate user-supplied weights: (L,) grey or (L, 3) RGB, finite; returns (L, 3) float32."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 1:
        w = np.repeat(w[:, None], 3, 1)
    if w.ndim != 2 or w.shape[1] != 3:
        raise LightingError(f"{name}: expected shape (L,) or (L, 3), got {w.shape}")
    if w.shape[0] != n_lights:
        raise LightingError(f"{name}: {w.shape[0]} LED weights but the dataset has {n_lights} LEDs")
    if not np.isfinite(w).all():
        raise LightingError(f"{name}: weights must be finite")
    return w.astype(np.float32)

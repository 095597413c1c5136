"""Real spherical harmonics in the project's world frame, and lighting in SH <-> LED weights.

Frame: the polar axis is +y (up); the azimuth is phi = atan2(x, z), so phi = 0 faces the
camera (+z). Basis index k = l * l + l + m for degree l and order -l <= m <= l; orthonormal
over the sphere. Mirroring the world left-right (x -> -x) maps phi -> -phi, which flips the
sign of every m < 0 function and keeps the others (`mirror_signs`).

Lambertian irradiance is the radiance convolved with the clamped cosine: E_lm = A_l L_lm with
A_0 = pi, A_1 = 2 pi / 3, A_2 = pi / 4 (Ramamoorthi and Hanrahan's constants, from the
Legendre expansion of max(cos, 0)).
"""

from __future__ import annotations

import math

import numpy as np

IRRADIANCE_A = (math.pi, 2.0 * math.pi / 3.0, math.pi / 4.0)
"""A_l for l = 0, 1, 2: irradiance coefficients are A_l times the radiance coefficients."""


def n_coeffs(order: int) -> int:
    """Number of basis functions up to and including degree `order`: (order + 1)²."""
    return (order + 1) ** 2


def _legendre(order: int, x: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
    """Associated Legendre P_l^m(x), m >= 0, without the Condon-Shortley phase."""
    P: dict[tuple[int, int], np.ndarray] = {(0, 0): np.ones_like(x)}
    s = np.sqrt(np.clip(1.0 - x * x, 0.0, None))
    for m in range(1, order + 1):
        P[m, m] = (2 * m - 1) * s * P[m - 1, m - 1]
    for m in range(0, order):
        P[m + 1, m] = (2 * m + 1) * x * P[m, m]
    for m in range(0, order + 1):
        for l in range(m + 2, order + 1):
            P[l, m] = ((2 * l - 1) * x * P[l - 1, m] - (l + m - 1) * P[l - 2, m]) / (l - m)
    return P


def sh_basis(directions: np.ndarray, order: int) -> np.ndarray:
    """(N, (order+1)²) float64 real SH values at unit `directions` (N, 3), world frame."""
    d = np.asarray(directions, dtype=np.float64)
    if d.ndim != 2 or d.shape[1] != 3:
        raise ValueError(f"directions must be (N, 3), got {d.shape}")
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    phi = np.arctan2(d[:, 0], d[:, 2])
    P = _legendre(order, d[:, 1])
    out = np.zeros((d.shape[0], n_coeffs(order)))
    for l in range(order + 1):
        for m in range(0, l + 1):
            K = math.sqrt((2 * l + 1) / (4 * math.pi) * math.factorial(l - m) / math.factorial(l + m))
            if m == 0:
                out[:, l * l + l] = K * P[l, 0]
            else:
                out[:, l * l + l + m] = math.sqrt(2) * K * np.cos(m * phi) * P[l, m]
                out[:, l * l + l - m] = math.sqrt(2) * K * np.sin(m * phi) * P[l, m]
    return out


def mirror_signs(order: int) -> np.ndarray:
    """((order+1)²,) +1/-1: the coefficients of the x-mirrored function are signs * coeffs."""
    return np.array([-1.0 if m < 0 else 1.0 for l in range(order + 1) for m in range(-l, l + 1)])


def project_env(radiance: np.ndarray, order: int) -> np.ndarray:
    """((order+1)², 3) SH coefficients of an equirectangular map (H, 2H, 3), linear RGB."""
    from nervp.relight.envmap import texel_directions, texel_solid_angles

    H, W = radiance.shape[:2]
    Y = sh_basis(texel_directions(H, W).reshape(-1, 3), order)
    a = texel_solid_angles(H, W).reshape(-1)
    a = np.broadcast_to(a, (H * W,)) if a.size == H * W else np.repeat(a, W)
    return Y.T @ (a[:, None] * radiance.reshape(-1, 3).astype(np.float64))


def led_matrix(dome, calibration: np.ndarray | None, order: int) -> tuple[np.ndarray, np.ndarray]:
    """(Y (L, K), scale (L, 3)): LED weights of radiance SH coefficients c (K, 3) are
    ``max(Y @ c, 0) * scale`` with scale = solid angle / calibrated irradiance (nervp.relight.weights)."""
    cal = np.ones((dome.n_lights, 3)) if calibration is None else np.asarray(calibration, np.float64)
    return sh_basis(dome.direction, order), dome.solid_angle[:, None] / cal


def sh_to_weights(coeffs: np.ndarray, dome, calibration: np.ndarray | None = None) -> np.ndarray:
    """(L, 3) float32 LED weights of radiance SH coefficients (K, 3): the radiance at each
    LED's direction, clamped at 0, times its cell's solid angle over its calibration."""
    c = np.asarray(coeffs, dtype=np.float64)
    order = int(round(math.sqrt(c.shape[0]))) - 1
    if c.ndim != 2 or c.shape[1] != 3 or n_coeffs(order) != c.shape[0]:
        raise ValueError(f"SH coefficients must be ((n+1)^2, 3), got {c.shape}")
    Y, scale = led_matrix(dome, calibration, order)
    return (np.clip(Y @ c, 0.0, None) * scale).astype(np.float32)

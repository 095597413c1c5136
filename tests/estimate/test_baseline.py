"""The SH baseline's least squares recovers a known order-2 lighting from Lambertian shading."""

from __future__ import annotations

import math

import numpy as np

from nervp.estimate.baseline import SKIN_ALBEDO, fit_shading
from nervp.estimate.sh import IRRADIANCE_A, sh_basis


def _scene(coeffs: np.ndarray, n_px: int = 4000, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = rng.normal(size=(n_px, 3))
    n[:, 2] = np.abs(n[:, 2])  # normals facing the camera, like a face
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    A = sh_basis(n, 2) * np.repeat(IRRADIANCE_A, [1, 3, 5])[None] / math.pi
    img = (A @ coeffs) * SKIN_ALBEDO[None]
    return img.reshape(40, 100, 3), n.reshape(40, 100, 3)


def test_recovers_known_lighting():
    c = np.zeros((9, 3))
    c[0] = [3.0, 2.5, 2.0]
    c[1:4] = [[0.8, 0.7, 0.5], [1.0, 0.9, 0.8], [1.5, 1.2, 1.0]]
    c[4:] = 0.2
    img, n = _scene(c)
    assert img.min() > 0 and img.max() < 0.95  # no clipped pixel, so every pixel is used
    est = fit_shading(img, n, np.ones(img.shape[:2], bool))
    # a consistent linear system: only float64 round-off (1e-16 * condition number ~1e3)
    assert np.abs(est - c).max() < 1e-8


def test_robust_to_outliers():
    c = np.zeros((9, 3))
    c[0] = 3.0
    c[3] = 1.5
    img, n = _scene(c, seed=1)
    bad = img.copy()
    bad.reshape(-1, 3)[::25] *= 0.2  # 4% dark pixels: eyes, brows, nostrils
    est = fit_shading(bad, n, np.ones(img.shape[:2], bool))
    assert np.abs(est[:4] - c[:4]).max() < 0.05 * c[0, 0]

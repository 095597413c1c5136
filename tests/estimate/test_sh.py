"""Spherical harmonics: orthonormality, mirror parity, known values, SH -> LED weights."""

from __future__ import annotations

import math

import numpy as np

from nervp.estimate.sh import (
    IRRADIANCE_A,
    mirror_signs,
    n_coeffs,
    project_env,
    sh_basis,
    sh_to_weights,
)
from nervp.lightstage import DomeConfig, build_dome
from nervp.relight.envmap import texel_directions, texel_solid_angles


def _grid(h: int):
    d = texel_directions(h, 2 * h).reshape(-1, 3)
    a = np.repeat(texel_solid_angles(h, 2 * h), 2 * h)
    return d, a


def test_orthonormal():
    # midpoint quadrature on a 256 x 512 grid: error O(h^2) ~ (pi/256)^2 * l^2 / 2 < 3e-3 for l <= 4
    d, a = _grid(256)
    Y = sh_basis(d, 4)
    G = Y.T @ (a[:, None] * Y)
    assert np.abs(G - np.eye(n_coeffs(4))).max() < 3e-3


def test_known_values():
    d = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    Y = sh_basis(d, 1)
    c0, c1 = 0.5 / math.sqrt(math.pi), math.sqrt(3 / (4 * math.pi))
    assert np.allclose(Y[:, 0], c0, atol=1e-12)
    # l = 1: index 1 ~ x (m = -1, sin phi), 2 ~ y (m = 0), 3 ~ z (m = 1, cos phi)
    assert np.allclose(Y[:, 1:], c1 * d[:, [0, 1, 2]], atol=1e-12)


def test_mirror_signs_exact():
    rng = np.random.default_rng(0)
    d = rng.normal(size=(50, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    assert np.array_equal(sh_basis(d * [-1, 1, 1], 6), sh_basis(d, 6) * mirror_signs(6))


def test_clamped_cosine_constants():
    # projecting max(n . d, 0) with n = +y onto Y_l0 gives A_l * Y_l0(n)
    d, a = _grid(256)
    k = np.clip(d[:, 1], 0, None)
    Y = sh_basis(d, 2)
    coef = Y.T @ (a * k)
    top = sh_basis(np.array([[0.0, 1.0, 0.0]]), 2)[0]
    for l in range(3):
        assert abs(coef[l * l + l] - IRRADIANCE_A[l] * top[l * l + l]) < 2e-3


def test_uniform_radiance_to_weights():
    dome = build_dome(DomeConfig())
    coeffs = np.zeros((n_coeffs(2), 3))
    coeffs[0] = 2.0 * math.sqrt(4 * math.pi)  # radiance 2 everywhere
    cal = np.full((dome.n_lights, 3), 0.5)
    w = sh_to_weights(coeffs, dome, cal)
    assert np.allclose(w, 2.0 * dome.solid_angle[:, None] / 0.5, rtol=1e-6)


def test_project_env_constant():
    env = np.full((32, 64, 3), 1.5, np.float32)
    c = project_env(env, 2)
    assert abs(c[0, 0] - 1.5 * math.sqrt(4 * math.pi)) < 1e-9 * 1.5 * 4 * math.pi * 100
    # odd degrees and m != 0 vanish by the grid's symmetry (round-off only); Y_20 integrates to
    # 0 only up to the midpoint rule's error over 32 rows, O((pi/32)^2) ~ 1e-2
    idx = [k for k in range(1, 9) if k != 6]
    assert np.abs(c[idx]).max() < 1e-12
    assert np.abs(c[6]).max() < 1e-2

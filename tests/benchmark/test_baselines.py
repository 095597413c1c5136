"""The baselines' arithmetic: sliced optimal transport, grain reduction, best gain, MTP's mask."""

from __future__ import annotations

import numpy as np

from nervp.benchmark.baselines import best_gain, mtp, regrain, sliced_transfer


def test_sliced_transfer_onto_a_shifted_copy_is_the_shift():
    # every 1-D match is exact here: with as many quantiles as samples, np.quantile at i/(N-1)
    # is the i-th sorted sample, and a shifted copy's sorted projections are the shifted ones
    rng = np.random.default_rng(0)
    src = rng.random((500, 3))
    shift = np.array([0.3, -0.2, 0.1])
    moved = sliced_transfer(src, src + shift, iterations=3, seed=1)
    assert np.abs(moved - (src + shift)).max() < 1e-12


def test_sliced_transfer_matches_the_reference_statistics():
    rng = np.random.default_rng(1)
    src = rng.standard_normal((1500, 3)) * [0.1, 0.2, 0.3]
    ref = rng.standard_normal((1500, 3)) @ np.array([[1.0, 0.2, 0], [0, 0.5, 0.1], [0, 0, 0.3]]) + [1, 2, 3]
    moved = sliced_transfer(src, ref, iterations=15, seed=0)
    assert np.allclose(moved.mean(0), ref.mean(0), atol=0.02)
    assert np.allclose(np.cov(moved.T), np.cov(ref.T), atol=0.05)


def test_regrain_keeps_an_untouched_image_and_follows_the_weight():
    rng = np.random.default_rng(2)
    img = rng.random((16, 20, 3))
    assert np.abs(regrain(img, img) - img).max() < 1e-12  # nothing to reconcile: FFT round-off only
    flat = np.full_like(img, 0.5)
    # a huge weight returns the transferred image; the grain (the original's detail) is kept otherwise
    assert np.abs(regrain(flat, img, weight=1e9) - flat).max() < 1e-6
    assert np.std(regrain(flat, img, weight=0.05)) > 0.5 * np.std(img)


def test_best_gain_recovers_a_scaled_truth_and_mtp_keeps_the_background_black():
    rng = np.random.default_rng(3)
    a = rng.random((2, 8, 8, 3)).astype(np.float32)
    assert np.allclose(best_gain(a, 3 * a), 3 * a, rtol=1e-6)
    alpha = np.zeros((8, 8), np.float32)
    alpha[2:6, 2:6] = 1
    out = mtp(a[0] * alpha[..., None], alpha, a[1], np.ones((8, 8), np.float32), iterations=2)
    assert out.shape == (8, 8, 3) and np.isfinite(out).all() and (out[alpha == 0] == 0).all()


def test_sipr_lighting_code_of_the_full_lit_lighting_is_its_dc_term():
    from nervp.benchmark.sipr import lighting_code, sh9
    from nervp.lightstage.dome import build_dome

    dome = build_dome()
    code = lighting_code(np.ones((dome.n_lights, 3)), dome.direction).reshape(3, 9)
    assert np.allclose(code[:, 0], 1.0, atol=1e-6)  # divided by itself
    # an even lattice integrates the SH nearly orthonormally: the rest is small against the DC term
    assert np.abs(code[:, 1:]).max() < 0.05
    Y = sh9(dome.direction)
    gram = Y.T @ (Y * dome.solid_angle[:, None])
    assert np.allclose(gram, np.eye(9), atol=0.05)


def test_shipped_sipr_weights_load_and_keep_the_background_black():
    from nervp.benchmark.sipr import load_sipr, sipr_relight

    net = load_sipr()
    img = np.zeros((1, 16, 16, 3), np.float32)
    img[0, 4:12, 4:12] = 0.5
    out = sipr_relight(net, img, np.r_[np.ones(9, np.float32) * 0.1, np.zeros(18, np.float32)])
    assert np.isfinite(out).all() and (out[img == 0] == 0).all() and (out >= 0).all()

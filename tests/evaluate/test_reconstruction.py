"""Metrics of `nervp evaluate`: known values, per-OLAT PSNR, ring of lights, temporal ratio."""

import math

import numpy as np

from nervp.evaluate.reconstruction import image_metrics, olat_psnr, ring_leds, temporal_change_ratio
from nervp.lightstage.dome import build_dome


def test_image_metrics_known_values():
    rng = np.random.default_rng(0)
    t = rng.random((32, 32, 3)).astype(np.float32) * 2.0
    same = image_metrics(t, t)
    assert same["psnr_db"] >= 119 and abs(same["ssim"] - 1) < 1e-6 and same["mae"] == 0
    # an offset of 1% of the peak everywhere (no clipping): MSE 1e-4 -> 40 dB, MAE 0.01
    peak = float(t.max())
    shifted = np.clip(t / peak + 0.01, 0, 1) * peak
    inside = (t / peak + 0.01) <= 1
    m = image_metrics(np.where(inside, shifted, t), t)
    frac = inside.mean()
    assert math.isclose(m["psnr_db"], 10 * math.log10(1 / (1e-4 * frac)), rel_tol=1e-3)
    assert math.isclose(m["mae"], 0.01 * frac, rel_tol=1e-3)


def test_olat_psnr_matches_image_metrics_and_skips_unlit():
    rng = np.random.default_rng(1)
    G = rng.random((2, 4, 12, 12, 3)).astype(np.float32)
    G[1, 3] = 0
    P = G + 0.03 * rng.standard_normal(G.shape).astype(np.float32)
    ref = [image_metrics(P[i, l], G[i, l])["psnr_db"] for i in range(2) for l in range(4) if G[i, l].max() > 0]
    assert np.allclose(olat_psnr(P, G), ref) and len(ref) == 7


def test_ring_leds_surround_the_subject():
    dome = build_dome()
    ring = ring_leds(dome)
    d = dome.direction[ring]
    az = np.degrees(np.arctan2(d[:, 0], d[:, 2])) % 360
    want = np.arange(8) * 45.0
    gap = np.abs((az - want + 180) % 360 - 180)
    assert len(set(ring)) == 8 and gap.max() < 25 and np.abs(d[:, 1]).max() < 0.35


def test_temporal_change_ratio():
    rng = np.random.default_rng(2)
    truth = np.cumsum(rng.random((6, 8, 8, 3)), axis=0).astype(np.float32)
    assert math.isclose(temporal_change_ratio(truth, truth), 1.0)
    assert temporal_change_ratio(np.repeat(truth[:1], 6, 0), truth) == 0.0  # frozen output
    flicker = truth + np.where(np.arange(6)[:, None, None, None] % 2, 1.0, -1.0)
    assert temporal_change_ratio(flicker, truth) > 1.5

"""Pixel operations of capture: developing, sampling, flow chaining, DIS, confidence."""

import cv2
import numpy as np
import pytest
import torch

from nervp.capture.align import (
    FlowChain,
    confidence,
    demosaic_dn,
    develop,
    dis_flow,
    fb_error,
    flow_image,
    grid,
    inside,
    pair_flows,
    sample,
    sample_reference,
    warp,
)
from nervp.imaging.bayer import demosaic_bilinear, mosaic

H, W = 24, 32


def smooth_field(rng, c, scale=1.0, h=H, w=W):
    f = cv2.GaussianBlur(rng.normal(size=(h, w, c)).astype(np.float32), (0, 0), 3)
    return (f / np.abs(f).max() * scale).astype(np.float32)


def test_sample_matches_slow_reference():
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 1, (H, W, 3)).astype(np.float32)
    disp = smooth_field(rng, 2, scale=4.0)
    fast = sample(img, disp, grid(H, W))
    slow = sample_reference(img, disp)
    # OpenCV quantises sub-pixel positions to 1/32 px: error <= gradient * 1/64 px
    assert np.abs(fast - slow).max() < 0.04
    assert np.abs(fast - slow).mean() < 0.005


def test_sample_of_integer_shift_is_exact():
    rng = np.random.default_rng(1)
    img = rng.uniform(0, 1, (H, W, 3)).astype(np.float32)
    disp = np.zeros((H, W, 2), np.float32)
    disp[..., 0] = 2.0  # read two pixels to the right
    out = warp(img, disp, grid(H, W))
    np.testing.assert_array_equal(out[:, :-2], img[:, 2:])
    np.testing.assert_array_equal(out[:, -2:], img[:, -1:].repeat(2, 1))  # edge repeated
    assert inside(disp, grid(H, W))[:, :-2].all() and not inside(disp, grid(H, W))[:, -1].any()


def constant_flows(steps):
    """pairs j -> (2, H, W, 2) with translation steps[j] forward and its negative backward."""
    flows, errs = {}, {}
    for j, (dx, dy) in steps.items():
        f = np.zeros((2, H, W, 2), np.float32)
        f[0, ..., 0], f[0, ..., 1] = dx, dy
        f[1] = -f[0]
        flows[j], errs[j] = f, np.full((2, H, W), 0.1, np.float32)
    return flows, errs


def test_chain_adds_translations_and_interpolates_in_time():
    flows, errs = constant_flows({0: (1.0, 0.0), 1: (0.5, -1.0), 2: (2.0, 0.25), 3: (-1.0, 1.0)})
    ch = FlowChain(2, flows, errs)  # middle = tracking frame 2
    np.testing.assert_allclose(ch.disp[3][0, 0], (2.0, 0.25))
    np.testing.assert_allclose(ch.disp[4][0, 0], (1.0, 1.25))
    np.testing.assert_allclose(ch.disp[1][0, 0], (-0.5, 1.0))
    np.testing.assert_allclose(ch.disp[0][0, 0], (-1.5, 1.0))
    d, e = ch.at(3, 0.25)  # a quarter of the way from frame 3 to 4
    np.testing.assert_allclose(d[5, 5], (2.0 - 0.25, 0.25 + 0.25), atol=1e-6)
    d, e = ch.at(0, 0.5)  # half way between frames 0 and 1 (before the middle)
    np.testing.assert_allclose(d[5, 5], (-1.0, 1.0), atol=1e-6)
    d, e = ch.at(2, 0.0)
    assert np.all(d == 0) and np.all(e == 0)
    # errors add root-sum-square: two full steps of 0.1 and a half step
    _, e = ch.at(4, 0.5) if 4 in flows else ch.at(3, 1.0)
    np.testing.assert_allclose(e[5, 5], np.sqrt(2 * 0.1**2), rtol=1e-5)


def test_chain_composes_varying_flows_like_the_reference():
    rng = np.random.default_rng(2)
    flows, errs = {}, {}
    for j in range(3):
        flows[j] = np.stack([smooth_field(rng, 2, 2.0), smooth_field(rng, 2, 2.0)])
        errs[j] = np.zeros((2, H, W), np.float32)
    ch = FlowChain(1, flows, errs)
    # reference: D2 = D1 + F_{1->2}(x + D1), D1 = F_{1->2}... from middle 1: D2 = F_1[0]; D3 = D2 + F_2[0](x + D2)
    d2 = flows[1][0]
    d3 = d2 + sample_reference(flows[2][0], d2)
    d0 = flows[0][1]  # frame 1 -> 0
    np.testing.assert_allclose(ch.disp[2], d2, atol=1e-6)
    np.testing.assert_allclose(ch.disp[3], d3, atol=0.03)
    np.testing.assert_allclose(ch.disp[0], d0, atol=1e-6)


def test_develop_linearises_and_calibrates():
    dn = np.full((4, 6), 106, np.uint8)
    rgb = develop(dn, "RGGB", black=6, white=206, gain=0.25)
    np.testing.assert_allclose(rgb, (106 - 6) / 200 / 0.25, rtol=1e-6)
    cal = develop(dn, "RGGB", 6, 206, 0.25, rgb_scale=np.array([2.0, 1.0, 0.5]))
    np.testing.assert_allclose(cal[..., 0], rgb[..., 0] / 2)
    np.testing.assert_allclose(cal[..., 2], rgb[..., 2] * 2)


@pytest.mark.parametrize("pattern", ["RGGB", "BGGR", "GRBG", "GBRG"])
def test_develop_reproduces_flat_colours_for_every_pattern(pattern):
    colour = torch.tensor([0.2, 0.5, 0.8])
    dn = (mosaic(colour.expand(8, 8, 3), pattern) * 200 + 10).round().to(torch.uint8).numpy()
    rgb = develop(dn, pattern, 10, 210, 1.0)
    np.testing.assert_allclose(rgb, np.broadcast_to(colour.numpy(), rgb.shape), atol=0.003)


def test_dis_recovers_a_translation_and_its_inverse():
    rng = np.random.default_rng(3)
    tex = cv2.GaussianBlur(rng.uniform(0, 255, (96, 96)).astype(np.float32), (0, 0), 2.0)
    a = np.clip(tex, 0, 255).astype(np.uint8)
    b = np.roll(a, (1, 3), axis=(0, 1))  # content moves 3 px right, 1 px down
    f = dis_flow(a, b, "medium")
    core = (slice(16, -16), slice(16, -16))
    np.testing.assert_allclose(np.median(f[core].reshape(-1, 2), 0), (3.0, 1.0), atol=0.05)
    flows, errs = pair_flows(a, b, "medium")
    assert flows.shape == (2, 96, 96, 2) and errs.shape == (2, 96, 96)
    np.testing.assert_allclose(np.median(flows[1][core].reshape(-1, 2), 0), (-3.0, -1.0), atol=0.1)
    assert np.median(errs[0][core]) < 0.1


def test_fb_error_flags_inconsistent_flow():
    base = grid(H, W)
    fwd = np.zeros((H, W, 2), np.float32)
    fwd[..., 0] = 2.0
    bwd = -fwd
    assert fb_error(fwd, bwd, base).max() < 1e-6
    bwd[:, :10, 0] = 0.0  # the backward flow misses the motion on the left
    err = fb_error(fwd, bwd, base)
    assert err[:, :6].min() > 1.9 and err[:, 14:].max() < 1e-6


def test_confidence_and_flow_image():
    c = confidence(np.array([0.0, 0.5, 10.0], np.float32), 0.5)
    np.testing.assert_allclose(c, [1.0, np.exp(-0.5), 0.0], atol=1e-6)
    img = flow_image(np.full((2, 2, 3), 0.5, np.float32), scale=2.0)
    assert img.dtype == np.uint8 and np.all(img == 255)
    assert flow_image(np.zeros((2, 2, 3), np.float32), 1.0).max() == 0


@pytest.mark.parametrize("pattern", ["RGGB", "BGGR", "GRBG", "GBRG"])
def test_fast_demosaic_equals_the_reference(pattern):
    rng = np.random.default_rng(4)
    dn = rng.integers(0, 256, (3, 12, 18), dtype=np.uint8)
    ref = demosaic_bilinear(torch.from_numpy(dn.astype(np.float32)), pattern).numpy()
    np.testing.assert_allclose(demosaic_dn(dn, pattern), ref, atol=1e-4)


def test_half_conversion_matches_numpy_bit_for_bit():
    """Set tasks cast float32 -> float16 with torch (faster) where numpy's cast was used: both
    round to nearest even, overflow to inf and keep subnormals, so every bit must agree."""
    from nervp.capture.tasks import _add_half, _to_half

    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0, 1, 50_000), rng.normal(0, 3e4, 50_000), rng.uniform(0, 1e-4, 50_000),
                        [np.inf, -np.inf, 65504.0, 65520.0, 65519.99, -0.0, 2.0**-24, 2.0**-25]]).astype(np.float32)
    dst = np.empty(x.shape, np.float16)
    _to_half(dst, x)
    with np.errstate(over="ignore"):
        assert np.array_equal(dst.view(np.uint16), x.astype(np.float16).view(np.uint16))
    acc, ref = np.ones(x.shape, np.float32), np.ones(x.shape, np.float32)
    _add_half(acc, dst)
    ref += dst
    assert np.array_equal(acc.view(np.uint32), ref.view(np.uint32))

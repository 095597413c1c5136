import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nervp.composite import (
    MatteConfig,
    composite,
    estimate_foreground,
    guided_filter,
    matte_errors,
    refine_matte,
)
from nervp.composite.matte import box, edge_region, rim_balance


def disc(n=64, r=20.0, soft=1.0):
    y, x = torch.meshgrid(torch.arange(n) + 0.5, torch.arange(n) + 0.5, indexing="ij")
    d = ((x - n / 2) ** 2 + (y - n / 2) ** 2).sqrt()
    return ((r - d) / soft + 0.5).clamp(0, 1)


def test_box_filter_matches_average_pooling():
    x = torch.rand(2, 20, 31, dtype=torch.float64)
    for r in (1, 4, 9):
        ref = F.avg_pool2d(x[None], 2 * r + 1, stride=1, padding=r, count_include_pad=False)[0]
        torch.testing.assert_close(box(x, r), ref)


def test_guided_filter_known_cases():
    src = torch.rand(32, 32)
    flat = torch.full((32, 32, 1), 0.5)
    # a constant guide explains nothing: the result is the box mean of the mean
    torch.testing.assert_close(guided_filter(flat, src, 3, 1e-3), box(box(src[None].double(), 3), 3)[0].float(),
                               atol=1e-5, rtol=0)
    # src an affine function of the guide is kept exactly (eps -> 0)
    g = torch.rand(32, 32, 1)
    torch.testing.assert_close(guided_filter(g, 0.3 * g[..., 0] + 0.2, 2, 1e-9), 0.3 * g[..., 0] + 0.2,
                               atol=1e-4, rtol=0)
    # a colour guide puts back the step edge it shows into a blurred input
    step = torch.zeros(32, 32)
    step[:, 16:] = 1
    g3 = torch.stack([step, step * 0.5, 1 - step], -1)
    blurred = box(step[None].double(), 3)[0].float()
    out = guided_filter(g3, blurred, 3, 1e-4)
    assert bool(((out[:, 16] - out[:, 15]) > 0.45).all())
    assert bool(((blurred[:, 16] - blurred[:, 15]) < 0.15).all())


def test_refinement_snaps_a_blurry_offset_matte_to_the_lit_silhouette():
    truth = disc()
    coarse = box(disc(r=22.0, soft=4.0)[None].double(), 2)[0].float()  # too big, too soft
    picture = (truth[..., None] * torch.tensor([0.8, 0.6, 0.5])).clamp(0, 1)  # lit performer over black
    refined = refine_matte(coarse, picture, cfg=MatteConfig(radius=3))
    before, after = matte_errors(coarse, truth), matte_errors(refined, truth)
    assert after["sad"] < 0.5 * before["sad"] and after["mse"] < 0.5 * before["mse"]


def test_backdrop_rule_needs_the_silhouette_lit():
    """Half the disc is in shadow (black like the backdrop): without a rim-lit picture the
    refinement cuts it away, with one it keeps it."""
    truth = disc()
    shade = torch.ones(64, 64)
    shade[:, :32] = 0.0  # left half unlit
    frame = truth[..., None] * 0.7 * shade[..., None]
    rim = truth[..., None] * 0.7  # the rim-lit picture shows the whole silhouette
    coarse = disc(r=21.0, soft=3.0)
    plain = refine_matte(coarse, frame.expand(-1, -1, 3).contiguous(), cfg=MatteConfig(radius=3))
    rimmed = refine_matte(coarse, frame.expand(-1, -1, 3).contiguous(), rim.expand(-1, -1, 3).contiguous(),
                          cfg=MatteConfig(radius=3))
    assert matte_errors(rimmed, truth)["sad"] < 0.5 * matte_errors(plain, truth)["sad"]


def test_foreground_estimation_recovers_colour_at_edges():
    a = disc(soft=3.0)
    fg = torch.zeros(64, 64, 3)
    fg[..., 0], fg[..., 1], fg[..., 2] = 0.8, 0.5, 0.3
    img = a[..., None] * fg  # premultiplied over the black backdrop
    est = estimate_foreground(img, a)
    edge = (a > 0.05) & (a < 0.95)
    assert (est[edge] - fg[edge]).abs().max() < 0.05
    # over a new background the estimated F shows no dark fringe
    bg = torch.ones(64, 64, 3)
    naive = img + (1 - a[..., None]) * bg  # exact only with the exact alpha
    torch.testing.assert_close(composite(img, a, bg, premultiplied=True), naive)
    wrong_a = (a * 1.3).clamp(0, 1)  # an estimated matte that is too opaque at the edge
    with_fg = composite(img, wrong_a, bg, premultiplied=False)
    without = img + (1 - wrong_a[..., None]) * bg
    target = a[..., None] * fg + (1 - a[..., None]) * bg
    assert (with_fg - target)[edge].abs().mean() < (without - target)[edge].abs().mean()


def test_matte_errors_known_values():
    t = torch.zeros(10, 10)
    a = t.clone()
    a[0, :4] = 0.5
    e = matte_errors(a, t)
    assert e["sad"] == pytest.approx(0.002) and e["mse"] == pytest.approx(4 * 0.25 / 100)
    region = edge_region(disc(), 2)
    assert region.sum() > 0 and not region[32, 32] and not region[0, 0]


def test_rim_balance_matches_levels():
    frame = torch.rand(16, 16, 3)
    rim = torch.rand(16, 16, 3) * 100
    out = rim_balance(frame, rim)
    k = (out - frame)[..., 0] / rim[..., 0]
    assert float(k.std()) < 1e-4 and 0.005 < float(k.mean()) < 0.02


def test_selfie_matte_runs_on_a_picture():
    pytest.importorskip("mediapipe")
    from nervp.composite import SelfieMatter

    pic = np.zeros((96, 96, 3), np.uint8)
    with SelfieMatter() as m:
        a = m(pic)
        with pytest.raises(ValueError):
            m(pic.astype(np.float32))
    assert a.shape == (96, 96) and float(a.min()) >= 0 and float(a.max()) <= 1


def test_rim_weights_light_the_back_hemisphere():
    from nervp.composite.matte import rim_weights
    from nervp.lightstage import DomeConfig, build_dome

    dome = build_dome(DomeConfig(n_lights=96))
    w = rim_weights(dome)
    behind = dome.direction[:, 2] < 0
    assert (w[~behind] == 0).all() and (w[behind] > 0).all()
    assert w[:, 0].sum() == pytest.approx(dome.solid_angle[behind].sum(), rel=1e-6)
    side = rim_weights(dome, camera_direction=(1.0, 0.0, 0.0))  # camera on +x: +x LEDs are in front
    assert (side[dome.direction[:, 0] > 0] == 0).all()

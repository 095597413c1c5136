"""The learned estimator: exact mirror equivariance, exact exposure scaling, the shipped weights."""

from __future__ import annotations

import numpy as np
import torch

from nervp.estimate import crop as C
from nervp.estimate.model import WEIGHTS, LightNet, load_net, predict
from nervp.estimate.sh import mirror_signs


def _crops(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.01, 1.0, (n, C.NET, C.NET, 3)).astype(np.float32)


def test_mirror_equivariant():
    torch.manual_seed(0)
    net = LightNet().eval()
    x = _crops()
    a = predict(net, x)
    b = predict(net, np.ascontiguousarray(x[:, :, ::-1]))
    # the same two network passes in the other order: equal up to float32 summation order
    assert np.allclose(b, a * mirror_signs(net.cfg.order)[None, :, None], rtol=1e-5, atol=1e-6)


def test_exposure_scales_estimate():
    torch.manual_seed(0)
    net = LightNet().eval()
    x = _crops()
    # the input is divided by its own mean: 2x in, exactly the same network input, 2x out
    assert np.allclose(predict(net, 2 * x), 2 * predict(net, x), rtol=1e-6)


def test_shipped_weights_small_and_load():
    assert WEIGHTS.is_file() and WEIGHTS.stat().st_size < 2_000_000
    net, meta = load_net()
    assert meta["seed"] == 0 and meta["performers"] >= 100
    out = predict(net, _crops(1))
    assert out.shape == (1, 25, 3) and np.isfinite(out).all()


def test_views_of_a_mirrored_photo_are_the_mirrored_views():
    """`crop.views` reads a photo through 25 shifted and scaled windows; the shift set is its own
    mirror, so the mirrored photo (landmarks mirrored: x -> W - 1 - x) gives the same windows,
    mirrored, in the mirrored order, and the learned estimate is exactly the mirrored one."""
    from nervp.estimate import crop as C
    from nervp.estimate.core import learned_sh
    from nervp.estimate.model import load_net
    from nervp.estimate.photo import Plate
    from nervp.estimate.sh import mirror_signs

    rng = np.random.default_rng(0)
    img = rng.uniform(0, 1, (120, 150, 3)).astype(np.float32)
    lm = rng.uniform([40, 30], [100, 90], (478, 2))
    lm_m = lm.copy()
    lm_m[:, 0] = 150 - 1 - lm[:, 0]
    a = C.views(img, C.face_box(lm))
    b = C.views(np.ascontiguousarray(img[:, ::-1]), C.face_box(lm_m))
    order = [C.VIEW_SHIFTS.index((-dx, dy)) for dx, dy in C.VIEW_SHIFTS]
    perm = [k * len(C.VIEW_SHIFTS) + order[j] for k in range(len(C.VIEW_SCALES)) for j in range(len(C.VIEW_SHIFTS))]
    # bilinear sampling at mirrored positions: the same weights on the same texels, so equal
    # up to float32 rounding of the sample positions (< 1e-4 of values in [0, 1])
    assert np.allclose(b, a[perm][:, :, ::-1], atol=1e-4)
    net, _ = load_net()

    def plate(x):
        return Plate(x[None], (x[None] * 255).astype(np.uint8), 1.0, "photo", None, "p")

    sa = learned_sh(net, plate(img), lm[None])[0]
    sb = learned_sh(net, plate(np.ascontiguousarray(img[:, ::-1])), lm_m[None])[0]
    assert np.allclose(sb, sa * mirror_signs(net.cfg.order)[:, None], rtol=1e-3, atol=1e-4 * np.abs(sa).max())

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

"""Per-target refinement of the lighting estimator (`nervp train --estimator`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nervp.cli import main
from nervp.estimate.refine import ESTIMATOR, RefineConfig, refine, save_estimator

SMALL = RefineConfig(steps=60, frames=3, samples=192, lightings=48, batch=32, lr=1e-3)


@pytest.fixture(scope="module")
def refined(tiny_olat):
    from nervp.store.olat import load_olat

    torch.set_num_threads(1)
    return refine(load_olat(tiny_olat), SMALL)


def test_refinement_lowers_the_relit_error_on_the_target(refined):
    """Measured on the same fixed set of photographs of the target before and after: 60 Adam
    steps from the shipped weights at least halve the mean relative relit-image error (seeds
    0-2 measured 0.27 -> 0.074, 0.37 -> 0.053, 0.26 -> 0.054: a factor 3.4-6.9)."""
    _, meta = refined
    assert meta["relit_error_refined"] < 0.5 * meta["relit_error_shipped"], meta
    assert meta["frames"] >= 1 and meta["n_lights"] == 96 and meta["steps"] == SMALL.steps


def test_refined_estimator_keeps_mirror_and_exposure_properties(refined):
    """The refined network is the same architecture: a mirrored crop gives the mirrored SH
    exactly (m < 0 terms change sign) and a crop twice as bright gives twice the SH."""
    from nervp.estimate.model import predict
    from nervp.estimate.sh import mirror_signs

    net, _ = refined
    x = np.random.default_rng(0).uniform(0.05, 1.0, (2, 64, 64, 3)).astype(np.float32)
    a, m, d = predict(net, x), predict(net, x[:, :, ::-1]), predict(net, 2 * x)
    signs = mirror_signs(net.cfg.order)[None, :, None]
    # float32 network, coefficients O(1): agreement to 1e-4 relative is ~100x float32 rounding
    assert np.allclose(m, a * signs, rtol=1e-4, atol=1e-5)
    assert np.allclose(d, 2 * a, rtol=1e-4, atol=1e-5)


def test_saved_estimator_round_trips(tmp_path, refined):
    from nervp.estimate.model import load_net, predict

    net, meta = refined
    p = tmp_path / ESTIMATOR
    save_estimator(net, p, meta)
    back, m2 = load_net(p)
    assert m2["dataset"] == meta["dataset"] and m2["steps"] == SMALL.steps
    x = np.random.default_rng(1).uniform(0.05, 1.0, (1, 64, 64, 3)).astype(np.float32)
    # saved as float16: each weight rounded to 2^-11 relative; through 6 layers ~1e-2 at most
    assert np.allclose(predict(back, x), predict(net, x), rtol=2e-2, atol=2e-3)
    assert [q.name for q in tmp_path.iterdir()] == [ESTIMATOR]  # no temporary left


def test_train_estimator_flag_and_its_use(tmp_path, tiny_olat, stage_portrait):
    """`train --estimator` writes RUN/estimator.safetensors once; `estimate-light --run` and
    `relight --run --light-from` read the photo with it."""
    run = tmp_path / "run"
    base = ["train", str(tiny_olat), str(run), "--preset", "tiny", "--steps", "2", "--ckpt-every", "2",
            "--params", "truth", "--device", "cpu", "--estimator", "--estimator.steps", "5",
            "--estimator.frames", "2", "--estimator.samples", "64", "--estimator.lightings", "16",
            "--estimator.batch", "16"]
    assert main(base) == 0
    est = run / ESTIMATOR
    first = est.read_bytes()
    assert main(base) == 0  # a rerun keeps the run's estimator
    assert est.read_bytes() == first
    photo, _ = stage_portrait
    out = tmp_path / "e.json"
    assert main(["estimate-light", str(photo), str(out), "--run", str(run)]) == 0
    d = json.loads(out.read_text())
    assert d["model"]["name"] == "estimator" and np.isfinite(d["weights"]).all()
    generic = tmp_path / "g.json"
    assert main(["estimate-light", str(photo), str(generic)]) == 0
    assert json.loads(generic.read_text())["model"]["name"] == "generic"
    assert not np.allclose(d["weights"], json.loads(generic.read_text())["weights"])
    mp4 = tmp_path / "r.mp4"
    assert main(["relight", str(tiny_olat), str(mp4), "--light-from", str(photo), "--run", str(run),
                 "--frames", "2"]) == 0
    assert mp4.stat().st_size > 0


def test_gain_mode_fits_the_best_rgb_gain(tiny_olat):
    """mode=gain keeps the shipped network and scales its output per channel, so the scaled
    network equals gain times the shipped one's output. The gain is the least-squares optimum
    for the mirror-symmetrised estimate; the recorded error is of one network pass (as training
    measures it), so it is not bound to fall, but measured 0.264 -> 0.160 here: no rise allowed."""
    from nervp.estimate.model import load_net, predict
    from nervp.store.olat import load_olat

    net, meta = refine(load_olat(tiny_olat), RefineConfig(mode="gain", frames=3, samples=128, lightings=32))
    assert meta["steps"] == 0 and meta["relit_error_refined"] <= meta["relit_error_shipped"] + 1e-6, meta
    shipped, _ = load_net()
    x = np.random.default_rng(2).uniform(0.05, 1.0, (1, 64, 64, 3)).astype(np.float32)
    a, b = predict(shipped, x), predict(net, x)
    g = (b * a).sum((0, 1)) / (a * a).sum((0, 1))
    assert np.all((g > 0.1) & (g < 10))
    assert np.allclose(b, a * g[None, None], rtol=1e-4, atol=1e-6)

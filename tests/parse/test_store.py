"""face_params and conditioning datasets: round trips and damaged files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from nervp.face import load_head_model
from nervp.parse.conditioning import MapSettings, iter_conditioning_maps
from nervp.parse.fit import video_camera
from nervp.parse.normalize import param_stats
from nervp.parse.track import TrackConfig, finish_track
from nervp.store.conditioning import load_conditioning, write_conditioning
from nervp.store.params import load_params, write_params
from nervp.store.zstore import DatasetError
from nervp.structures.face import FaceParams


@pytest.fixture()
def params():
    m = load_head_model()
    T = 6
    g = torch.Generator().manual_seed(0)
    theta = torch.randn(T, 6, generator=g) * 0.05
    return FaceParams(beta=torch.randn(m.n_id, generator=g), theta=theta, phi=torch.rand(T, m.n_expr, generator=g) * 0.3,
                      residual=torch.rand(T), valid=torch.tensor([1, 1, 0, 1, 1, 1], dtype=torch.bool),
                      camera=video_camera(64, 48, 30.0, 0.5), fps=30.0, id_names=m.id_names,
                      expr_names=m.expr_names, colour=torch.rand(1790, 3), colour_levels=1,
                      beta_frames=torch.randn(T, m.n_id))


def test_params_round_trip(tmp_path, params):
    raw = np.random.default_rng(0).uniform(10, 50, (6, 478, 2)).astype(np.float32)
    raw[2] = np.nan
    track = finish_track(raw, np.array([1, 1, 0, 1, 1, 1], np.int8), 64, 48, 30.0, "x", TrackConfig())
    write_params(tmp_path / "p", params, param_stats(params), track, {"source": {"path": "x"}})
    pf = load_params(tmp_path / "p")
    for name in ("beta", "theta", "phi", "residual", "valid", "colour", "beta_frames"):
        torch.testing.assert_close(getattr(pf.params, name), getattr(params, name), msg=name)
    for name in ("R", "t", "K"):
        torch.testing.assert_close(getattr(pf.params.camera, name), getattr(params.camera, name))
    assert (pf.params.camera.width, pf.params.camera.height) == (64, 48)
    np.testing.assert_allclose(pf.stats.phi_std, param_stats(params).phi_std)
    np.testing.assert_array_equal(pf.track.found, track.found)
    np.testing.assert_array_equal(pf.track.raw, track.raw)
    with pytest.raises(DatasetError, match="exists"):
        write_params(tmp_path / "p", params, param_stats(params))


def test_damaged_params_are_refused(tmp_path, params):
    write_params(tmp_path / "p", params, param_stats(params))
    bad = tmp_path / "bad"
    shutil.copytree(tmp_path / "p", bad)
    man = json.loads((bad / "manifest.json").read_text())
    man["head_model"]["expr_names"] = man["head_model"]["expr_names"][:5]
    (bad / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(DatasetError, match="inconsistent"):
        load_params(bad)
    shutil.rmtree(bad / "theta")
    with pytest.raises(DatasetError, match="theta"):
        load_params(bad)
    with pytest.raises(DatasetError, match="does not exist"):
        load_params(tmp_path / "nothing")


def test_conditioning_round_trip(tmp_path, params):
    chunks = iter_conditioning_maps(params, MapSettings(size=32, chunk=4))
    man = {"fps": 30.0, "pose": "tracked"}
    write_conditioning(tmp_path / "c", chunks, 6, 32, 43, man)
    ds = load_conditioning(tmp_path / "c")
    assert (ds.n_frames, ds.height, ds.width) == (6, 32, 43)
    got = ds.maps(slice(2, 5))
    ref = next(iter_conditioning_maps(params, MapSettings(size=32, chunk=8), frames=slice(2, 5)))[1]
    torch.testing.assert_close(got.pncc, ref.pncc, atol=1e-3, rtol=1e-3)  # float16 on disk
    assert torch.equal(got.landmark, ref.landmark) and torch.equal(got.mask, ref.mask)
    torch.testing.assert_close(got.phi, ref.phi)
    with pytest.raises(DatasetError, match="expected 'face_params'"):
        load_params(tmp_path / "c")  # a maps dataset given where parameters are expected

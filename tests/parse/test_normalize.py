"""Eq. 6 normalisation: exactness, guards, errors, retargeting, and the Fig. 10 blink."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nervp.errors import NervpError
from nervp.face import load_head_model
from nervp.parse.fit import video_camera
from nervp.parse.normalize import clip_phi, normalize, param_stats, retarget
from nervp.structures.face import FaceParams, NormStats


def params(T=50, seed=0, scale=1.0, shift=0.0, beta=None, colour=None) -> FaceParams:
    m = load_head_model()
    g = torch.Generator().manual_seed(seed)
    return FaceParams(
        beta=torch.zeros(m.n_id) if beta is None else beta,
        theta=torch.randn(T, 6, generator=g) * 0.1 * scale + shift,
        phi=torch.rand(T, m.n_expr, generator=g) * scale + shift,
        residual=torch.zeros(T), valid=torch.ones(T, dtype=torch.bool), camera=video_camera(64, 64),
        fps=25.0, id_names=m.id_names, expr_names=m.expr_names, colour=colour)


def test_eq6_is_exact():
    src, tgt = params(80, seed=1, scale=0.3, shift=0.2), params(50, seed=2, scale=1.7, shift=-0.4)
    st = param_stats(tgt)
    out, rep = normalize(src, st)
    assert rep.guarded == ()
    th, ph = out.theta.double().numpy(), out.phi.double().numpy()
    np.testing.assert_allclose(th.mean(0), st.theta_mean, atol=1e-6)
    np.testing.assert_allclose(th.std(0), st.theta_std, rtol=1e-5)
    np.testing.assert_allclose(ph.mean(0), st.phi_mean, atol=1e-6)
    np.testing.assert_allclose(ph.std(0), st.phi_std, rtol=1e-5)
    # each dimension is an increasing affine map of the source (order of frames is kept)
    assert (np.corrcoef(ph[:, 0], src.phi[:, 0].numpy())[0, 1]) > 0.999999


def test_only_valid_frames_count_and_flags():
    src = params(40, seed=3)
    valid = torch.ones(40, dtype=torch.bool)
    valid[:5] = False
    src = src.replace(phi=src.phi.index_fill(0, torch.arange(5), 100.0), valid=valid)
    st = param_stats(params(30, seed=4))
    out, _ = normalize(src, st)
    np.testing.assert_allclose(out.phi[5:].double().mean(0).numpy(), st.phi_mean, atol=1e-6)
    th_only, _ = normalize(src, st, phi=False)
    torch.testing.assert_close(th_only.phi, src.phi)


def test_guard_for_dimensions_without_spread():
    src = params(30, seed=5)
    phi = src.phi.clone()
    phi[:, 3] = 0.25  # never moves
    src = src.replace(phi=phi)
    st = param_stats(params(30, seed=6))
    out, rep = normalize(src, st)
    name = src.expr_names[3]
    assert name in rep.guarded and rep.scale_phi[3] == 1.0
    np.testing.assert_allclose(out.phi[:, 3].numpy(), st.phi_mean[3], atol=1e-6)  # shifted, not blown up
    assert torch.isfinite(out.phi).all()


def test_single_frame_and_mismatched_sources_are_refused():
    st = param_stats(params(30))
    with pytest.raises(NervpError, match="at least 2"):
        normalize(params(1), st)
    bad = NormStats(st.theta_mean, st.theta_std, st.phi_mean[:5], st.phi_std[:5], 30, st.expr_names[:5])
    with pytest.raises(NervpError, match="different expression"):
        normalize(params(10), bad)
    one = param_stats(params(1))
    with pytest.raises(NervpError, match="target"):
        normalize(params(10), one)


def test_retarget_takes_the_targets_identity_colour_camera_and_clips():
    m = load_head_model()
    tgt = params(20, seed=7, beta=torch.full((m.n_id,), 0.5), colour=torch.rand(10, 3))
    tgt = tgt.replace(camera=video_camera(128, 96))
    src = params(20, seed=8, scale=3.0)
    out, rep = retarget(src, tgt, param_stats(tgt))
    torch.testing.assert_close(out.beta, tgt.beta)
    assert out.colour is tgt.colour and out.camera is tgt.camera
    clipped, frac = clip_phi(src)
    assert frac > 0 and float(clipped.phi.max()) <= 1.5
    raw, rep_off = retarget(src, tgt, param_stats(tgt), enabled=False, clip=False)
    assert rep_off is None
    torch.testing.assert_close(raw.phi, src.phi)

"""Resampling face parameters in time (nervp.parse.resample): knots kept, splines against their
matrix-form reference, unit quaternions, slerp's endpoints and constant angular speed."""

import math

import numpy as np
import pytest
import torch

from nervp.errors import ConfigError, NervpError
from nervp.parse.resample import (
    axis_angle_from_quat,
    catmull_rom,
    catmull_rom_reference,
    check_times,
    output_fps,
    quat_from_axis_angle,
    resample_params,
    rotation_track,
    slerp,
    timeline,
    window_stride,
)
from nervp.render.camera import make_camera
from nervp.structures.face import FaceParams

RNG = np.random.default_rng(17)


def _params(T: int = 9, E: int = 5) -> FaceParams:
    t = np.arange(T)[:, None]
    theta = np.concatenate([0.3 * np.sin(0.7 * t + np.arange(3)), 0.02 * np.cos(0.5 * t + np.arange(3))], 1)
    phi = 0.5 + 0.4 * np.sin(0.9 * t + np.arange(E))
    cam = make_camera(torch.tensor([[0.0, 0.0, 1.0]]), torch.zeros(1, 3), 24.0, 32, 32)
    return FaceParams(beta=torch.zeros(4), theta=torch.tensor(theta, dtype=torch.float32),
                      phi=torch.tensor(phi, dtype=torch.float32), residual=torch.zeros(T),
                      valid=torch.ones(T, dtype=torch.bool), camera=cam, fps=25.0,
                      id_names=tuple(f"i{k}" for k in range(4)), expr_names=tuple(f"e{k}" for k in range(E)))


def test_quaternion_round_trip_and_unit_norm():
    aa = RNG.normal(size=(200, 3))
    aa *= (RNG.uniform(0, math.pi - 1e-3, 200) / np.linalg.norm(aa, axis=1))[:, None]  # angles in [0, π)
    aa[:3] = [[0, 0, 0], [1e-9, 0, 0], [0, 0, -2e-5]]  # at and near the identity
    q = quat_from_axis_angle(aa)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-15)
    np.testing.assert_allclose(axis_angle_from_quat(q), aa, atol=1e-12)
    np.testing.assert_allclose(axis_angle_from_quat(-q), aa, atol=1e-12)  # q and -q: one rotation


def test_slerp_endpoints_unit_norm_and_constant_speed():
    q0 = quat_from_axis_angle(RNG.normal(size=(50, 3)))
    q1 = quat_from_axis_angle(RNG.normal(size=(50, 3)))
    np.testing.assert_allclose(slerp(q0, q1, np.zeros(50)), q0, atol=1e-14)
    end = slerp(q0, q1, np.ones(50))
    np.testing.assert_allclose(np.abs((end * q1).sum(1)), 1.0, atol=1e-14)  # ±q1: the same rotation
    u = np.linspace(-0.5, 1.5, 9)
    a, b = np.repeat(q0[:1], 9, 0), np.repeat(q1[:1], 9, 0)
    path = slerp(a, b, u)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 1.0, atol=1e-14)
    # equal steps in u are equal angles along one great circle (the geodesic at constant speed)
    step = np.arccos(np.clip(np.abs((path[1:] * path[:-1]).sum(1)), -1, 1))
    np.testing.assert_allclose(step, step[0], atol=1e-7)
    # the same rotation at both ends: stays there
    np.testing.assert_allclose(slerp(q0, q0, np.full(50, 0.3)), q0, atol=1e-14)


def test_catmull_rom_matches_its_matrix_form_and_passes_through_knots():
    knots = RNG.normal(size=(7, 4))
    pos = np.concatenate([np.linspace(0, 6, 61), RNG.uniform(0, 6, 40)])
    np.testing.assert_allclose(catmull_rom(knots, pos), catmull_rom_reference(knots, pos), atol=1e-12)
    np.testing.assert_array_equal(catmull_rom(knots, np.arange(7.0)), knots)  # exactly, not to rounding
    # a straight line is reproduced (the spline is exact on linear data, ends included)
    line = np.arange(6.0)[:, None] * np.array([[2.0, -1.0]]) + 3
    x = np.linspace(0, 5, 23)
    np.testing.assert_allclose(catmull_rom(line, x), x[:, None] * np.array([[2.0, -1.0]]) + 3, atol=1e-12)


def test_rotation_spline_and_slerp_through_knots_and_on_one_axis():
    aa = np.stack([np.zeros(6), np.linspace(-0.6, 0.9, 6) ** 3, np.zeros(6)], 1)  # yaw only
    for mode in ("spline", "slerp"):
        np.testing.assert_allclose(rotation_track(aa, np.arange(6.0), mode), aa, atol=1e-12)
        mid = rotation_track(aa, np.linspace(0, 5, 41), mode)
        np.testing.assert_allclose(mid[:, [0, 2]], 0, atol=1e-12)  # never leaves the yaw axis
    # on one axis the spherical spline is the Catmull-Rom spline of the angle
    pos = np.linspace(0, 5, 41)
    np.testing.assert_allclose(rotation_track(aa, pos, "spline")[:, 1], catmull_rom(aa[:, 1:2], pos)[:, 0], atol=1e-9)
    # slerp is linear in the angle between neighbours
    np.testing.assert_allclose(rotation_track(aa, np.array([2.25]), "slerp")[0, 1], 0.75 * aa[2, 1] + 0.25 * aa[3, 1],
                               atol=1e-12)


def test_resampling_at_the_source_rate_is_the_identity():
    p = _params()
    tl = timeline(p.n_frames, 25.0, 25.0)
    q = resample_params(p, tl)
    assert q.n_frames == p.n_frames and q.fps == 25.0
    assert torch.equal(q.theta, p.theta) and torch.equal(q.phi, p.phi)


@pytest.mark.parametrize("fps", [100.0, 1000.0, 60.0])
def test_resampled_parameters_keep_every_source_frame(fps):
    p = _params()
    tl = timeline(p.n_frames, 25.0, fps)
    assert tl.n_frames == math.floor((p.n_frames - 1) * fps / 25.0 + 1e-9) + 1
    np.testing.assert_allclose(tl.times, np.arange(tl.n_frames) / fps)
    q = resample_params(p, tl)
    on = np.flatnonzero(np.isclose(tl.pos, np.round(tl.pos), atol=1e-12))
    src = np.round(tl.pos[on]).astype(int)
    assert len(on) == (p.n_frames if fps % 25 == 0 else len(range(0, p.n_frames, 5)))  # 60/25 = 12/5
    np.testing.assert_allclose(q.theta[on], p.theta[src], atol=2e-7)  # float32 through axis-angle
    assert torch.equal(q.phi[on], p.phi[src])
    assert q.fps == fps and q.theta.dtype == torch.float32
    assert (q.phi >= p.phi.min(0).values).all() and (q.phi <= p.phi.max(0).values).all()


def test_output_rate_checks():
    assert output_fps(25.0, None, None) is None
    assert output_fps(25.0, 100.0, None) == 100.0 and output_fps(25.0, None, 4) == 100.0
    for fps, slowmo, flag in ((0.0, None, "--fps"), (-5.0, None, "--fps"), (math.nan, None, "--fps"),
                              (10.0, None, "below"), (None, 0.5, "--slowmo"), (100.0, 4.0, "not both")):
        with pytest.raises(ConfigError, match=flag):
            output_fps(25.0, fps, slowmo)
    assert window_stride(1000.0, 25.0, "trained") == 40 and window_stride(1000.0, 25.0, "output") == 1
    assert window_stride(30.0, 25.0, "trained") == 1


def test_timestamp_gaps_and_disorder_are_refused():
    check_times(np.arange(10) / 25.0, 25.0, "src")
    check_times(np.arange(10) / 25.0 + 1e-4 * RNG.normal(size=10), 25.0, "src")  # jitter is no gap
    with pytest.raises(NervpError, match="gap in its timestamps after frame 4"):
        check_times(np.r_[np.arange(5), np.arange(7, 10)] / 25.0, 25.0, "src")
    with pytest.raises(NervpError, match="do not increase"):
        check_times(np.array([0.0, 0.04, 0.04, 0.08]), 25.0, "src")

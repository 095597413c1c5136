"""Model fitting: known parameters come back from their own landmarks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nervp.errors import ConfigError, NervpError
from nervp.face import load_head_model
from nervp.parse.evaluation import synthetic_track
from nervp.parse.fit import (
    FitConfig,
    fit_landmarks,
    fit_track,
    init_pose,
    landmark_errors,
    video_camera,
)
from nervp.parse.metrics import rotation_error_deg
from nervp.synth.motion import sample_motion

N = 12


@pytest.fixture(scope="module")
def model():
    return load_head_model()


@pytest.fixture(scope="module")
def scene(model):
    """A 12-frame performance (head turns up to ~25°, speech, a blink, gaze) of a known identity."""
    th, ph = sample_motion(model.expr_names, 2.0, 5).at(np.linspace(0, 1.9, N))
    theta, phi = torch.from_numpy(th), torch.from_numpy(ph)
    beta = torch.zeros(model.n_id)
    beta[model.id_index("face_length")] = 0.8
    beta[model.id_index("mouth_width")] = -0.6
    phi[5, model.expr_index("blink_left")] = phi[5, model.expr_index("blink_right")] = 1.0
    return beta, theta, phi, video_camera(320, 320)


def test_fit_with_known_identity_recovers_pose_and_expression(model, scene):
    beta, theta, phi, cam = scene
    track = synthetic_track(model, cam, beta, theta, phi, 25.0, noise_px=0.0)
    th, ph, _ = fit_landmarks(track.landmarks, cam, FitConfig(), model, beta=beta)
    assert float(rotation_error_deg(th.float(), theta).max()) < 0.3
    assert float((th[:, 3:] - theta[:, 3:].double()).norm(dim=-1).max()) < 0.003  # metres
    err = landmark_errors(model, cam, beta, th, ph, torch.as_tensor(track.landmarks))
    assert float(err.median()) < 0.005  # inter-ocular distances
    for name, tol in (("jaw_open", 0.08), ("smile_left", 0.1), ("blink_left", 0.12), ("blink_right", 0.12),
                      ("gaze_yaw", 0.05), ("gaze_pitch", 0.05)):
        k = model.expr_index(name)
        assert float((ph[:, k] - phi[:, k].double()).abs().max()) < tol, name


def test_fit_track_identity_and_residuals(model, scene):
    beta, theta, phi, cam = scene
    track = synthetic_track(model, cam, beta, theta, phi, 25.0, noise_px=0.2, seed=3)
    p = fit_track(track, cam, FitConfig(iterations=10), model)
    assert p.beta.shape == (model.n_id,) and p.theta.shape == (N, 6) and p.phi.shape == (N, model.n_expr)
    assert p.beta_frames is not None and torch.isfinite(p.beta_frames).all()
    torch.testing.assert_close(p.beta, p.beta_frames.mean(0), atol=1e-6, rtol=0)  # β̄ = the average
    assert float(rotation_error_deg(p.theta, theta).median()) < 1.0
    assert float(p.residual.max()) < 0.02
    assert float(p.beta[model.id_index("face_length")]) > 0.3  # the identity's direction is found


def test_invalid_frames_hold_the_nearest_fit(model, scene):
    beta, theta, phi, cam = scene
    track = synthetic_track(model, cam, beta, theta, phi, 25.0, noise_px=0.0)
    import dataclasses

    valid = np.ones(N, bool)
    valid[[0, 6, 7]] = False
    lm = track.landmarks.copy()
    lm[~valid] = np.nan
    track = dataclasses.replace(track, landmarks=lm, valid=valid, found=valid.copy())
    p = fit_track(track, cam, FitConfig(iterations=6, identity_frames=4), model)
    assert not bool(p.valid[6]) and bool(p.valid[5])
    assert torch.isnan(p.residual[~torch.as_tensor(valid)]).all()
    torch.testing.assert_close(p.theta[0], p.theta[1])
    torch.testing.assert_close(p.theta[6], p.theta[5])
    torch.testing.assert_close(p.theta[7], p.theta[8])


def test_pnp_initialisation_is_close(model, scene):
    beta, theta, phi, cam = scene
    track = synthetic_track(model, cam, torch.zeros(model.n_id), theta, torch.zeros_like(phi), 25.0, 0.0)
    th0 = torch.from_numpy(init_pose(model, cam, track.landmarks)).float()
    assert float(rotation_error_deg(th0, theta).max()) < 0.5


def test_bad_input(model):
    cam = video_camera(64, 64)
    with pytest.raises(ValueError, match="478"):
        fit_landmarks(np.zeros((2, 10, 2)), cam, FitConfig(), model)
    with pytest.raises(ConfigError):
        FitConfig(fov_y_deg=1.0).validate()
    track = synthetic_track(model, cam, torch.zeros(model.n_id), torch.zeros(2, 6) + torch.tensor([0, 0, 0, 0, 0, -0.3]),
                            torch.zeros(2, model.n_expr), 25.0, 0.0)
    with pytest.raises(NervpError, match="camera"):
        fit_track(track, video_camera(32, 32), FitConfig(), model)

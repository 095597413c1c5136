"""Relit frames against the virtual stage's own render under the same environment."""

import torch

from nervp.relight import (
    env_weights,
    led_calibration,
    overcast_env,
    relight,
    uniform_env,
)
from nervp.relight.groundtruth import env_point_lights, psnr, render_under_env
from nervp.structures.field import ReflectanceField


def test_point_lights_carry_the_environment_power():
    pos, rgb = env_point_lights(uniform_env(2.0), n_dirs=200, distance=10.0)
    assert pos.shape == (200, 3)
    torch.testing.assert_close(pos.norm(dim=1), torch.full((200,), 10.0))
    torch.testing.assert_close(rgb.sum(0) / 100.0, torch.full((3,), 8 * torch.pi), rtol=1e-5, atol=0)


def test_relit_frame_matches_direct_render(tiny_capture):
    stage = tiny_capture.stage
    fr = tiny_capture.frames[0]
    field = ReflectanceField(torch.from_numpy(fr.olat).half()[None])
    cal = led_calibration(stage.dome, stage.cfg.exposure)
    env = overcast_env()
    rel = relight(field, env_weights(env, stage.dome, cal))[0]
    truth = render_under_env(stage, fr.time, env, n_dirs=160)
    ratio = float(rel.sum() / truth.sum())
    assert 0.93 < ratio < 1.07  # calibration: relit frames are in scene units
    assert psnr(rel, truth) > 30.0

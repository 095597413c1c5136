import numpy as np
import pytest

from nervp.lightstage import DomeConfig, build_dome
from nervp.relight import (
    EnvMap,
    LightingError,
    barycentric,
    cell_env,
    env_weights,
    env_weights_reference,
    led_calibration,
    nearest_led,
    uniform_env,
)
from nervp.relight.envmap import texel_directions

DOME = build_dome(DomeConfig(n_lights=96))
SMALL = build_dome(DomeConfig(n_lights=12))


def test_uniform_environment_gives_the_solid_angles():
    for spread in ("voronoi", "smooth"):
        for h in (8, 64):  # exact at any map resolution
            w = env_weights(uniform_env(1.0, height=h), DOME, spread=spread)
            np.testing.assert_allclose(w, np.repeat(DOME.solid_angle[:, None], 3, 1), rtol=1e-5)
    assert env_weights(uniform_env(1.0), DOME).sum(0) == pytest.approx([4 * np.pi] * 3, rel=1e-5)


def test_calibration_divides_by_led_irradiance():
    dome = build_dome(DomeConfig(n_lights=96, intensity_spread=0.2, seed=3))
    cal = led_calibration(dome, gain=2.2)
    np.testing.assert_allclose(cal, dome.intensity * 2.2 / dome.radius ** 2)
    w = env_weights(uniform_env(1.0), dome, cal)
    np.testing.assert_allclose(w, dome.solid_angle[:, None] / cal, rtol=1e-5)
    with pytest.raises(LightingError, match="shape"):
        env_weights(uniform_env(), dome, np.ones((5, 3)))


def test_single_lit_cell_lights_one_led():
    for led in (0, 17, 95):
        env = cell_env(DOME, led, height=64, radiance=1.0 / DOME.solid_angle[led])
        w = env_weights(env, DOME)
        expect = np.zeros((96, 3))
        expect[led] = 1.0
        np.testing.assert_allclose(w, expect, atol=1e-6)


def test_fast_path_matches_per_texel_reference():
    rng = np.random.default_rng(0)
    env = EnvMap(rng.uniform(0, 3, (12, 24, 3)).astype(np.float32)).rotated((0.3, 1.0, 0.2), 37)
    cal = led_calibration(SMALL)
    np.testing.assert_allclose(env_weights(env, SMALL, cal), env_weights_reference(env, SMALL, cal), rtol=1e-5)
    env96 = EnvMap(rng.uniform(0, 3, (16, 32, 3)).astype(np.float32)).rotated_y(-71)
    np.testing.assert_allclose(env_weights(env96, DOME), env_weights_reference(env96, DOME), rtol=1e-5)


def test_weights_are_linear_in_the_environment():
    rng = np.random.default_rng(1)
    a = EnvMap(rng.uniform(0, 1, (16, 32, 3)).astype(np.float32))
    b = EnvMap(rng.uniform(0, 1, (16, 32, 3)).astype(np.float32))
    ab = EnvMap(2 * a.radiance + 0.5 * b.radiance)
    for spread in ("voronoi", "smooth"):
        np.testing.assert_allclose(env_weights(ab, DOME, spread=spread),
                                   2 * env_weights(a, DOME, spread=spread) + 0.5 * env_weights(b, DOME, spread=spread),
                                   rtol=1e-5, atol=1e-7)


def test_full_turn_gives_identical_weights():
    env = EnvMap(np.random.default_rng(2).uniform(0, 1, (32, 64, 3)).astype(np.float32))
    np.testing.assert_array_equal(env_weights(env.rotated_y(360), DOME), env_weights(env, DOME))
    assert not np.allclose(env_weights(env.rotated_y(90), DOME), env_weights(env, DOME))


def test_barycentric_weights_are_exact_at_leds_and_continuous():
    idx, b = barycentric(DOME, DOME.direction)
    picked = idx[np.arange(96), b.argmax(1)]
    np.testing.assert_array_equal(picked, np.arange(96))
    np.testing.assert_allclose(b.max(1), 1.0, atol=1e-9)
    # sweep a direction along a great circle in tiny steps: dense weights change by O(step)
    t = np.linspace(0, 2 * np.pi, 4000)
    d = np.stack([np.cos(t), 0.3 * np.ones_like(t), np.sin(t)], 1)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    idx, b = barycentric(DOME, d)
    dense = np.zeros((len(t), 96))
    np.add.at(dense, (np.repeat(np.arange(len(t)), 3), idx.ravel()), b.ravel())
    assert np.abs(np.diff(dense, axis=0)).max() < 0.02
    np.testing.assert_allclose(dense.sum(1), 1.0)


def test_nearest_led_is_the_voronoi_cell():
    d = texel_directions(16, 32).reshape(-1, 3)
    ang = np.arccos(np.clip(d @ DOME.direction.T, -1, 1))
    np.testing.assert_array_equal(nearest_led(DOME, d), ang.argmin(1))


def test_a_sun_moving_across_cells_is_smooth_with_smooth_spread():
    """A one-texel sun turning with the map: voronoi weights jump between LEDs, smooth do not."""
    h = 32
    rad = np.full((h, 2 * h, 3), 0.01, np.float32)
    rad[10, 5] = 1000.0
    env = EnvMap(rad)
    jumps = {}
    for spread in ("voronoi", "smooth"):
        ws = np.stack([env_weights(env.rotated_y(a), DOME, spread=spread)[:, 1] for a in np.arange(0, 45, 1.5)])
        jumps[spread] = np.abs(np.diff(ws, axis=0)).max() / ws.max()
    assert jumps["smooth"] < 0.25 < jumps["voronoi"]


def test_unknown_spread_is_refused():
    with pytest.raises(LightingError, match="spread"):
        env_weights(uniform_env(), DOME, spread="nearest")

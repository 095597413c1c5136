import math

import numpy as np
import pytest

from nervp.relight import (
    EnvMap,
    LightingError,
    load_envmap,
    rotation_matrix,
    save_envmap,
    uniform_env,
    validate_radiance,
)
from nervp.relight.envmap import direction_to_texel, texel_directions, texel_solid_angles
from nervp.relight.procedural import PROCEDURAL, angles_to_direction


def random_env(h=8, seed=0, **kw):
    rng = np.random.default_rng(seed)
    return EnvMap(rng.uniform(0, 2, (h, 2 * h, 3)).astype(np.float32), **kw)


def test_texel_solid_angles_sum_to_4pi():
    for h in (2, 7, 64):
        assert texel_solid_angles(h, 2 * h).sum() * 2 * h == pytest.approx(4 * math.pi, rel=1e-12)


def test_convention_centre_is_behind_performer_and_right_is_plus_x():
    d = texel_directions(64, 128)
    np.testing.assert_allclose(np.linalg.norm(d, axis=-1), 1.0)
    row, col = direction_to_texel(np.array([0.0, 0.0, -1.0]), 64, 128)
    assert row == pytest.approx(31.5) and col == pytest.approx(63.5)  # centre of the map
    _, col_x = direction_to_texel(np.array([1.0, 0.0, 0.0]), 64, 128)
    assert col_x == pytest.approx(95.5)  # three quarters across: camera right
    row_up, _ = direction_to_texel(np.array([0.0, 1.0, 0.0]), 64, 128)
    assert row_up == pytest.approx(-0.5)  # top edge
    # round trip texel centre -> direction -> texel
    r, c = direction_to_texel(d, 64, 128)
    np.testing.assert_allclose(r, np.arange(64)[:, None] + 0 * c, atol=1e-9)
    np.testing.assert_allclose(c[10], np.arange(128), atol=1e-9)


@pytest.mark.parametrize("bad,msg", [
    (np.full((4, 8, 3), np.nan, np.float32), "NaN or infinite"),
    (np.full((4, 8, 3), np.inf, np.float32), "NaN or infinite"),
    (-np.ones((4, 8, 3), np.float32), "negative"),
    (np.ones((4, 7, 3), np.float32), "twice as wide"),
    (np.ones((4, 8), np.float32), "RGB"),
    (np.ones((4, 8, 4), np.float32), "RGB"),
    (np.ones((1, 2, 3), np.float32), "twice as wide"),
])
def test_bad_maps_are_refused(bad, msg):
    with pytest.raises(LightingError, match=msg):
        validate_radiance(bad)
    with pytest.raises(LightingError):
        EnvMap(bad)


def test_one_bad_texel_is_counted():
    a = np.ones((4, 8, 3), np.float32)
    a[1, 2, 0] = np.nan
    with pytest.raises(LightingError, match="1 texels"):
        EnvMap(a)


def test_sample_returns_texel_values_at_centres_and_interpolates():
    env = random_env(8)
    d = texel_directions(8, 16)
    np.testing.assert_allclose(env.sample(d), env.radiance, rtol=1e-5, atol=1e-6)
    const = uniform_env((0.5, 1.0, 2.0))
    dirs = np.random.default_rng(1).normal(size=(50, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    np.testing.assert_allclose(const.sample(dirs), np.tile([0.5, 1.0, 2.0], (50, 1)), rtol=1e-6)


def test_rotation_about_vertical_moves_the_back_to_camera_left():
    env = random_env(16)
    back = env.sample(np.array([0.0, 0.0, -1.0]))
    turned = env.rotated_y(90)
    np.testing.assert_allclose(turned.sample(np.array([-1.0, 0.0, 0.0])), back, rtol=1e-5)
    np.testing.assert_allclose(env.rotated_y(360).rotation, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(env.rotated_y(30).rotated_y(-30).rotation, np.eye(3), atol=1e-12)


def test_rotation_about_any_axis():
    R = rotation_matrix((1.0, 1.0, 0.0), 180)
    np.testing.assert_allclose(R @ np.array([1.0, 0, 0]), [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    env = random_env(16)
    up = env.sample(np.array([0.0, 1.0, 0.0]))
    tilted = env.rotated((1.0, 0.0, 0.0), 90)  # +y goes to +z
    np.testing.assert_allclose(tilted.sample(np.array([0.0, 0.0, 1.0])), up, rtol=1e-4)
    with pytest.raises(LightingError):
        rotation_matrix((0, 0, 0), 10)


def test_downsampling_keeps_power():
    env = random_env(32)
    small = env.downsampled(16)
    assert small.radiance.shape == (8, 16, 3)
    np.testing.assert_allclose(small.mean_radiance(), env.mean_radiance(), rtol=1e-6)
    assert env.downsampled(1024) is env


def test_hdr_and_exr_round_trip(tmp_path):
    env = random_env(8)
    for suffix in (".exr", ".hdr"):
        p = tmp_path / f"m{suffix}"
        save_envmap(p, env)
        back = load_envmap(p)
        # half-float EXR; RGBE shares one exponent, so small channels keep ~max/256
        atol = 1e-3 if suffix == ".exr" else env.radiance.max() / 128
        np.testing.assert_allclose(back.radiance, env.radiance, rtol=1e-3, atol=atol)
        assert back.name == "m"


def test_unreadable_files_are_refused(tmp_path):
    with pytest.raises(LightingError, match="unsupported"):
        load_envmap(tmp_path / "map.jpg")
    with pytest.raises(LightingError, match="no such file"):
        load_envmap(tmp_path / "missing.hdr")
    junk = tmp_path / "junk.exr"
    junk.write_bytes(b"not an exr")
    with pytest.raises(LightingError, match="OpenEXR"):
        load_envmap(junk)
    junk = tmp_path / "junk.hdr"
    junk.write_bytes(b"not an hdr")
    with pytest.raises(LightingError, match="hdr"):
        load_envmap(junk)


def test_exr_with_nan_is_refused(tmp_path):
    from nervp.composite.output import write_exr

    a = np.ones((4, 8, 3), np.float32)
    a[0, 0] = np.nan
    write_exr(tmp_path / "nan.exr", a, half=False)
    with pytest.raises(LightingError, match="NaN"):
        load_envmap(tmp_path / "nan.exr")


def test_procedural_environments_are_valid_and_need_no_files():
    for name, make in PROCEDURAL.items():
        env = make()
        assert env.width == 2 * env.height, name
        assert (env.radiance >= 0).all() and env.radiance.max() > 0, name
    from nervp.relight import sky_env

    sky = sky_env(sun_azimuth=30, sun_elevation=40, sun_irradiance=5.0, height=256)
    sun = angles_to_direction(30, 40)
    assert sky.sample(sun).sum() > 50 * sky.sample(np.array([0.0, 1.0, 0.0])).sum()
    from nervp.relight import overcast_env

    oc = overcast_env(zenith=1.0, height=128)
    zen, hor = oc.sample(np.array([0.0, 1.0, 0.0])), oc.sample(np.array([1.0, 0.02, 0.0]))
    assert zen[1] / hor[1] == pytest.approx(3.0, rel=0.05)  # CIE overcast: zenith 3x horizon

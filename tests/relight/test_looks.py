import numpy as np
import pytest

from nervp.lightstage import DomeConfig, build_dome
from nervp.relight import LOOKS, LightingError, Look, VirtualLight, light, look_weights, weights_for
from nervp.relight.looks import disc_directions, light_irradiance

DOME = build_dome(DomeConfig(n_lights=96))


def test_point_light_at_an_led_lights_that_led_only():
    for led in (3, 40, 77):
        pos = tuple((DOME.direction[led] * 2.0).tolist())
        w = light_irradiance(VirtualLight(pos, 0.0, (1.0, 0.5, 0.25), 2.0), DOME)
        expect = np.zeros((96, 3))
        expect[led] = [2.0, 1.0, 0.5]
        np.testing.assert_allclose(w, expect, atol=1e-9)


def test_light_power_is_conserved_and_spread_over_neighbours():
    for size in (0.0, 0.3, 1.5):
        lt = light(37, 21, 1.5, size, (1.0, 1.0, 1.0), 1.7)
        w = light_irradiance(lt, DOME)
        np.testing.assert_allclose(w.sum(0), 1.7, rtol=1e-9)
        assert (w >= 0).all()
    hard = (light_irradiance(light(37, 21, 1.5, 0.0), DOME)[:, 0] > 1e-6).sum()
    soft = (light_irradiance(light(37, 21, 1.5, 1.5), DOME)[:, 0] > 1e-6).sum()
    assert hard <= 3 < soft


def test_moving_light_never_pops():
    """Sweep a light around the head in 0.25 degree steps: every LED weight changes smoothly."""
    for size in (0.0, 0.4):
        ws = np.stack([light_irradiance(light(az, 25, 1.5, size), DOME)[:, 0] for az in np.arange(0, 120, 0.25)])
        assert np.abs(np.diff(ws, axis=0)).max() < 0.03  # of a total of 1
        np.testing.assert_allclose(ws.sum(1), 1.0)


def test_disc_pattern_is_rigid_and_inside_the_emitter():
    lt = light(10, 5, 2.0, 0.8)
    d = disc_directions(lt)
    ang = np.degrees(np.arccos(np.clip(d @ lt.direction, -1, 1)))
    assert ang.max() <= np.degrees(lt.angular_radius) + 1e-9
    assert disc_directions(light(10, 5, 2.0, 0.0)).shape == (1, 3)


def test_looks_give_finite_non_negative_weights_and_rotate():
    for name, look in LOOKS.items():
        w = look_weights(look, DOME)
        assert w.shape == (96, 3) and np.isfinite(w).all() and (w >= 0).all() and w.sum() > 0, name
    look = Look("one", (light(0, 0, 1.5, 0.0),))
    turned = look.rotated_y(90)
    np.testing.assert_allclose(turned.placed_lights()[0].direction, [1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(weights_for(look.rotated_y(360), DOME), weights_for(look, DOME), atol=1e-6)


def test_ambient_look_is_a_uniform_environment():
    w = look_weights(Look("amb", (), ambient=(2.0, 2.0, 2.0)), DOME)
    np.testing.assert_allclose(w, 2 * np.repeat(DOME.solid_angle[:, None], 3, 1), rtol=1e-6)


@pytest.mark.parametrize("kw", [dict(position=(0, 0, 0)), dict(position=(1, 0, np.nan)),
                                dict(position=(1, 0, 0), colour=(1, -1, 0)),
                                dict(position=(1, 0, 0), intensity=-1.0),
                                dict(position=(1, 0, 0), size=np.inf)])
def test_bad_lights_are_refused(kw):
    with pytest.raises(LightingError):
        VirtualLight(**kw)

import numpy as np
import pytest

from nervp.errors import ConfigError
from nervp.lightstage import DomeConfig, build_dome, fibonacci_directions


def test_default_dome_matches_the_paper():
    d = build_dome()
    assert d.n_lights == 96
    np.testing.assert_allclose(np.linalg.norm(d.position, axis=1), 1.3, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(d.direction, axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(d.position, d.direction * 1.3)


@pytest.mark.parametrize("n", [4, 17, 96, 150])
def test_voronoi_cells_tile_the_sphere(n):
    d = build_dome(DomeConfig(n_lights=n))
    assert d.solid_angle.sum() == pytest.approx(4 * np.pi, rel=1e-9)
    assert (d.solid_angle > 0).all()


def test_lights_are_evenly_spread():
    d = build_dome()
    # every cell within 15 % of the mean solid angle, and nearest-neighbour spacing uniform
    assert d.solid_angle.max() / d.solid_angle.min() < 1.15
    cos = d.direction @ d.direction.T
    np.fill_diagonal(cos, -1)
    nn = np.degrees(np.arccos(cos.max(1)))
    assert nn.max() / nn.min() < 1.3


def test_deterministic_and_spread_option():
    a, b = build_dome(), build_dome()
    np.testing.assert_array_equal(a.position, b.position)
    c = build_dome(DomeConfig(intensity_spread=0.1, seed=3))
    assert np.abs(c.intensity / 1.0 - 1).max() <= 0.1 + 1e-12
    assert c.intensity.std() > 0


def test_json_round_trip():
    d = build_dome(DomeConfig(n_lights=12, intensity_spread=0.05))
    e = type(d).from_json(d.to_json())
    np.testing.assert_allclose(e.position, d.position, atol=1e-9)
    np.testing.assert_allclose(e.solid_angle, d.solid_angle, atol=1e-12)


@pytest.mark.parametrize("kw", [{"n_lights": 0}, {"n_lights": 3}, {"radius": 0.0}, {"intensity": -1.0}])
def test_bad_dome_settings(kw):
    with pytest.raises(ConfigError):
        build_dome(DomeConfig(**kw))


def test_fibonacci_unit_and_polar_axis_up():
    d = fibonacci_directions(50)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1)
    assert d[0, 1] > 0.95 and d[-1, 1] < -0.95

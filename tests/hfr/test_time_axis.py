"""Time as an axis of the virtual light stage: one continuous performance sampled at any rate."""

import dataclasses

import numpy as np
import pytest

from nervp.errors import ConfigError
from nervp.lightstage import DomeConfig
from nervp.presets import sim_preset
from nervp.store.olat import load_olat
from nervp.synth.simulate import make_stage, simulate

SMALL = dict(size=32, dome=DomeConfig(n_lights=8))


def test_frame_k_at_25_fps_is_frame_4k_at_100_fps(tmp_path):
    """Same seed, same take: the 100 fps dataset's every 4th frame is the 25 fps dataset's frame,
    bit for bit (parameters, instant, images), and the frames between are new instants."""
    a_cfg = dataclasses.replace(sim_preset("tiny"), frames=2, fps=25.0, **SMALL)
    b_cfg = dataclasses.replace(a_cfg, frames=5, fps=100.0)
    a, b = load_olat(simulate(tmp_path / "a.olat", a_cfg)), load_olat(simulate(tmp_path / "b.olat", b_cfg))
    assert a.manifest["fps"] == 25.0 and b.manifest["fps"] == 100.0
    np.testing.assert_array_equal(b.read("time"), np.arange(5) / 100.0)
    for name in ("theta", "phi", "time", "landmarks"):
        np.testing.assert_array_equal(b.read(name)[::4], a.read(name), err_msg=name)
    for k in range(2):
        np.testing.assert_array_equal(b.read("olat", 4 * k), a.read("olat", k))
    assert not np.array_equal(b.read("theta")[1], b.read("theta")[0])  # in-between instants move


def test_a_span_and_a_rate_of_one_take_see_the_same_performance():
    """--start-s and --take-s: a 1000 fps span inside a 25 fps take has the take's parameters."""
    take = dataclasses.replace(sim_preset("tiny"), frames=40, fps=25.0, **SMALL)
    span = dataclasses.replace(take, frames=50, fps=1000.0, start_s=0.8, take_s=take.take)
    s, t = make_stage(take), make_stage(span)
    times = np.array([span.time_of(k) for k in range(0, 50, 40)])  # 0.8 s and 0.84 s: frames 20, 21 at 25 fps
    np.testing.assert_allclose(times, [0.8, 0.84])
    for x, y in zip(s.params(times), t.params(times), strict=True):
        np.testing.assert_array_equal(x, y)
    assert span.take == take.take == 1.6


@pytest.mark.parametrize("fps", [10000.5, 0.0, -25.0])
def test_rate_limits(fps):
    with pytest.raises(ConfigError, match="--fps"):
        dataclasses.replace(sim_preset("tiny"), fps=fps).validate()

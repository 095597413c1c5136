import json

import numpy as np
import pytest

from nervp.lightstage import DomeConfig, build_dome
from nervp.relight import (
    LOOKS,
    EnvMap,
    LEDWeights,
    LightingError,
    Look,
    parse_lighting,
    rotate_lighting,
    save_envmap,
    weights_for,
)

DOME = build_dome(DomeConfig(n_lights=96))


def test_names_resolve_to_environments_and_looks():
    assert isinstance(parse_lighting("uniform"), EnvMap)
    for name in ("sky", "sunset", "overcast", "studio"):
        assert isinstance(parse_lighting(name), EnvMap)
    for name in LOOKS:
        assert isinstance(parse_lighting(name), Look)
    with pytest.raises(LightingError, match="unknown lighting"):
        parse_lighting("moonlight")
    with pytest.raises(LightingError, match="unsupported lighting file"):
        parse_lighting("lights.txt")


def test_weight_files(tmp_path):
    w = np.random.default_rng(0).uniform(0, 1, (96, 3))
    np.save(tmp_path / "w.npy", w)
    (tmp_path / "w.json").write_text(json.dumps({"weights": w.tolist()}))
    (tmp_path / "grey.json").write_text(json.dumps(w[:, 0].tolist()))
    for name in ("w.npy", "w.json"):
        lt = parse_lighting(str(tmp_path / name))
        assert isinstance(lt, LEDWeights)
        np.testing.assert_allclose(weights_for(lt, DOME), w, rtol=1e-6)
    np.testing.assert_allclose(weights_for(parse_lighting(str(tmp_path / "grey.json")), DOME)[:, 2], w[:, 0], rtol=1e-6)
    np.save(tmp_path / "short.npy", w[:50])
    with pytest.raises(LightingError, match="50 LED weights but the dataset has 96"):
        weights_for(parse_lighting(str(tmp_path / "short.npy")), DOME)
    np.save(tmp_path / "bad.npy", np.ones((96, 4)))
    with pytest.raises(LightingError, match="shape"):
        parse_lighting(str(tmp_path / "bad.npy"))
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(LightingError, match="cannot read"):
        parse_lighting(str(tmp_path / "broken.json"))
    with pytest.raises(LightingError, match="cannot be rotated"):
        rotate_lighting(parse_lighting(str(tmp_path / "w.npy")), 10)


def test_map_files(tmp_path):
    env = parse_lighting("sky")
    save_envmap(tmp_path / "sky.exr", env)
    back = parse_lighting(str(tmp_path / "sky.exr"))
    np.testing.assert_allclose(weights_for(back, DOME), weights_for(env, DOME), rtol=2e-3)

"""The simulated raw camera stream: schedule, exposure and consistency with the ground truth."""

import dataclasses

import numpy as np
import pytest
import torch

from nervp.imaging.bayer import mosaic
from nervp.lightstage.schedule import TRACKING, make_schedule
from nervp.store.raw import load_raw
from nervp.store.zstore import DatasetError


@pytest.fixture(scope="module")
def still_raw(tmp_path_factory):
    from nervp.lightstage import DomeConfig
    from nervp.presets import RAW_PRESETS
    from nervp.synth.motion import MotionConfig
    from nervp.synth.raw import simulate_raw

    base = RAW_PRESETS["tiny"]
    cfg = dataclasses.replace(
        base, sim=dataclasses.replace(base.sim, frames=2, size=32, motion=MotionConfig(still=True),
                                      dome=DomeConfig(n_lights=24)),
        sensor=dataclasses.replace(base.sensor, noise=False))
    return simulate_raw(tmp_path_factory.mktemp("raw") / "still.raw", cfg), cfg


def test_schedule_is_exactly_as_specified(still_raw):
    path, cfg = still_raw
    raw = load_raw(path)
    ref = make_schedule(cfg.sim.frames, 24, cfg.schedule)
    np.testing.assert_array_equal(raw.small("pattern"), ref.pattern)
    np.testing.assert_array_equal(raw.small("time"), ref.time)
    np.testing.assert_array_equal(raw.small("sets_olat"), ref.sets_olat)
    assert raw.manifest["schedule"]["fps"] == 1000 and raw.manifest["schedule"]["tracking_every"] == 6
    assert raw.image(0).dtype == np.uint8 and raw.image(0).shape == (32, 32)
    assert raw.truth().n_frames == cfg.sim.frames


def test_images_match_the_truth_for_a_still_performer(still_raw):
    """With no motion and no noise, each raw image is the truth mosaiced, scaled and rounded."""
    path, _ = still_raw
    raw = load_raw(path)
    truth = raw.truth().frame(0)
    pattern, gain = raw.small("pattern"), raw.small("gain")
    m = raw.manifest
    span = m["white_level"] - m["black_level"]
    assert raw.dome.n_lights == 24
    for i in list(range(0, 14)) + [int(raw.small("sets_middle")[0])]:
        src = truth.full_lit if pattern[i] == TRACKING else truth.olat[pattern[i]]
        expected = m["black_level"] + mosaic(torch.from_numpy(src)).numpy() * gain[i] * span
        err = np.abs(raw.image(i).astype(np.float64) - np.clip(expected, 0, 255))
        assert err.max() <= 0.5 + 2e-3 * expected.max(), f"image {i}"
    # exposure uses the 8-bit range: OLAT images and tracking images both reach bright values
    assert raw.image(int(raw.small("sets_middle")[0])).max() > 150
    olat_peaks = [raw.image(i).max() for i in range(1, 30) if pattern[i] != TRACKING]
    assert max(olat_peaks) > 150


def test_noise_is_seeded(tmp_path):
    from nervp.synth.raw import SensorConfig, expose

    img = torch.full((8, 8, 3), 0.3)
    s = SensorConfig()
    a = expose(img, 1.0, s, np.random.default_rng(1))
    b = expose(img, 1.0, s, np.random.default_rng(1))
    c = expose(img, 1.0, s, np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    expected = s.black_level + 0.3 * (s.white_level - s.black_level)
    assert abs(a.astype(float).mean() - expected) < 3


def test_raw_loader_rejects_damage(still_raw, tmp_path):
    import json
    import shutil

    path, _ = still_raw
    bad = tmp_path / "bad.raw"
    shutil.copytree(path, bad)
    m = json.loads((bad / "manifest.json").read_text())
    m["n_images"] += 5
    (bad / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(DatasetError, match="images"):
        load_raw(bad)

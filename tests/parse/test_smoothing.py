"""One-Euro smoothing and gap filling: fast path against the reference, jitter, lag, gaps."""

from __future__ import annotations

import numpy as np
import pytest

from nervp.parse.metrics import lag_frames
from nervp.parse.smoothing import (
    SmoothConfig,
    fill_gaps,
    one_euro,
    one_euro_reference,
    smooth_track,
)


def test_fast_path_matches_reference():
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=(40, 5, 2)), axis=0)
    cfg = SmoothConfig(min_cutoff_hz=1.5, beta=2.0)
    np.testing.assert_allclose(one_euro(x, 30.0, cfg, 3.0), one_euro_reference(x, 30.0, cfg, 3.0),
                               rtol=1e-12, atol=1e-12)


def test_constant_signal_is_unchanged():
    x = np.full((20, 3, 2), 7.25)
    for mode in ("offline", "causal"):
        np.testing.assert_allclose(smooth_track(x, 25.0, SmoothConfig(mode=mode)), x, atol=1e-5)


@pytest.mark.parametrize("mode", ["offline", "causal"])
def test_jitter_halved_on_a_still_point(mode):
    rng = np.random.default_rng(1)
    x = 100.0 + rng.normal(0, 0.5, (300, 1, 2))  # still point, white jitter, pixels
    s = smooth_track(x, 30.0, SmoothConfig(mode=mode), scale=100.0)
    jit = lambda a: np.median(np.linalg.norm(np.diff(a[:, 0], axis=0), axis=-1))  # noqa: E731
    assert jit(x) / jit(s) >= 2.0


def test_lag_on_motion():
    t = np.arange(120) / 30.0
    # a head-like motion: 0.5 IOD sweeps at 0.5 Hz, IOD = 100 px
    x = np.stack([50 * np.sin(2 * np.pi * 0.5 * t), 20 * np.cos(2 * np.pi * 0.3 * t)], -1)[:, None, :]
    x = np.repeat(x, 468, axis=1)
    causal = smooth_track(x, 30.0, SmoothConfig(mode="causal"), scale=100.0)
    offline = smooth_track(x, 30.0, SmoothConfig(mode="offline"), scale=100.0)
    assert 0.0 <= lag_frames(causal, x) <= 1.0
    assert abs(lag_frames(offline, x)) <= 0.25
    assert lag_frames(np.roll(x, 2, axis=0), x) == pytest.approx(2.0)  # the lag measure itself


def test_off_and_nan_runs():
    x = np.random.default_rng(2).normal(size=(10, 2, 2))
    np.testing.assert_allclose(smooth_track(x, 25.0, SmoothConfig(mode="off")), x, rtol=1e-6)
    x[4:6] = np.nan
    s = smooth_track(x, 25.0, SmoothConfig())
    assert np.isnan(s[4:6]).all() and np.isfinite(s[:4]).all() and np.isfinite(s[6:]).all()
    with pytest.raises(ValueError, match="NaN"):
        one_euro(x, 25.0, SmoothConfig())


def test_fill_gaps_interpolates_short_gaps_only():
    x = np.arange(12, dtype=np.float32)[:, None] * 2.0
    found = np.ones(12, bool)
    found[[2, 3]] = False  # short gap
    found[6:10] = False  # long gap
    x[~found] = np.nan
    y, filled = fill_gaps(x, found, max_gap=2)
    np.testing.assert_allclose(y[[2, 3], 0], [4.0, 6.0])
    assert filled.tolist() == [False, False, True, True] + [False] * 8
    assert np.isnan(y[6:10]).all()


def test_bad_settings():
    from nervp.errors import ConfigError

    with pytest.raises(ConfigError):
        SmoothConfig(min_cutoff_hz=0).validate()
    with pytest.raises(ConfigError):
        SmoothConfig(mode="fast").validate()  # type: ignore[arg-type]

import numpy as np
import pytest

from nervp.errors import ConfigError
from nervp.lightstage import TRACKING, ScheduleConfig, make_schedule


def test_tracking_every_sixth_image_at_1000_fps():
    s = make_schedule(5, 96)
    assert s.fps == 1000
    idx = np.arange(s.n_images)
    assert ((s.pattern == TRACKING) == (idx % 6 == 0)).all()
    np.testing.assert_allclose(np.diff(s.time), 1e-3)


def test_leds_cycle_in_order_between_tracking_frames():
    order = tuple(np.random.default_rng(0).permutation(96).tolist())
    s = make_schedule(3, 96, ScheduleConfig(led_order=order))
    olat = s.pattern[s.pattern != TRACKING]
    np.testing.assert_array_equal(olat[:96], order)
    np.testing.assert_array_equal(olat[96:192][: len(olat) - 96], np.resize(order, len(olat))[96:192])


def test_each_set_has_every_led_once_around_its_middle_tracking_frame():
    s = make_schedule(6, 96, ScheduleConfig(set_stride=2))
    for m, imgs in zip(s.sets_middle, s.sets_olat, strict=True):
        assert s.pattern[m] == TRACKING
        np.testing.assert_array_equal(s.pattern[imgs], np.arange(96))
        assert (imgs < m).sum() == 48 and (imgs > m).sum() == 48
        # the set is a contiguous run of OLAT images centred on m
        olat_idx = np.nonzero(s.pattern != TRACKING)[0]
        run = np.sort(imgs)
        k = np.searchsorted(olat_idx, run[0])
        np.testing.assert_array_equal(run, olat_idx[k:k + 96])


@pytest.mark.parametrize("stride", [1, 3, 7])
def test_overlap_rate_and_reuse(stride):
    s = make_schedule(60, 96, ScheduleConfig(set_stride=stride))
    assert s.n_sets == 60
    assert s.output_fps == pytest.approx(1000 / (6 * stride))
    np.testing.assert_array_equal(np.diff(s.sets_middle), 6 * stride)
    reuse = s.reuse_counts()
    # an OLAT image in the steady state serves every set whose 96-image window covers it:
    # 96 OLAT images span 96/5 tracking periods, so ceil/floor(96 / (5 * stride)) sets
    steady = reuse[s.sets_middle[28]:s.sets_middle[31]]
    steady = steady[s.pattern[s.sets_middle[28]:s.sets_middle[31]] != TRACKING]
    lo, hi = int(np.floor(96 / (5 * stride))), int(np.ceil(96 / (5 * stride)))
    assert steady.min() >= lo and steady.max() <= hi
    assert (reuse[s.pattern == TRACKING] == 0).all()


def test_shortest_stream():
    s = make_schedule(1, 96)
    # 48 OLAT images before the middle need 10 groups of 5, 48 after need 10 more
    assert s.sets_middle[0] == 60 and s.n_images == 121


@pytest.mark.parametrize("kw,n", [({"tracking_every": 1}, 1), ({"set_stride": 0}, 1),
                                  ({"led_order": (0, 0, 1)}, 1), ({"fps": 0.0}, 1), ({}, 0)])
def test_bad_schedules(kw, n):
    with pytest.raises(ConfigError):
        make_schedule(n, 3, ScheduleConfig(**kw))

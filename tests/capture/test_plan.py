"""Planning overlapping sets on the paper's schedule (96 LEDs, tracking every 6th image, 1000 fps)."""

import numpy as np
import pytest

from nervp.capture import CaptureConfig, centred_sets, open_stream, plan_capture
from nervp.capture.ingest import write_raw_stream
from nervp.errors import ConfigError
from nervp.lightstage import DomeConfig, ScheduleConfig, build_dome, make_schedule

L = 96


@pytest.fixture(scope="module")
def paper_stream(tmp_path_factory):
    """The paper's schedule for 8 sets 7 tracking frames apart, with blank 2x2 images."""
    sched = make_schedule(8, L, ScheduleConfig())
    path = tmp_path_factory.mktemp("plan") / "paper.raw"
    images = (np.zeros((2, 2), np.uint8) for _ in range(sched.n_images))
    write_raw_stream(path, images, sched.pattern, sched.time, np.ones(sched.n_images, np.float32),
                     build_dome(DomeConfig(n_lights=L)), fps=sched.fps, sets=(sched.sets_middle, sched.sets_olat))
    return path, sched


def test_centred_sets_are_the_schedules_sets():
    for stride in (1, 3, 7):
        sched = make_schedule(5, L, ScheduleConfig(set_stride=stride))
        mids, olat = centred_sets(sched.pattern, L)
        keep = np.isin(mids, sched.sets_middle)
        np.testing.assert_array_equal(mids[keep], sched.sets_middle)
        np.testing.assert_array_equal(olat[keep], sched.sets_olat)
        assert np.all(sched.pattern[olat] == np.arange(L))  # every LED once per set


def test_the_streams_own_sets_by_default(paper_stream):
    path, sched = paper_stream
    plan = plan_capture(open_stream(path))
    np.testing.assert_array_equal(plan.middles, sched.sets_middle)
    np.testing.assert_array_equal(plan.olat, sched.sets_olat)
    assert plan.set_stride == 7
    assert plan.output_fps == pytest.approx(1000 / 42)  # the paper's ~25 fps
    np.testing.assert_array_equal(plan.reuse_counts(), sched.reuse_counts())


@pytest.mark.parametrize("stride", [1, 2, 7])
def test_overlap_rate_count_and_reuse(paper_stream, stride):
    path, sched = paper_stream
    plan = plan_capture(open_stream(path), CaptureConfig(set_stride=stride))
    tracking = np.nonzero(sched.pattern == -1)[0]
    every = plan_capture(open_stream(path), CaptureConfig(set_stride=1))
    valid = every.n_sets
    assert valid == 1 + 7 * 7  # every tracking frame with 48 OLAT images on each side
    assert plan.n_sets == -(-valid // stride)
    assert plan.output_fps == pytest.approx(1000 / (6 * stride))
    assert np.all(np.diff(plan.middles) == 6 * stride) and np.all(np.isin(plan.middles, tracking))
    np.testing.assert_allclose(np.diff(plan.time), 6 * stride / 1000)
    # an OLAT image a set's span away from both ends serves L / 5 / stride sets (5 per group)
    reuse = plan.reuse_counts()
    lo, hi = every.middles[0] + 120, every.middles[-1] - 120
    inner = reuse[lo:hi][sched.pattern[lo:hi] >= 0]
    expect = L / 5 / stride
    assert set(np.unique(inner)) <= {int(np.floor(expect)), int(np.ceil(expect))}
    assert inner.mean() == pytest.approx(expect, rel=0.05)
    assert np.all(reuse[sched.pattern == -1] == 0)


def test_each_set_chains_through_twenty_groups(paper_stream):
    path, _ = paper_stream
    plan = plan_capture(open_stream(path), CaptureConfig(set_stride=1))
    for t in range(plan.n_sets):
        pairs = plan.set_pairs(t)
        assert pairs.size == 20  # 48 OLAT images = 9.6 groups on each side
        assert plan.track_no(int(plan.middles[t])) == pairs[0] + 10
    assert plan.n_pairs == 20 + plan.n_sets - 1  # shared by overlapping sets
    assert plan_capture(open_stream(path), CaptureConfig(set_stride=1, align=False)).n_pairs == 0


def test_fps_picks_the_nearest_stride(paper_stream):
    path, _ = paper_stream
    plan = plan_capture(open_stream(path), CaptureConfig(fps=50))
    assert plan.set_stride == 3 and plan.output_fps == pytest.approx(1000 / 18)
    assert plan_capture(open_stream(path), CaptureConfig(fps=1000 / 6)).set_stride == 1
    with pytest.raises(ConfigError, match="tracking-frame rate"):
        plan_capture(open_stream(path), CaptureConfig(fps=200))
    with pytest.raises(ConfigError, match="not both"):
        plan_capture(open_stream(path), CaptureConfig(fps=50, set_stride=2))

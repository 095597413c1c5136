"""`nervp reenact --fps`: the field at a higher rate keeps the source-rate frames' parameters,
records its rate and instants, and at the source's own rate is the plain reenactment."""

import numpy as np
import pytest

from nervp.cli import main
from nervp.store.olat import load_olat
from tests.bad_input.conftest import tiny_run  # noqa: F401 (a fixture)


@pytest.fixture(scope="module")
def plain(tiny_run, tiny_olat, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("hfr") / "plain.olat"
    assert main(["reenact", str(tiny_run), str(tiny_olat), str(out), "--params", "truth", "--device", "cpu"]) == 0
    return load_olat(out)


def test_reenact_at_the_source_rate_is_the_plain_reenactment(tiny_run, tiny_olat, plain, tmp_path):  # noqa: F811
    out = tmp_path / "same.olat"
    assert main(["reenact", str(tiny_run), str(tiny_olat), str(out), "--params", "truth", "--device", "cpu",
                 "--fps", "25"]) == 0
    same = load_olat(out)
    assert same.n_frames == plain.n_frames and same.manifest["fps"] == 25.0
    for name in ("theta", "phi", "time", "olat", "alpha"):
        np.testing.assert_array_equal(same.read(name), plain.read(name), err_msg=name)


def test_reenact_slowmo_2(tiny_run, tiny_olat, plain, tmp_path):  # noqa: F811
    out = tmp_path / "fast.olat"
    assert main(["reenact", str(tiny_run), str(tiny_olat), str(out), "--params", "truth", "--device", "cpu",
                 "--slowmo", "2", "--window", "output"]) == 0
    fast = load_olat(out)
    T = plain.n_frames
    assert fast.n_frames == 2 * (T - 1) + 1 and fast.manifest["fps"] == 50.0
    np.testing.assert_allclose(fast.read("time"), np.arange(fast.n_frames) / 50.0)
    assert fast.manifest["reenactment"]["resampled"]["window_stride"] == 1
    # the source's frames are knots of the resampled track: the same driven parameters
    np.testing.assert_allclose(fast.read("theta")[::2], plain.read("theta"), atol=2e-7)
    np.testing.assert_array_equal(fast.read("phi")[::2], plain.read("phi"))
    # and the first frame, whose window holds only frame 0 either way, is the same field
    np.testing.assert_array_equal(fast.read("olat", 0), plain.read("olat", 0))
    assert np.isfinite(fast.read("olat").astype(np.float32)).all()


def test_a_dataset_without_a_recorded_rate_reads_as_25_fps(tiny_run, tiny_olat, tmp_path):  # noqa: F811
    """Datasets written before the rate was recorded: --slowmo takes 25 fps for them."""
    import json
    import shutil

    old = tmp_path / "old.olat"
    shutil.copytree(tiny_olat, old)
    man = json.loads((old / "manifest.json").read_text())
    del man["fps"]
    (old / "manifest.json").write_text(json.dumps(man))
    out = tmp_path / "fast.olat"
    assert main(["reenact", str(tiny_run), str(old), str(out), "--params", "truth", "--device", "cpu",
                 "--slowmo", "2"]) == 0
    assert load_olat(out).manifest["fps"] == 50.0


def test_a_stretch_is_the_same_frames_as_the_whole_resampled_clip(tiny_run, tiny_olat, tmp_path):  # noqa: F811
    """--start/--seconds keep output frames k0..k1 of the whole --slowmo clip: the same instants
    and driven parameters exactly, and the same fields, since each window reaches back into the
    frames before --start as it would in the whole clip."""
    whole, part = tmp_path / "whole.olat", tmp_path / "part.olat"
    # 4 source frames at 25 fps -> 200 fps: 25 frames, frame k at k / 200 s; 0.06 .. 0.09 s is
    # frames 12..18, and their 11-frame windows (--window output) reach back to frame 2
    common = ["--params", "truth", "--device", "cpu", "--slowmo", "8", "--window", "output"]
    assert main(["reenact", str(tiny_run), str(tiny_olat), str(whole), *common]) == 0
    assert main(["reenact", str(tiny_run), str(tiny_olat), str(part), *common, "--start", "0.06",
                 "--seconds", "0.03"]) == 0
    w, p = load_olat(whole), load_olat(part)
    k0, k1 = 12, 18
    assert p.n_frames == k1 - k0 + 1 and p.manifest["fps"] == 200.0
    assert p.manifest["reenactment"]["resampled"]["span"]["frames"] == [k0, k1]
    np.testing.assert_allclose(p.read("time"), w.read("time")[k0:k1 + 1], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(p.read("theta"), w.read("theta")[k0:k1 + 1])
    np.testing.assert_array_equal(p.read("phi"), w.read("phi")[k0:k1 + 1])
    a = p.read("olat").astype(np.float32)
    b = w.read("olat")[k0:k1 + 1].astype(np.float32)
    # the same windows of the same maps; the batches the frames are run in differ (float32
    # convolution sums in another order), then both are rounded to float16 (relative step 2^-11):
    # allow one float16 step of the brightest value
    assert np.abs(a - b).max() <= 2.0 ** -10 * max(float(np.abs(b).max()), 1e-3)

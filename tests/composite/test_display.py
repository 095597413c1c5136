import numpy as np
import pytest
import torch

from nervp.colour import metered_exposure as auto_exposure
from nervp.colour import srgb_decode, srgb_encode, to_display, tonemap
from nervp.composite import DisplayConfig, clip_exposure


@pytest.mark.parametrize("curve", ["filmic", "aces", "reinhard", "clip"])
def test_tone_curves_are_monotonic_and_bounded(curve):
    x = torch.linspace(0, 50, 2001)
    y = tonemap(x, curve)
    assert float(y.min()) >= 0 and float(y.max()) <= 1
    assert (y.diff() >= -1e-7).all()
    assert float(tonemap(torch.tensor(0.0), curve)) == pytest.approx(0.0, abs=1e-6)


def test_filmic_white_point_and_midtones():
    assert float(tonemap(torch.tensor(11.2 / 2), "filmic")) == pytest.approx(1.0, abs=1e-6)  # 2x exposure bias
    mid = float(tonemap(torch.tensor(0.18), "filmic"))
    assert 0.1 < mid < 0.3


def test_srgb_round_trip_and_known_values():
    x = torch.linspace(0, 1, 1001)
    torch.testing.assert_close(srgb_decode(srgb_encode(x)), x, atol=1e-6, rtol=0)
    assert float(srgb_encode(torch.tensor(0.0031308))) == pytest.approx(0.04045, abs=1e-5)
    assert float(srgb_encode(torch.tensor(0.2140))) == pytest.approx(0.5, abs=1e-3)


def test_to_display_uint8():
    img = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [float("nan"), 5.0, -1.0]]])
    out = to_display(img, 1.0, "clip")
    assert out.dtype == torch.uint8
    assert out[0, 0].tolist() == [0, 0, 0] and out[0, 1].tolist() == [255, 255, 255]
    assert out[0, 2].tolist() == [0, 255, 0]


def test_auto_exposure_meters_the_performer():
    img = torch.zeros(10, 10, 3)
    img[:5] = 2.0  # performer at luminance 2
    img[5:, :2] = 50.0  # a hot background the matte excludes
    alpha = torch.zeros(10, 10)
    alpha[:5] = 1.0
    assert auto_exposure(img, alpha, key=0.18) == pytest.approx(0.09, rel=1e-5)
    assert auto_exposure(torch.zeros(4, 4, 3)) == 1.0
    # a low-key picture: a few bright pixels, most nearly black: the highlights set the exposure
    low_key = torch.full((10, 10, 3), 0.001)
    low_key[0] = 10.0
    assert auto_exposure(low_key, key=0.18, white=2.0) == pytest.approx(0.2, rel=1e-4)
    assert clip_exposure(DisplayConfig(ev=1.0, auto=False), img) == pytest.approx(2.0)
    assert clip_exposure(DisplayConfig(ev=-1.0), img, alpha) == pytest.approx(0.045, rel=1e-5)
    np.testing.assert_allclose(clip_exposure(DisplayConfig(), img * 4, alpha) * 4,
                               clip_exposure(DisplayConfig(), img, alpha), rtol=1e-5)

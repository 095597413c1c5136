"""nervp.colour: the one sRGB curve (numpy and torch), exposure in stops, the meters, pictures."""

import numpy as np
import pytest
import torch

from nervp.colour import (
    ENCODED_KNEE,
    LINEAR_KNEE,
    luminance,
    metered_exposure,
    percentile_exposure,
    srgb_decode,
    srgb_encode,
    stops,
    to_display,
    to_srgb8,
)

KINDS = [np.asarray, torch.as_tensor]


def _np(x):
    return x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip(kind, dtype):
    x = kind(np.linspace(0, 1, 10001, dtype=dtype))
    assert type(srgb_encode(x)) is type(x) and _np(srgb_encode(x)).dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(_np(srgb_decode(srgb_encode(x))), _np(x), atol=tol, rtol=0)
    np.testing.assert_allclose(_np(srgb_encode(srgb_decode(x))), _np(x), atol=tol, rtol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_known_values(kind):
    x = kind(np.array([0.0, LINEAR_KNEE, 0.0031, 0.18, 0.2140, 0.5, 1.0]))
    want = [0.0, 0.0404499, 0.040052, 0.461356, 0.499956, 0.735357, 1.0]
    np.testing.assert_allclose(_np(srgb_encode(x)), want, atol=2e-6)
    enc = kind(np.array([0.0, ENCODED_KNEE, 0.5, 1.0]))
    np.testing.assert_allclose(_np(srgb_decode(enc)), [0.0, 0.0031308, 0.214041, 1.0], atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_the_pieces_meet_at_the_knees(kind):
    eps = 1e-9
    x = kind(np.array([LINEAR_KNEE - eps, LINEAR_KNEE + eps]))
    lo, hi = _np(srgb_encode(x))
    assert abs(hi - lo) < 1e-6  # no jump where the linear piece hands over to the power piece
    e = kind(np.array([ENCODED_KNEE - eps, ENCODED_KNEE + eps]))
    lo, hi = _np(srgb_decode(e))
    assert abs(hi - lo) < 1e-7


@pytest.mark.parametrize("kind", KINDS)
def test_monotonic_and_clipped_encode(kind):
    x = kind(np.linspace(-0.5, 2.0, 20001))
    y = _np(srgb_encode(x))
    assert (np.diff(y) >= 0).all() and y.min() == 0.0 and y.max() == pytest.approx(1.0, abs=1e-12)
    d = _np(srgb_decode(kind(np.linspace(-0.5, 2.0, 20001))))
    assert (np.diff(d) > 0).all()  # decoding is not clipped: extended sRGB
    assert d[-1] == pytest.approx(((2.0 + 0.055) / 1.055) ** 2.4)


@pytest.mark.parametrize("kind", KINDS)
def test_nan_stays_nan(kind):
    x = kind(np.array([np.nan, 0.5]))
    assert np.isnan(_np(srgb_encode(x))[0]) and np.isnan(_np(srgb_decode(x))[0])


def test_encode_gradient_is_finite_at_zero():
    x = torch.tensor([0.0, 0.002, 0.5], requires_grad=True)
    srgb_encode(x).sum().backward()
    assert torch.isfinite(x.grad).all() and float(x.grad[0]) == pytest.approx(12.92)


def test_numpy_and_torch_agree():
    x = np.random.default_rng(0).random(1000).astype(np.float32)
    np.testing.assert_allclose(srgb_encode(x), srgb_encode(torch.from_numpy(x)).numpy(), atol=1e-6)
    np.testing.assert_allclose(srgb_decode(x), srgb_decode(torch.from_numpy(x)).numpy(), atol=1e-6)


def test_stops_and_meters():
    assert stops(0) == 1 and stops(1) == 2 and stops(-2) == 0.25
    assert float(luminance(np.ones(3))) == pytest.approx(1.0)
    a = np.array([0.0, 0.0, 1.0, 2.0, 4.0])
    assert percentile_exposure(a, target=0.8, q=100) == pytest.approx(0.2)
    assert percentile_exposure(np.zeros(4)) == 1.0
    img = torch.full((2, 2, 3), 0.36)
    assert metered_exposure(img, key=0.18, white=100.0) == pytest.approx(0.5, rel=1e-5)


def test_pictures():
    lin = np.array([[0.0, 1.0, 2.0], [np.nan, 0.2159, -1.0]], np.float32)
    assert to_srgb8(lin).tolist() == [[0, 255, 255], [0, 128, 0]]
    assert to_srgb8(lin, exposure=0.5)[0].tolist() == [0, 188, 255]
    out = to_display(torch.from_numpy(lin), 1.0, "clip")
    assert out.dtype == torch.uint8 and out.tolist() == to_srgb8(lin).tolist()

import pytest
import torch

from nervp.imaging import PATTERNS, cfa_masks, demosaic_bilinear, mosaic


@pytest.mark.parametrize("pattern", PATTERNS)
def test_flat_colour_round_trip(pattern):
    rgb = torch.ones(2, 10, 12, 3) * torch.tensor([0.2, 0.55, 0.9])
    out = demosaic_bilinear(mosaic(rgb, pattern), pattern)
    torch.testing.assert_close(out, rgb, atol=1e-6, rtol=0)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_masks_partition_the_sensor(pattern):
    m = cfa_masks(pattern, 4, 6)
    assert (m.sum(0) == 1).all()
    assert m[1].sum() == 12 and m[0].sum() == 6 and m[2].sum() == 6


def test_rggb_layout_and_known_values():
    rgb = torch.zeros(2, 2, 3)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 1.0, 2.0, 3.0
    raw = mosaic(rgb, "RGGB")
    assert raw.tolist() == [[1.0, 2.0], [2.0, 3.0]]


def test_smooth_gradient_is_reproduced_inside():
    y, x = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    rgb = torch.stack([x / 16, y / 16, (x + y) / 32], -1)
    out = demosaic_bilinear(mosaic(rgb))
    torch.testing.assert_close(out[2:-2, 2:-2], rgb[2:-2, 2:-2], atol=1e-5, rtol=0)


def test_bad_input():
    with pytest.raises(ValueError, match="Bayer pattern"):
        mosaic(torch.zeros(4, 4, 3), "RGBG")
    with pytest.raises(ValueError, match="even"):
        demosaic_bilinear(torch.zeros(5, 4))

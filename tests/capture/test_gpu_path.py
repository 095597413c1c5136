"""The PyTorch develop and warp (`nervp.capture.gpu`, for a GPU) against the CPU path, run on CPU
tensors: developing equal to float32 rounding; warping equal to the plain bilinear reference to
float32 rounding, and to OpenCV's remap within its 1/32-pixel position quantisation."""

import numpy as np
import torch

from nervp.capture.align import develop_batch, grid, sample_reference, warp_many
from nervp.capture.gpu import develop_batch_torch, warp_many_torch


def test_develop_matches_the_cpu_path():
    rng = np.random.default_rng(0)
    dn = rng.integers(0, 256, (3, 32, 48), dtype=np.uint8)
    gains = np.array([0.5, 1.0, 2.5], np.float32)
    scale = rng.uniform(0.9, 1.1, (3, 3)).astype(np.float32)
    for bayer in ("RGGB", "GBRG"):
        cpu = develop_batch(dn, bayer, 6.0, 255.0, gains, scale)
        got = develop_batch_torch(torch.from_numpy(dn), bayer, 6.0, 255.0, torch.from_numpy(gains),
                                  torch.from_numpy(scale)).numpy()
        # values up to ~2 (255 / 249 / 0.5 / 0.9): a few float32 ulps of that
        np.testing.assert_allclose(got, cpu, rtol=0, atol=2e-6)


def test_warp_matches_the_reference_and_opencv():
    rng = np.random.default_rng(1)
    H, W = 20, 24
    imgs = rng.uniform(0, 1, (2, H, W, 3)).astype(np.float32)
    disp = rng.uniform(-3, 3, (H, W, 2)).astype(np.float32)
    got, inside = warp_many_torch(torch.from_numpy(imgs), torch.from_numpy(disp))
    got = got.numpy()
    for k in range(2):  # exact bilinear: float32 rounding of values in [0, 1]
        np.testing.assert_allclose(got[k], sample_reference(imgs[k], disp), rtol=0, atol=1e-5)
    cv, cv_inside = warp_many(list(imgs), disp, grid(H, W))
    np.testing.assert_array_equal(inside.numpy(), cv_inside)
    # OpenCV samples at positions rounded to 1/32 px: the difference is at most 1/32 of the
    # largest step between neighbouring pixels (plus its 1/1024-weight fixed-point rounding)
    step = max(np.abs(np.diff(imgs, axis=1)).max(), np.abs(np.diff(imgs, axis=2)).max())
    assert np.abs(got - np.stack(cv)).max() <= step / 32 + 2e-3

"""Capture's developing and warping as PyTorch operations on any device (a GPU when there is
one): the same arithmetic as the CPU path in `nervp.capture.align`.

* `develop_batch_torch` = `align.develop_batch`: bilinear demosaic (`demosaic_bilinear`, which
  the OpenCV path equals exactly), then (DN - black) / (white - black) / gain / rgb_scale, all
  in float32: equal to the CPU path within float32 rounding.
* `warp_many_torch` = `align.warp_many` with exact bilinear weights (`grid_sample`, edges
  repeated). OpenCV's `remap` quantises the sampling position to 1/32 pixel, so the two differ
  by at most 1/32 of the local difference between neighbouring pixels; against the plain
  reference `align.sample_reference` this path agrees to float32 rounding (tested).

Not yet wired into `capture`'s tasks (the CPU path runs there); see docs/CAPTURE.md.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from nervp.imaging.bayer import demosaic_bilinear


def develop_batch_torch(dn: Tensor, bayer: str, black: float, white: float, gains: Tensor,
                        rgb_scale: Tensor | None = None) -> Tensor:
    """(B, H, W) uint8 Bayer DN, gains (B,), rgb_scale (B, 3) -> (B, H, W, 3) float32 linear
    radiance, on `dn`'s device."""
    inv = (1.0 / ((white - black) * gains.double())).float()
    rgb = demosaic_bilinear(dn.float(), bayer)
    rgb = (rgb - float(black)) * inv[:, None, None, None]
    if rgb_scale is not None:
        rgb = rgb / rgb_scale.float()[:, None, None, :]
    return rgb


def warp_many_torch(images: Tensor, disp: Tensor) -> tuple[Tensor, Tensor]:
    """(B, H, W, C) float32 images read at x + disp(x) (bilinear, edges repeated), disp (H, W, 2)
    float32 in pixels (x, y); and the (H, W) bool mask of where x + disp(x) falls inside."""
    B, H, W, C = images.shape
    ys, xs = torch.meshgrid(torch.arange(H, device=disp.device, dtype=torch.float32),
                            torch.arange(W, device=disp.device, dtype=torch.float32), indexing="ij")
    mx, my = xs + disp[..., 0], ys + disp[..., 1]
    gx = 2.0 * mx.clamp(0, W - 1) / max(W - 1, 1) - 1.0
    gy = 2.0 * my.clamp(0, H - 1) / max(H - 1, 1) - 1.0
    grid = torch.stack([gx, gy], -1)[None].expand(B, H, W, 2)
    out = F.grid_sample(images.permute(0, 3, 1, 2), grid, mode="bilinear", padding_mode="border",
                        align_corners=True).permute(0, 2, 3, 1)
    inside = (mx >= -0.5) & (mx <= W - 0.5) & (my >= -0.5) & (my <= H - 0.5)
    return out, inside

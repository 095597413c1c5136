"""Bayer colour-filter mosaics: sampling an RGB image and bilinear demosaicing.

Patterns are named by the colours of the top-left 2x2 block read row by row
("RGGB", "BGGR", "GRBG", "GBRG").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")
_CH = {"R": 0, "G": 1, "B": 2}


def cfa_masks(pattern: str, height: int, width: int, device: torch.device | str = "cpu") -> Tensor:
    """(3, H, W) float32 0/1 masks saying which colour each photosite records."""
    if pattern not in PATTERNS:
        raise ValueError(f"unknown Bayer pattern {pattern!r}; choose one of {', '.join(PATTERNS)}")
    if height % 2 or width % 2:
        raise ValueError(f"a Bayer image needs even height and width, got {height}x{width}")
    m = torch.zeros(3, height, width, device=device)
    for k, c in enumerate(pattern):
        m[_CH[c], k // 2::2, k % 2::2] = 1.0
    return m


def mosaic(rgb: Tensor, pattern: str = "RGGB") -> Tensor:
    """Sample (..., H, W, 3) RGB into a (..., H, W) single-channel Bayer image."""
    if rgb.shape[-1] != 3:
        raise ValueError(f"mosaic expects (..., H, W, 3), got {tuple(rgb.shape)}")
    m = cfa_masks(pattern, rgb.shape[-3], rgb.shape[-2], rgb.device)
    return (rgb * m.permute(1, 2, 0)).sum(-1)


_K_G = torch.tensor([[0.0, 0.25, 0.0], [0.25, 1.0, 0.25], [0.0, 0.25, 0.0]])
_K_RB = torch.tensor([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])


def demosaic_bilinear(raw: Tensor, pattern: str = "RGGB") -> Tensor:
    """Bilinear demosaic of (B, H, W) or (H, W) Bayer images into (..., H, W, 3) float32.

    Each missing colour is the average of its nearest recorded neighbours (mirror-padded at
    the border), so a flat colour is reproduced exactly.
    """
    squeeze = raw.dim() == 2
    x = raw.float().unsqueeze(0) if squeeze else raw.float()
    if x.dim() != 3:
        raise ValueError(f"demosaic expects (H, W) or (B, H, W), got {tuple(raw.shape)}")
    m = cfa_masks(pattern, x.shape[-2], x.shape[-1], x.device)
    planes = x.unsqueeze(1) * m.unsqueeze(0)  # (B, 3, H, W)
    k = torch.stack([_K_RB, _K_G, _K_RB]).unsqueeze(1).to(x.device)  # (3, 1, 3, 3)
    pad = F.pad(planes, (1, 1, 1, 1), mode="reflect")
    mpad = F.pad(m.unsqueeze(0), (1, 1, 1, 1), mode="reflect")
    num = F.conv2d(pad, k, groups=3)
    den = F.conv2d(mpad, k, groups=3)
    out = (num / den).permute(0, 2, 3, 1)
    return out[0] if squeeze else out

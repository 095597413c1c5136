"""Display transform, in one place: exposure, a filmic tone map, sRGB encoding.

Everything upstream is linear scene radiance (Rec. 709 primaries). `to_display` is the only
function that turns it into a picture: ``srgb(tonemap(linear * 2^ev * auto))``. The
exposure is chosen once per clip (`auto_exposure` on a few frames), never per frame, so a
spinning environment changes the picture, not the camera's exposure.

Tone maps (x is exposed linear radiance, output in [0, 1] before sRGB encoding):

* ``filmic``: John Hable's filmic curve (A..F = 0.15, 0.50, 0.10, 0.20, 0.02, 0.30) with
  white point 11.2, normalised so x = 11.2 maps to 1; a toe and a soft shoulder.
* ``aces``: Krzysztof Narkowicz's fit of the ACES reference rendering transform,
  ``x (2.51 x + 0.03) / (x (2.43 x + 0.59) + 0.14)``.
* ``reinhard``: ``x / (1 + x)``.
* ``clip``: no curve; values above 1 clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

ToneMap = Literal["filmic", "aces", "reinhard", "clip"]

_A, _B, _C, _D, _E, _F = 0.15, 0.50, 0.10, 0.20, 0.02, 0.30
_WHITE = 11.2
_FILMIC_GAIN = 2.0  # Hable's exposure bias: mid-grey 0.18 lands near 0.36 display-linear


@dataclass(frozen=True)
class DisplayConfig:
    """How linear frames become display pictures."""

    ev: float = 0.0
    """Exposure compensation in stops, on top of the automatic exposure (or of 1 without it)."""
    auto: bool = True
    """Meter the exposure once from the clip so the performer's mid-tones sit near mid-grey."""
    tonemap: ToneMap = "filmic"
    """Tone curve from scene radiance to display."""
    key: float = 0.18
    """Target of the automatic exposure for the performer's log-average luminance."""
    white: float = 2.0
    """Highest exposed value allowed for the performer's 99.9th-percentile luminance."""


def luminance(rgb: Tensor | np.ndarray) -> Tensor | np.ndarray:
    """Rec. 709 luminance of linear RGB (..., 3) -> (...)."""
    return rgb[..., 0] * 0.2126 + rgb[..., 1] * 0.7152 + rgb[..., 2] * 0.0722


def auto_exposure(linear: Tensor, alpha: Tensor | None = None, key: float = 0.18,
                  white: float = 2.0) -> float:
    """Exposure multiplier metered on `linear` (..., H, W, 3), like a photographer's meter:
    the performer's log-average luminance goes to `key` (mid-grey), unless that would push
    its highlights (99.9th percentile) past `white` (near the top of the filmic curve), in
    which case the highlights decide. Low-key looks therefore stay low-key.

    Only pixels with alpha > 0.5 (the performer) are metered when `alpha` (..., H, W) is
    given; black pixels are ignored. Returns 1 for an all-black input.
    """
    y = luminance(linear.float())
    keep = y > 1e-6
    if alpha is not None:
        keep = keep & (alpha.to(y.device) > 0.5)
    if not bool(keep.any()):
        return 1.0
    v = y[keep]
    logavg = float(torch.exp(torch.log(v).mean()))
    high = float(torch.quantile(v[:: max(1, v.numel() // 1_000_000)], 0.999))
    return min(key / logavg, white / high)


def _hable(x: Tensor) -> Tensor:
    return (x * (_A * x + _C * _B) + _D * _E) / (x * (_A * x + _B) + _D * _F) - _E / _F


def tonemap(x: Tensor, curve: ToneMap = "filmic") -> Tensor:
    """Exposed linear radiance (any shape, >= 0) -> display-linear values in [0, 1]."""
    x = x.clamp_min(0.0)
    if curve == "filmic":
        y = _hable(x * _FILMIC_GAIN) / _hable(torch.tensor(_WHITE, dtype=x.dtype, device=x.device))
    elif curve == "aces":
        y = x * (2.51 * x + 0.03) / (x * (2.43 * x + 0.59) + 0.14)
    elif curve == "reinhard":
        y = x / (1 + x)
    elif curve == "clip":
        y = x
    else:
        raise ValueError(f"unknown tone map {curve!r}; choose filmic, aces, reinhard or clip")
    return y.clamp(0.0, 1.0)


def srgb_encode(x: Tensor) -> Tensor:
    """Display-linear [0, 1] -> sRGB-encoded [0, 1] (IEC 61966-2-1 piecewise curve)."""
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.0031308, 12.92 * x, 1.055 * x.clamp_min(1e-12).pow(1 / 2.4) - 0.055)


def srgb_decode(x: Tensor) -> Tensor:
    """sRGB-encoded [0, 1] -> linear [0, 1] (for 8-bit background pictures and video)."""
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055).pow(2.4))


def to_display(linear: Tensor, exposure: float = 1.0, curve: ToneMap = "filmic") -> Tensor:
    """Linear frames (..., 3) -> uint8 sRGB pictures (..., 3) on the CPU."""
    y = srgb_encode(tonemap(torch.nan_to_num(linear.float()) * exposure, curve))
    return (y * 255.0 + 0.5).to(torch.uint8).cpu()


def clip_exposure(cfg: DisplayConfig, sample: Tensor, alpha: Tensor | None = None) -> float:
    """The one exposure multiplier for a clip: metered on `sample` frames (if cfg.auto), times 2^ev."""
    base = auto_exposure(sample, alpha, cfg.key, cfg.white) if cfg.auto else 1.0
    return base * 2.0 ** cfg.ev

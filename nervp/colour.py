"""Colour, in one place: the sRGB transfer functions, exposure, tone curves, display pictures.

Everything upstream of a picture is linear scene radiance (Rec. 709 primaries). A picture is
``srgb_encode(curve(linear * exposure))`` quantised to 8 bits: `to_display` (torch, with a tone
curve: relit clips) and `to_srgb8` (numpy, clipped: contact sheets) are the two ways to get
one, and both go through the same `srgb_encode`.

sRGB (IEC 61966-2-1): encoded = 12.92 x below the linear knee x = 0.0031308, else
1.055 x^(1/2.4) - 0.055; decoding inverts it with the encoded knee 0.04045. The two pieces
meet at the knees to 1e-7. Both functions take numpy arrays or torch tensors and return the
same kind. Exposure is a multiplier; `stops` turns an exposure value in stops into one.

Tone curves (x is exposed linear radiance, output display-linear in [0, 1]):

* ``filmic``: John Hable's filmic curve (A..F = 0.15, 0.50, 0.10, 0.20, 0.02, 0.30) with
  white point 11.2, normalised so x = 11.2 maps to 1; a toe and a soft shoulder.
* ``aces``: Krzysztof Narkowicz's fit of the ACES reference rendering transform,
  ``x (2.51 x + 0.03) / (x (2.43 x + 0.59) + 0.14)``.
* ``reinhard``: ``x / (1 + x)``.
* ``clip``: no curve; values above 1 clip.
"""

from __future__ import annotations

from typing import Literal, TypeVar

import numpy as np
import torch
from torch import Tensor

ToneMap = Literal["filmic", "aces", "reinhard", "clip"]
Array = TypeVar("Array", np.ndarray, Tensor)

LINEAR_KNEE = 0.0031308
"""Linear value where the sRGB curve turns from its linear piece to its power piece."""
ENCODED_KNEE = 0.04045
"""The same point on the encoded side (12.92 * LINEAR_KNEE, rounded as the standard does)."""

_A, _B, _C, _D, _E, _F = 0.15, 0.50, 0.10, 0.20, 0.02, 0.30
_WHITE = 11.2
_FILMIC_GAIN = 2.0  # Hable's exposure bias: mid-grey 0.18 lands near 0.36 display-linear


def srgb_encode(x: Array) -> Array:
    """Display-linear values (any shape) -> sRGB-encoded, both in [0, 1]. Values are first
    clipped to [0, 1]; NaN stays NaN. numpy in, numpy out (same float dtype); torch likewise."""
    if isinstance(x, np.ndarray):
        x = np.clip(x, 0.0, 1.0)
        return np.where(x <= LINEAR_KNEE, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    x = x.clamp(0.0, 1.0)
    # clamp_min: a finite gradient at 0 through the (unselected) power piece
    return torch.where(x <= LINEAR_KNEE, 12.92 * x, 1.055 * x.clamp_min(1e-12).pow(1 / 2.4) - 0.055)


def srgb_decode(x: Array) -> Array:
    """sRGB-encoded values (any shape) -> linear. Not clipped: [0, 1] maps onto [0, 1], values
    above 1 follow the power piece (extended sRGB), values below 0 the linear piece."""
    if isinstance(x, np.ndarray):
        return np.where(x <= ENCODED_KNEE, x / 12.92, np.power((np.maximum(x, ENCODED_KNEE) + 0.055) / 1.055, 2.4))
    return torch.where(x <= ENCODED_KNEE, x / 12.92, ((x + 0.055) / 1.055).pow(2.4))


def stops(ev: float) -> float:
    """Exposure multiplier of `ev` stops: 2^ev (+1 doubles, -1 halves)."""
    return 2.0 ** ev


def luminance(rgb: Array) -> Array:
    """Rec. 709 luminance of linear RGB (..., 3) -> (...)."""
    return rgb[..., 0] * 0.2126 + rgb[..., 1] * 0.7152 + rgb[..., 2] * 0.0722


def percentile_exposure(linear: np.ndarray, target: float = 0.8, q: float = 99.5) -> float:
    """Exposure multiplier that maps the q-th percentile of the positive values of `linear`
    (any shape) to `target` (contact sheets: a bright, clipped-highlight look). 1 if none."""
    v = linear[linear > 0]
    return float(target / max(np.percentile(v, q), 1e-8)) if v.size else 1.0


def metered_exposure(linear: Tensor, alpha: Tensor | None = None, key: float = 0.18,
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


def to_display(linear: Tensor, exposure: float = 1.0, curve: ToneMap = "filmic") -> Tensor:
    """Linear frames (..., 3) -> uint8 sRGB pictures (..., 3) on the CPU; NaN shows as black."""
    y = srgb_encode(tonemap(torch.nan_to_num(linear.float()) * exposure, curve))
    return (y * 255.0 + 0.5).to(torch.uint8).cpu()


def to_srgb8(linear: np.ndarray, exposure: float = 1.0) -> np.ndarray:
    """Linear RGB (..., 3) -> sRGB-encoded uint8 (..., 3): times `exposure`, clipped to [0, 1]
    (no tone curve); NaN shows as black."""
    x = np.clip(np.nan_to_num(linear * exposure), 0.0, 1.0)
    return (srgb_encode(x) * 255 + 0.5).astype(np.uint8)


__all__ = ["ENCODED_KNEE", "LINEAR_KNEE", "ToneMap", "luminance", "metered_exposure", "percentile_exposure",
           "srgb_decode", "srgb_encode", "stops", "to_display", "to_srgb8", "tonemap"]

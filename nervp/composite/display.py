"""How a relit clip is shown: the display settings and the one exposure of a clip.

Everything upstream is linear scene radiance (Rec. 709 primaries). A frame becomes a picture
through `nervp.colour.to_display`: ``srgb(tonemap(linear * exposure))``, with the exposure
``2^ev * auto`` chosen once per clip (`clip_exposure`, metered on a few frames), never per
frame, so a spinning environment changes the picture, not the camera's exposure. The tone
curves, the meter and the sRGB curve live in `nervp.colour`.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from nervp.colour import ToneMap, metered_exposure, stops


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


def clip_exposure(cfg: DisplayConfig, sample: Tensor, alpha: Tensor | None = None) -> float:
    """The one exposure multiplier for a clip: metered on `sample` frames (..., H, W, 3) linear
    (if cfg.auto; only where `alpha` (..., H, W) > 0.5 when given), times 2^ev."""
    base = metered_exposure(sample, alpha, cfg.key, cfg.white) if cfg.auto else 1.0
    return base * stops(cfg.ev)

"""The translator's architecture settings (saved in every run's config.json)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from nervp.model.heads import HeadName


@dataclass(frozen=True)
class TranslatorConfig:
    """Architecture of the translator."""

    in_frames: int = 11
    """Conditioning frames per input window (the paper: 11)."""
    cond_channels: int = 9
    """Channels of one conditioning frame (diffuse 3 + PNCC 3 + landmark image 3)."""
    base_channels: int = 32
    """Channels of the first encoder level; doubled at each level up to max_channels."""
    max_channels: int = 256
    depth: int = 4
    """Number of 2x downsamplings."""
    head: HeadName = "olat"
    """Reflectance head (a key of `nervp.model.heads.HEADS`): the paper's L images, or K basis
    images + coefficients."""
    rank: int = 16
    """K, basis images of the low-rank head."""
    basis: Literal["pca", "nmf"] = "pca"
    """Low-rank head only. `pca`: signed basis images and coefficients, started from a PCA of the
    training OLAT images. `nmf`: non-negative basis images (softplus, as the olat head's images)
    and coefficients (kept >= 0 by the trainer), started from a non-negative factorisation, so
    every materialised OLAT image is non-negative too."""
    n_lights: int = 96
    """LEDs of the reflectance head; `nervp train` sets it to the dataset's light count (any dome)."""
    alpha_margin: float = 0.05
    """Coverage is clamp((1 + 2m) sigmoid(x) - m, 0, 1) with this margin m, so it can be exactly
    0 off the performer and 1 on it. A bare sigmoid (m = 0) only approaches 0, and its vanishing
    gradient leaves a 1-2 % coverage haze over the whole backdrop, lit by the premultiplied field
    (m = 0.05: a third less haze, +0.21 dB, docs/TRANSLATOR.md)."""

"""Reflectance heads of the translator, chosen by name from `HEADS`.

Adding a head: write a `ReflectanceHead` subclass in a new module here and add it to `HEADS`
and `HeadName` below (docs: CONTRIBUTING.md, "Adding a reflectance head").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from nervp.errors import ConfigError
from nervp.model.heads.base import Params, ReflectanceHead
from nervp.model.heads.fulllit import FullLitHead
from nervp.model.heads.lowrank import LowRankHead, basis_coordinates, nmf_coeffs, pca_coeffs
from nervp.model.heads.olat import OLATHead

if TYPE_CHECKING:
    from nervp.model.config import TranslatorConfig

HeadName = Literal["olat", "lowrank", "fulllit"]
"""Names of the heads in `HEADS` (the choices of `TranslatorConfig.head` and `--head`)."""

HEADS: dict[str, type[ReflectanceHead]] = {
    "olat": OLATHead,
    "lowrank": LowRankHead,
    "fulllit": FullLitHead,
}
"""Every reflectance head by its `TranslatorConfig.head` name."""


def make_head(cfg: TranslatorConfig) -> ReflectanceHead:
    """The head `cfg.head` names, built from `cfg`."""
    if cfg.head not in HEADS:
        raise ConfigError(f"unknown reflectance head {cfg.head!r}: choose one of {', '.join(HEADS)}")
    return HEADS[cfg.head](cfg)


__all__ = ["FullLitHead", "HEADS", "HeadName", "LowRankHead", "OLATHead", "Params", "ReflectanceHead", "basis_coordinates",
           "make_head", "nmf_coeffs", "pca_coeffs"]

"""Camera-side image operations (Bayer mosaics) and HDR image files (`nervp.imaging.hdrio`)."""

from nervp.imaging.bayer import PATTERNS, cfa_masks, demosaic_bilinear, mosaic

__all__ = ["PATTERNS", "cfa_masks", "demosaic_bilinear", "mosaic"]

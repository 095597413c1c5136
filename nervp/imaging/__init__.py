"""Camera-side image operations (Bayer mosaics)."""

from nervp.imaging.bayer import PATTERNS, cfa_masks, demosaic_bilinear, mosaic

__all__ = ["PATTERNS", "cfa_masks", "demosaic_bilinear", "mosaic"]

"""Contact sheets: tiles, labels and PNG files (linear -> sRGB pictures: `nervp.colour`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def grid(tiles: list[np.ndarray], cols: int, pad: int = 2, bg: int = 32) -> np.ndarray:
    """Arrange equally sized uint8 (H, W, 3) tiles in rows of `cols`."""
    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // cols)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), bg, np.uint8)
    for k, t in enumerate(tiles):
        r, c = divmod(k, cols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = t
    return out


def label(tile: np.ndarray, text: str) -> np.ndarray:
    """Write `text` in the top-left corner of a uint8 tile."""
    im = Image.fromarray(tile)
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, 6 * len(text) + 3, 11], fill=(0, 0, 0))
    d.text((2, 0), text, fill=(255, 255, 255))
    return np.asarray(im)


def save_png(path: Path, image: np.ndarray) -> None:
    """Write a PNG atomically (temporary name, then rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        Image.fromarray(image).save(tmp, format="PNG")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()

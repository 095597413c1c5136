"""Photographic degradations: how a relit crop becomes what a camera and a JPEG file keep.

`photograph` takes a linear relit face crop (premultiplied by its coverage) and returns what
the estimator would see for a photo of it: a random background behind the performer, a random
exposure, a white-balance error, a tone curve (sRGB, plain gammas or a filmic shoulder),
clipping, sensor noise, 8-bit quantisation and JPEG compression, decoded back to linear with
the sRGB curve as the estimator does for every 8-bit photo. A tenth of the draws stay linear
(an EXR photo): exposure, background and noise only.
"""

from __future__ import annotations

import cv2
import numpy as np

from nervp.colour import srgb_decode, srgb_encode


def _background(rng: np.random.Generator, size: int, level: float, tint: np.ndarray) -> np.ndarray:
    """(size, size, 3) a smooth random backdrop around `level`, coloured like `tint`."""
    coarse = rng.uniform(0.0, 1.0, (rng.integers(2, 6), rng.integers(2, 6), 3)).astype(np.float32)
    field = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, None)
    mix = rng.uniform(0.0, 1.0)
    colour = (1 - mix) * tint / max(tint.mean(), 1e-9) + mix * rng.uniform(0.2, 1.8, 3)
    return (field * colour * level * rng.uniform(0.05, 1.5)).astype(np.float32)


def _tone(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    kind = rng.integers(4)
    x = np.clip(x, 0.0, None)
    if kind == 1:
        return np.clip(x, 0, 1) ** (1.0 / rng.uniform(1.8, 2.6))
    if kind == 2:  # a filmic shoulder before the sRGB encoding
        s = rng.uniform(0.3, 1.0)
        return srgb_encode(np.clip(x * (1 + s) / (x + s), 0, 1))
    return srgb_encode(np.clip(x, 0, 1))


def photograph(img: np.ndarray, alpha: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """(linear crop the estimator sees (S, S, 3) float32, exposure applied) for a relit crop
    `img` (S, S, 3) linear premultiplied and its coverage `alpha` (S, S)."""
    S = img.shape[0]
    lum = img @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    face = lum[alpha > 0.5]
    ref = float(np.percentile(face, 95)) if face.size else float(lum.max())
    ref = max(ref, 1e-8)
    tint = img.reshape(-1, 3).sum(0)
    bg = _background(rng, S, float(np.median(face)) if face.size else ref, tint)
    x = img + (1.0 - alpha[..., None]) * bg
    e = rng.uniform(0.45, 1.3) / ref
    x = x * e
    if rng.random() < 0.1:  # a linear (EXR) photograph
        x = x + rng.normal(0, rng.uniform(0, 0.005), x.shape)
        return np.clip(x, 0, None).astype(np.float32), e
    x = x * (1.0 + rng.normal(0, 0.04, 3))  # white balance off by a few per cent
    y = _tone(x, rng) + rng.normal(0, rng.uniform(0, 0.015), x.shape)
    y8 = np.clip(np.round(y * 255), 0, 255).astype(np.uint8)
    if rng.random() < 0.6:
        ok, buf = cv2.imencode(".jpg", y8, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 96))])
        y8 = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return srgb_decode(y8.astype(np.float32) / 255.0).astype(np.float32), e

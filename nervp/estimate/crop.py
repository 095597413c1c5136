"""The face crop the learned estimator sees: a square around the tracker's landmarks.

The same function cuts the training crops (from the virtual stage's projected landmarks) and
the crops of photos (from MediaPipe's landmarks), so both see the face at the same scale.
"""

from __future__ import annotations

import cv2
import numpy as np

CROP_SCALE = 1.7
"""Side of the crop over the larger side of the landmarks' bounding box (forehead, hair and
some background are inside)."""
STORE = 72
"""Side (px) of a stored crop; the network sees a STORE - 2 * JITTER window of it."""
JITTER = 4
"""Largest shift (px) of the training window; photos use the centred window."""
NET = STORE - 2 * JITTER
"""Side (px) of the network's input (64)."""


def face_box(landmarks: np.ndarray) -> tuple[float, float, float]:
    """(centre x, centre y, side) in pixels of the crop around landmarks (N, 2) pixel (x, y)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    lo, hi = lm.min(0), lm.max(0)
    c = (lo + hi) / 2
    return float(c[0]), float(c[1]), float(CROP_SCALE * (hi - lo).max())


def crop(image: np.ndarray, box: tuple[float, float, float], size: int = STORE) -> np.ndarray:
    """The square `box` of `image` (H, W, C) resampled to (size, size, C), zero outside the image.

    Downscaling first blurs with a box of the scale factor (area-like) so that small crops of
    big photos do not alias. Works on any float or uint8 image; the dtype is kept.
    """
    cx, cy, side = box
    s = size / side
    img = image
    if s < 0.5:  # pre-shrink by an integer factor with area averaging
        k = int(1 / s / 1.0)
        img = cv2.resize(image, (max(1, image.shape[1] // k), max(1, image.shape[0] // k)),
                         interpolation=cv2.INTER_AREA)
        f = image.shape[1] / img.shape[1], image.shape[0] / img.shape[0]
        cx, cy, side = cx / f[0], cy / f[1], side / f[0]
        s = size / side
    m = np.array([[s, 0.0, size / 2 - s * cx], [0.0, s, size / 2 - s * cy]], dtype=np.float64)
    out = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=0)
    return out.reshape(size, size, -1) if image.ndim == 3 else out


def centre(crop_img: np.ndarray, shift: tuple[int, int] = (0, 0)) -> np.ndarray:
    """The NET x NET window of a STORE-sized crop (..., STORE, STORE, C), moved by `shift` (dy, dx)."""
    y0, x0 = JITTER + shift[0], JITTER + shift[1]
    return crop_img[..., y0:y0 + NET, x0:x0 + NET, :]

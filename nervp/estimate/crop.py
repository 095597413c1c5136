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


VIEW_SHIFTS = ((0, 0), (3, 0), (-3, 0), (0, 3), (0, -3))
"""Offsets (in the network window's pixels, x then y) of the views a photo is read through; the
set is its own mirror image, so a mirrored photo gets the mirrored set of views."""
VIEW_SCALES = (0.88, 0.94, 1.0, 1.06, 1.12)
"""Sides of the views relative to `face_box`'s."""


def views(image: np.ndarray, box: tuple[float, float, float]) -> np.ndarray:
    """(V, NET, NET, C) centred windows of crops of `image` around `box` moved by every
    `VIEW_SHIFTS` and resized by every `VIEW_SCALES` (V = 25): the estimate is their mean, which
    makes it less sensitive to exactly where the landmarks put the box."""
    cx, cy, side = box
    out = [centre(crop(image, (cx + dx * side / NET, cy + dy * side / NET, side * k)))
           for k in VIEW_SCALES for dx, dy in VIEW_SHIFTS]
    return np.stack(out)


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
        cx, cy, side = (cx + 0.5) / f[0] - 0.5, (cy + 0.5) / f[1] - 0.5, side / f[0]  # area pixels' centres
        s = size / side
    # cv2 samples at integer pixel centres: the box centre lands on the middle of the output,
    # (size - 1) / 2, so that cropping a mirrored image around the mirrored box mirrors the crop
    m = np.array([[s, 0.0, (size - 1) / 2 - s * cx], [0.0, s, (size - 1) / 2 - s * cy]], dtype=np.float64)
    out = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=0)
    return out.reshape(size, size, -1) if image.ndim == 3 else out


def centre(crop_img: np.ndarray, shift: tuple[int, int] = (0, 0)) -> np.ndarray:
    """The NET x NET window of a STORE-sized crop (..., STORE, STORE, C), moved by `shift` (dy, dx)."""
    y0, x0 = JITTER + shift[0], JITTER + shift[1]
    return crop_img[..., y0:y0 + NET, x0:x0 + NET, :]

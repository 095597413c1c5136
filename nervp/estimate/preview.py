"""The `--preview` picture: the photo beside its estimated environment (equirectangular)."""

from __future__ import annotations

import numpy as np

from nervp.estimate.sh import sh_basis


def env_image(sh: np.ndarray, height: int = 64) -> np.ndarray:
    """(height, 2 height, 3) float32 linear radiance of SH coefficients (K, 3), clamped at 0,
    in the project's equirectangular layout (`nervp.relight.envmap.texel_directions`)."""
    from nervp.relight.envmap import texel_directions

    order = int(round(np.sqrt(sh.shape[0]))) - 1
    d = texel_directions(height, 2 * height).reshape(-1, 3)
    return np.clip(sh_basis(d, order) @ sh, 0, None).reshape(height, 2 * height, 3).astype(np.float32)


def env_display(sh: np.ndarray, height: int) -> np.ndarray:
    """(height, 2 height, 3) uint8 sRGB picture of the estimated environment, its brightest
    part at display white. The map's centre is what the camera looks at (-z, behind the
    performer), marked by a cross; light from the camera's side (+z) is at the left and right
    edges; up is at the top."""
    import cv2

    from nervp.colour import to_srgb8

    env = env_image(sh, 64)
    peak = float(np.percentile(env.max(-1), 99.5)) or 1.0
    pic = to_srgb8(env, 1.0 / peak)
    pic = cv2.resize(pic, (2 * height, height), interpolation=cv2.INTER_LINEAR)
    return _mark(pic, height, height // 2)


def _mark(pic: np.ndarray, cx: int, cy: int) -> np.ndarray:
    out = pic.copy()
    r = max(2, pic.shape[0] // 40)
    out[cy, max(cx - r, 0):cx + r + 1] = (255, 0, 0)
    out[max(cy - r, 0):cy + r + 1, cx] = (255, 0, 0)
    return out


def preview(display: np.ndarray, sh: np.ndarray) -> np.ndarray:
    """(H, W + 2 H, 3) uint8: the photo (H, W, 3) sRGB, then its estimated environment."""
    from nervp.viz.images import label

    H = display.shape[0]
    return np.concatenate([label(display, "photo"), label(env_display(sh, H), "estimated light (centre: behind)")],
                          axis=1)

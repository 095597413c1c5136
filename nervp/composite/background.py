"""Backgrounds in linear light: the environment's own view through the camera, a still
picture, a video, or a plain colour.

The environment view is the perspective projection of the equirectangular map for the
dataset's camera: each pixel centre (x + 0.5, y + 0.5) is a ray ``R^T K^-1 (x, y, 1)`` in the
world frame, looked up in the map (bilinear, `samples` x `samples` rays per pixel). With the
map unrotated the camera sees the map's centre behind the performer.

Pictures and video are display-referred (sRGB): they are decoded to linear and divided by
the clip's exposure, so after the display transform they keep their own brightness
(before the tone curve). An equirectangular .hdr/.exr given as a background is treated as
an environment and viewed through the camera.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nervp.colour import srgb_decode
from nervp.errors import NervpError
from nervp.relight.envmap import EnvMap, LightingError, load_envmap

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")


class BackgroundError(NervpError, ValueError):
    """A background that cannot be read or used."""


def camera_rays(K: np.ndarray, R: np.ndarray, height: int, width: int, samples: int = 1) -> np.ndarray:
    """(H, W, s*s, 3) float64 world-frame unit view rays through each pixel (s x s per pixel)."""
    off = (np.arange(samples) + 0.5) / samples
    ys = (np.arange(height)[:, None] + off[None]).reshape(-1)
    xs = (np.arange(width)[:, None] + off[None]).reshape(-1)
    px = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None], np.ones(1)), -1)  # (H s, W s, 3)
    cam = px @ np.linalg.inv(K).T
    world = cam @ R  # R^T applied to row vectors
    world /= np.linalg.norm(world, axis=-1, keepdims=True)
    world = world.reshape(height, samples, width, samples, 3).transpose(0, 2, 1, 3, 4)
    return world.reshape(height, width, samples * samples, 3)


def env_view(env: EnvMap, K: np.ndarray, R: np.ndarray, height: int, width: int, samples: int = 2) -> Tensor:
    """(H, W, 3) float32 linear radiance of the environment seen through the camera."""
    rays = camera_rays(np.asarray(K, dtype=np.float64), np.asarray(R, dtype=np.float64), height, width, samples)
    return torch.from_numpy(env.sample(rays).mean(2).astype(np.float32))


def fit_cover(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Scale an image (h, w, 3) to cover (height, width) and crop the centre (area filter)."""
    import cv2

    h, w = img.shape[:2]
    s = max(height / h, width / w)
    nh, nw = max(height, round(h * s)), max(width, round(w * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    r = cv2.resize(img, (nw, nh), interpolation=interp)
    y0, x0 = (nh - height) // 2, (nw - width) // 2
    return r[y0:y0 + height, x0:x0 + width]


def _decode_8bit(img: np.ndarray) -> np.ndarray:
    """uint8/uint16 sRGB (h, w, 3|4|1) -> linear float32 (h, w, 3)."""
    if img.ndim == 2:
        img = img[..., None]
    img = img[..., :3]
    if img.shape[2] == 1:
        img = np.repeat(img, 3, 2)
    scale = 65535.0 if img.dtype == np.uint16 else 255.0
    return srgb_decode(torch.from_numpy(img.astype(np.float32) / scale)).numpy()


@dataclass(frozen=True)
class Background:
    """A background for every output frame.

    kind: "env" (view of `env` through the camera, turned with the lighting), "image",
    "video", "colour" or "none" (transparent: black with alpha kept).
    """

    kind: str
    env: EnvMap | None = None
    image: np.ndarray | None = None
    video: Path | None = None
    colour: tuple[float, float, float] = (0.0, 0.0, 0.0)


def parse_background(spec: str) -> Background:
    """env | black | grey | none | #RRGGBB | IMAGE | VIDEO | equirect .hdr/.exr."""
    key = spec.strip().lower()
    if key == "env":
        return Background("env")
    if key == "none":
        return Background("none")
    if key in ("black", "grey", "gray", "white"):
        v = {"black": 0.0, "grey": 0.18, "gray": 0.18, "white": 1.0}[key]
        return Background("colour", colour=(v, v, v))
    if key.startswith("#") and len(key) == 7:
        try:
            rgb = [int(key[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        except ValueError:
            raise BackgroundError(f"background colour {spec!r} is not #RRGGBB") from None
        lin = srgb_decode(torch.tensor(rgb)).tolist()
        return Background("colour", colour=tuple(lin))
    p = Path(spec)
    suffix = p.suffix.lower()
    if not p.is_file():
        raise BackgroundError(f"background {spec!r}: no such file; use env, black, grey, none, #RRGGBB, "
                              "an image or a video")
    if suffix in (".hdr", ".exr"):
        try:
            return Background("env", env=load_envmap(p))
        except LightingError as e:
            raise BackgroundError(f"background {spec}: {e}") from e
    if suffix in IMAGE_SUFFIXES:
        from PIL import Image

        try:
            with Image.open(p) as im:
                arr = np.asarray(im.convert("RGB") if im.mode not in ("RGB", "I;16") else im)
        except OSError as e:
            raise BackgroundError(f"background {spec}: cannot read the picture ({e})") from e
        return Background("image", image=_decode_8bit(arr))
    if suffix in VIDEO_SUFFIXES:
        return Background("video", video=p)
    raise BackgroundError(f"background {spec}: unsupported file type {p.suffix}; use a picture "
                          f"({', '.join(IMAGE_SUFFIXES)}), a video ({', '.join(VIDEO_SUFFIXES)}) or an "
                          "equirectangular .hdr/.exr")


def video_frames(path: Path, height: int, width: int) -> Iterator[np.ndarray]:
    """Linear float32 (H, W, 3) frames of a video, covering the frame, looping forever."""
    import av

    while True:
        n = 0
        try:
            with av.open(str(path)) as container:
                for f in container.decode(container.streams.video[0]):
                    n += 1
                    yield fit_cover(_decode_8bit(f.to_ndarray(format="rgb24")), height, width)
        except (av.error.FFmpegError, IndexError, OSError) as e:
            raise BackgroundError(f"background video {path}: cannot decode ({e})") from e
        if n == 0:
            raise BackgroundError(f"background video {path} has no frames")

"""Environment maps: equirectangular HDR radiance, read from files or built in code.

Convention (the whole of `nervp.relight` and `nervp.composite` uses it). The map has its own
frame; `EnvMap.rotation` (3, 3) takes map-frame directions to world directions
(world frame: metres, +y up, head at the origin, camera on +z looking at -z). In the map
frame, texel (row i, column j) of an (H, 2H) map is centred on

    polar angle   theta = pi * (i + 0.5) / H            (0 at +y, the top row is "up")
    azimuth       phi   = 2 pi * (j + 0.5) / W - pi     (0 at the centre column)
    direction     d     = (sin theta sin phi, cos theta, -sin theta cos phi)

so the centre of the panorama lies along -z: with no rotation it is what the camera sees
behind the performer, and moving right in the panorama turns toward +x, which is the
camera's right (the performer's left). Texel (i, j) covers the solid angle
(2 pi / W) (cos theta_top - cos theta_bottom); the texels sum to exactly 4 pi.

Radiance is linear, Rec. 709 primaries, scene-referred (any positive scale; display
exposure is chosen later).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from nervp.errors import NervpError
from nervp.imaging.hdrio import HdrFileError, read_exr, read_hdr, write_exr, write_hdr

SUPPORTED_SUFFIXES = (".hdr", ".exr")


class LightingError(NervpError, ValueError):
    """An environment map, look or LED weight set that cannot be used (message says why)."""


def validate_radiance(radiance: np.ndarray, name: str = "environment map") -> np.ndarray:
    """Check an equirectangular map (H, 2H, 3): finite, non-negative; return it as float32.

    Raises LightingError naming the problem, the shape or the count of bad texels.
    """
    a = np.asarray(radiance)
    if a.ndim != 3 or a.shape[2] != 3:
        raise LightingError(f"{name}: expected an (H, W, 3) RGB image, got shape {a.shape}")
    h, w = a.shape[:2]
    if h < 2 or w != 2 * h:
        raise LightingError(f"{name}: an equirectangular map is twice as wide as high, got {w}x{h}")
    if not np.issubdtype(a.dtype, np.floating) and not np.issubdtype(a.dtype, np.integer):
        raise LightingError(f"{name}: pixel type {a.dtype} is not a number")
    a = a.astype(np.float32, copy=False)
    bad = ~np.isfinite(a)
    if bad.any():
        raise LightingError(f"{name}: {int(bad.any(-1).sum())} texels are NaN or infinite; fix or re-export the map")
    neg = a < 0
    if neg.any():
        raise LightingError(f"{name}: {int(neg.any(-1).sum())} texels are negative (min {float(a.min()):.3g}); "
                            "radiance cannot be negative: clamp the map at 0 or re-export it")
    return a


def rotation_matrix(axis: tuple[float, float, float] | np.ndarray, degrees: float) -> np.ndarray:
    """(3, 3) right-handed rotation by `degrees` about `axis` (any non-zero vector)."""
    k = np.asarray(axis, dtype=np.float64)
    n = np.linalg.norm(k)
    if k.shape != (3,) or not n > 0 or not np.isfinite(n):
        raise LightingError(f"rotation axis must be a non-zero 3-vector, got {axis!r}")
    k = k / n
    a = math.radians(degrees)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(a) * K + (1 - math.cos(a)) * (K @ K)


def texel_directions(height: int, width: int) -> np.ndarray:
    """(H, W, 3) float64 unit map-frame directions of the texel centres."""
    theta = (np.arange(height) + 0.5) * (math.pi / height)
    phi = (np.arange(width) + 0.5) * (2 * math.pi / width) - math.pi
    st, ct = np.sin(theta)[:, None], np.cos(theta)[:, None]
    return np.stack(np.broadcast_arrays(st * np.sin(phi), ct, -st * np.cos(phi)), -1)


def texel_solid_angles(height: int, width: int) -> np.ndarray:
    """(H,) float64 solid angle (sr) of one texel in each row; W * sum = 4 pi."""
    edges = np.cos(np.arange(height + 1) * (math.pi / height))
    return (edges[:-1] - edges[1:]) * (2 * math.pi / width)


def direction_to_texel(d: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Continuous texel coordinates (row, col) of map-frame unit directions d (..., 3).

    Integer coordinates are texel centres; columns wrap around (period W).
    """
    theta = np.arccos(np.clip(d[..., 1], -1.0, 1.0))
    phi = np.arctan2(d[..., 0], -d[..., 2])
    return theta * (height / math.pi) - 0.5, (phi + math.pi) * (width / (2 * math.pi)) - 0.5


@dataclass(frozen=True)
class EnvMap:
    """An equirectangular HDR environment and its orientation in the world.

    Attributes:
        radiance: (H, 2H, 3) float32 linear Rec. 709 radiance, finite, >= 0 (map frame).
        rotation: (3, 3) float64 world-from-map rotation (identity: map centre along -z).
        name: label for pictures and messages.
    """

    radiance: np.ndarray
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    name: str = "environment"

    def __post_init__(self) -> None:
        object.__setattr__(self, "radiance", validate_radiance(self.radiance, self.name))
        r = np.asarray(self.rotation, dtype=np.float64)
        if r.shape != (3, 3) or not np.allclose(r @ r.T, np.eye(3), atol=1e-6):
            raise LightingError(f"{self.name}: rotation must be a 3x3 rotation matrix, got {r.tolist()}")
        object.__setattr__(self, "rotation", r)

    @property
    def height(self) -> int:
        return int(self.radiance.shape[0])

    @property
    def width(self) -> int:
        return int(self.radiance.shape[1])

    def rotated(self, axis: tuple[float, float, float], degrees: float) -> EnvMap:
        """The same map turned by `degrees` about world `axis` (right-handed); no resampling."""
        return replace(self, rotation=rotation_matrix(axis, degrees) @ self.rotation)

    def rotated_y(self, degrees: float) -> EnvMap:
        """Turn about the vertical axis: +90 moves what was behind the performer to camera-left."""
        return self.rotated((0.0, 1.0, 0.0), degrees)

    def world_directions(self) -> np.ndarray:
        """(H, W, 3) float64 world-frame unit directions of the texel centres."""
        return texel_directions(self.height, self.width) @ self.rotation.T

    def sample(self, directions: np.ndarray) -> np.ndarray:
        """Bilinearly interpolated radiance (..., 3) float32 along world unit `directions` (..., 3)."""
        d = np.asarray(directions, dtype=np.float64) @ self.rotation  # world -> map: R^T d
        y, x = direction_to_texel(d, self.height, self.width)
        y = np.clip(y, 0.0, self.height - 1.0)
        y0 = np.floor(y).astype(np.int64)
        x0 = np.floor(x).astype(np.int64)
        fy, fx = (y - y0)[..., None], (x - x0)[..., None]
        y1 = np.minimum(y0 + 1, self.height - 1)
        x0w, x1w = x0 % self.width, (x0 + 1) % self.width
        r = self.radiance
        top = r[y0, x0w] * (1 - fx) + r[y0, x1w] * fx
        bot = r[y1, x0w] * (1 - fx) + r[y1, x1w] * fx
        return (top * (1 - fy) + bot * fy).astype(np.float32)

    def mean_radiance(self) -> np.ndarray:
        """(3,) area-weighted mean radiance (the uniform map with the same total power)."""
        a = texel_solid_angles(self.height, self.width)
        return (self.radiance * a[:, None, None]).sum((0, 1)) / (4 * math.pi)

    def downsampled(self, max_width: int) -> EnvMap:
        """Area-weighted 2x2 reductions until the width is at most `max_width` (power kept)."""
        r = self.radiance.astype(np.float64)
        h, w = r.shape[:2]
        while w > max_width and h % 2 == 0:
            a = texel_solid_angles(h, w)[:, None, None]
            num = (r * a).reshape(h // 2, 2, w // 2, 2, 3).sum((1, 3))
            den = a.reshape(h // 2, 2).sum(1)[:, None, None] * 2
            r, h, w = num / den, h // 2, w // 2
        if w == self.width:
            return self
        return replace(self, radiance=r.astype(np.float32))


def uniform_env(radiance: float | tuple[float, float, float] = 1.0, height: int = 16,
                name: str = "uniform") -> EnvMap:
    """A constant environment (the same radiance from every direction)."""
    rgb = np.broadcast_to(np.asarray(radiance, dtype=np.float32), (3,))
    return EnvMap(np.broadcast_to(rgb, (height, 2 * height, 3)).copy(), name=name)


def load_envmap(path: Path | str) -> EnvMap:
    """Read an equirectangular HDR map (.hdr through OpenCV, .exr through OpenEXR) and validate it."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LightingError(f"{path}: unsupported environment map type {path.suffix or '(none)'}; "
                            f"use an equirectangular {' or '.join(SUPPORTED_SUFFIXES)} file")
    if not path.is_file():
        raise LightingError(f"{path}: no such file")
    try:
        rgb = read_hdr(path) if suffix == ".hdr" else read_exr(path)
    except HdrFileError as e:
        raise LightingError(str(e)) from e
    return EnvMap(rgb, name=path.stem)


def save_envmap(path: Path | str, env: EnvMap) -> None:
    """Write `env.radiance` (map frame, rotation not applied) as .hdr or .exr."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LightingError(f"{path}: unsupported environment map type; use .hdr or .exr")
    try:
        (write_hdr if suffix == ".hdr" else write_exr)(path, env.radiance)
    except HdrFileError as e:
        raise LightingError(str(e)) from e

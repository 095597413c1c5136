"""Environments built in code, so the product needs no files: sky with sun, overcast, studio.

Each returns an `EnvMap` in the convention of `nervp.relight.envmap` (map centre behind the
performer). Angles: azimuth in degrees from the camera direction (+z, 0) toward the
camera's right (+x, 90); elevation in degrees above the horizon. Radiance is linear and
scaled so the brightest diffuse part of each environment is of order 1.
"""

from __future__ import annotations

import math

import numpy as np

from nervp.relight.envmap import EnvMap, LightingError, texel_directions


def angles_to_direction(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """(3,) world unit vector: azimuth from +z toward +x, elevation above the horizontal plane."""
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    return np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])


def _world_dirs(height: int) -> np.ndarray:
    if height < 4:
        raise LightingError(f"procedural environments need a height of at least 4 texels, got {height}")
    return texel_directions(height, 2 * height)


def _disc(d: np.ndarray, centre: np.ndarray, radius_deg: float, soft_deg: float) -> np.ndarray:
    """Weight in [0, 1] of a disc of angular radius `radius_deg` with a smooth edge."""
    ang = np.degrees(np.arccos(np.clip(d @ centre, -1.0, 1.0)))
    return np.clip((radius_deg + soft_deg - ang) / max(soft_deg, 1e-6), 0.0, 1.0)


def sky_env(sun_azimuth: float = -60.0, sun_elevation: float = 35.0, sun_size: float = 2.0,
            sun_irradiance: float = 3.0, turbidity: float = 0.3, height: int = 128,
            name: str = "sky") -> EnvMap:
    """Clear sky: blue zenith, bright hazy horizon and glow around the sun, a sunlit ground
    below the horizon, and a sun disc of angular diameter `sun_size` degrees delivering
    `sun_irradiance` (radiance x solid angle) from its direction.

    The sun is enlarged from the real 0.53 degrees so the map resolves it; its total power
    is what is specified either way.
    """
    d = _world_dirs(height)
    up = d[..., 1]
    sun = angles_to_direction(sun_azimuth, sun_elevation)
    cos_sun = d @ sun
    zenith = np.array([0.25, 0.45, 0.95])
    horizon = np.array([0.85, 0.9, 1.0])
    t = np.clip(up, 0.0, 1.0)[..., None] ** 0.5
    sky = (zenith * t + horizon * (1 - t)) * 0.6
    glow = (1 + turbidity * 8) * np.exp(-np.degrees(np.arccos(np.clip(cos_sun, -1, 1)))[..., None] / 25.0)
    sky = sky * (1 + turbidity * 0.5) + 0.25 * glow * np.array([1.0, 0.9, 0.7])
    ground = np.array([0.35, 0.3, 0.25]) * (0.25 + 0.6 * max(sun[1], 0.0))
    rad = np.where(up[..., None] >= 0, sky, ground[None, None, :] * np.ones_like(sky))
    if sun_irradiance > 0:
        r = sun_size / 2
        disc = _disc(d, sun, r, soft_deg=r * 0.25)
        omega = 2 * math.pi * (1 - math.cos(math.radians(r * 1.125)))  # approx. disc solid angle
        rad = rad + disc[..., None] * (sun_irradiance / omega) * np.array([1.0, 0.93, 0.82])
    return EnvMap(rad.astype(np.float32), name=name)


def sunset_env(height: int = 128) -> EnvMap:
    """Low warm sun to camera-right and behind, deep blue sky above."""
    env = sky_env(sun_azimuth=120.0, sun_elevation=6.0, sun_size=3.0, sun_irradiance=2.0,
                  turbidity=0.8, height=height, name="sunset")
    d = _world_dirs(height)
    warm = np.clip(1 - np.abs(d[..., 1]) * 3, 0, 1)[..., None] * np.array([1.0, 0.45, 0.15])
    return EnvMap(env.radiance * (0.6 + warm).astype(np.float32), name="sunset")


def overcast_env(zenith: float = 1.0, ground_albedo: float = 0.3, height: int = 64,
                 name: str = "overcast") -> EnvMap:
    """Overcast sky after the CIE standard overcast law L(theta) = Lz (1 + 2 cos theta) / 3,
    neutral grey, over a ground that reflects `ground_albedo` of the sky's irradiance."""
    d = _world_dirs(height)
    up = d[..., 1]
    sky = zenith * (1 + 2 * np.clip(up, 0, 1)) / 3
    ground_l = ground_albedo * zenith * 7 / 9  # irradiance of the CIE sky (7 pi Lz / 9) * albedo / pi
    rad = np.where(up >= 0, sky, ground_l)[..., None] * np.array([0.95, 0.97, 1.0])
    return EnvMap(rad.astype(np.float32), name=name)


def studio_env(height: int = 128, name: str = "studio") -> EnvMap:
    """A dim grey studio with a large key softbox (camera-left, high), a long strip fill
    (camera-right), a narrow rim strip behind and a white floor bounce."""
    d = _world_dirs(height)
    up = d[..., 1]
    room = 0.03 + 0.02 * np.clip(up, 0, 1)
    rad = np.broadcast_to(np.asarray(room)[..., None], d.shape).copy() * np.array([1.0, 1.0, 1.0])
    rad[up < -0.2] += 0.06  # floor

    def box(az: float, el: float, half_w: float, half_h: float, value: np.ndarray) -> None:
        c = angles_to_direction(az, el)
        right = np.cross(np.array([0.0, 1.0, 0.0]), c)
        right /= np.linalg.norm(right)
        upv = np.cross(c, right)
        facing = d @ c
        x = np.degrees(np.arctan2(d @ right, facing))
        y = np.degrees(np.arctan2(d @ upv, facing))
        soft = 2.0
        wx = np.clip((half_w + soft - np.abs(x)) / soft, 0, 1)
        wy = np.clip((half_h + soft - np.abs(y)) / soft, 0, 1)
        rad[...] += ((facing > 0) * wx * wy)[..., None] * value

    box(-40.0, 30.0, 20.0, 20.0, np.array([4.0, 3.9, 3.7]))  # key softbox
    box(55.0, 5.0, 8.0, 30.0, np.array([0.9, 0.95, 1.0]))  # strip fill
    box(165.0, 20.0, 4.0, 35.0, np.array([5.0, 5.0, 5.0]))  # rim strip, behind
    return EnvMap(rad.astype(np.float32), name=name)


PROCEDURAL = {
    "sky": sky_env,
    "sunset": sunset_env,
    "overcast": overcast_env,
    "studio": studio_env,
}
"""Names accepted wherever an environment is chosen by name (``--light sky``)."""

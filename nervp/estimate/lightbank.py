"""Random lighting for training: LED weights drawn from HDR maps turned at random,
procedural skies, studio looks and random LED mixtures, under random colour temperatures.

Every draw is (L, 3) float32 linear LED weights on a given dome and calibration (the same
units `nervp.relight.weights` produces), so a training photo is one linear sum of OLAT images.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from nervp.lightstage.dome import Dome
from nervp.relight.envmap import EnvMap, LightingError, load_envmap
from nervp.relight.looks import LOOKS, look_weights
from nervp.relight.procedural import (
    angles_to_direction,
    overcast_env,
    sky_env,
    studio_env,
    sunset_env,
)
from nervp.relight.weights import env_weights

KINDS = ("map", "sky", "procedural", "look", "mixture")
"""Where a draw comes from (each equally likely; "map" only when maps are given)."""


def temperature_rgb(kelvin: float) -> np.ndarray:
    """(3,) linear RGB of a black body at `kelvin` (1500..15000 K), scaled to unit mean.

    Planck's law integrated against Gaussian stand-ins for the sRGB primaries' spectral
    responses (centres 610, 550, 465 nm): coarse, but warm below ~5000 K and blue above ~7000 K
    as a photographer expects."""
    lam = np.linspace(380e-9, 720e-9, 69)
    h, c, k = 6.626e-34, 2.998e8, 1.381e-23
    B = 1.0 / (lam ** 5 * (np.exp(h * c / (lam * k * kelvin)) - 1.0))
    resp = np.stack([np.exp(-0.5 * ((lam - mu) / 40e-9) ** 2) for mu in (610e-9, 550e-9, 465e-9)])
    rgb = resp @ B
    ref = resp @ (1.0 / (lam ** 5 * (np.exp(h * c / (lam * k * 6500.0)) - 1.0)))
    rgb = rgb / ref
    return rgb / rgb.mean()


def _small(env: EnvMap, height: int = 32) -> EnvMap:
    import cv2

    r = env.radiance
    if r.shape[0] > height:
        r = cv2.resize(r, (2 * height, height), interpolation=cv2.INTER_AREA)
    return EnvMap(np.ascontiguousarray(r, dtype=np.float32), rotation=env.rotation, name=env.name)


def load_maps(folder: Path | None) -> list[EnvMap]:
    """Every .hdr/.exr map in `folder` (none when None), shrunk to 32 x 64 (weights need no more)."""
    if folder is None:
        return []
    maps = []
    for p in sorted(Path(folder).glob("*")):
        if p.suffix.lower() in (".hdr", ".exr"):
            try:
                maps.append(_small(load_envmap(p)))
            except LightingError:
                continue
    return maps


def _mixture(rng: np.random.Generator, dome: Dome, cal: np.ndarray) -> np.ndarray:
    """1-4 soft lights (Gaussian lobes on the sphere, 5-40 degrees) plus an ambient term."""
    w = np.zeros((dome.n_lights, 3))
    for _ in range(rng.integers(1, 5)):
        d = angles_to_direction(rng.uniform(-180, 180), math.degrees(math.asin(rng.uniform(-0.6, 1.0))))
        width = math.radians(rng.uniform(5, 40))
        lobe = np.exp((dome.direction @ d - 1.0) / (width ** 2))
        colour = temperature_rgb(rng.uniform(2500, 9000)) * rng.uniform(0.8, 1.2, 3)
        w += np.outer(lobe / lobe.sum(), colour) * rng.uniform(0.2, 1.0)
    total = w.sum(0).mean()
    amb = rng.uniform(0.0, 0.5) * total * temperature_rgb(rng.uniform(3000, 12000))
    w += dome.solid_angle[:, None] / (4 * math.pi) * amb[None]
    return w * 4.0 / cal * cal.mean()


def _env_draw(rng: np.random.Generator, kind: str, maps: list[EnvMap]) -> EnvMap:
    if kind == "map":
        return maps[rng.integers(len(maps))]
    if kind == "sky":
        return sky_env(rng.uniform(-180, 180), rng.uniform(2, 75), rng.uniform(1, 8), rng.uniform(0.5, 5),
                       rng.uniform(0, 1), height=64)
    return (sunset_env(32), overcast_env(1.0, rng.uniform(0.1, 0.5), 32), studio_env(32))[rng.integers(3)]


def draw(rng: np.random.Generator, dome: Dome, cal: np.ndarray, maps: list[EnvMap]) -> tuple[np.ndarray, str]:
    """One random lighting: ((L, 3) float32 weights, its kind)."""
    kinds = [k for k in KINDS if k != "map" or maps]
    kind = kinds[rng.integers(len(kinds))]
    yaw, tilt = rng.uniform(-180, 180), rng.normal(0, 12)
    if kind == "look":
        look = list(LOOKS.values())[rng.integers(len(LOOKS))]
        w = look_weights(look.rotated((1.0, 0.0, 0.0), tilt).rotated_y(yaw), dome, cal)
    elif kind == "mixture":
        w = _mixture(rng, dome, cal)
    else:
        env = _env_draw(rng, kind, maps)
        if rng.random() < 0.5:  # a mirrored world is as likely
            env = EnvMap(np.ascontiguousarray(env.radiance[:, ::-1]), rotation=env.rotation, name=env.name)
        w = env_weights(env.rotated((1.0, 0.0, 0.0), tilt).rotated_y(yaw), dome, cal)
    tint = temperature_rgb(rng.uniform(2800, 10000)) if rng.random() < 0.6 else np.ones(3)
    w = np.asarray(w, np.float64) * tint[None]
    return (w / max(w.sum(), 1e-12) * dome.n_lights).astype(np.float32), kind


def bank(n: int, seed: int, dome: Dome, cal: np.ndarray, maps: list[EnvMap]) -> np.ndarray:
    """(n, L, 3) float32 random lightings, each scaled to mean weight 1/3 per channel sum."""
    rng = np.random.default_rng(seed)
    return np.stack([draw(rng, dome, cal, maps)[0] for _ in range(n)])

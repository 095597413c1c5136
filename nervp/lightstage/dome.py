"""The light-stage dome: LED positions, directions, solid angles and intensities.

World frame (see `nervp.render.camera`): metres, +y up, the head's centre at the origin,
the camera on the +z axis looking at it. LEDs are point lights at finite distance on a
sphere of radius `radius` around the origin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import SphericalVoronoi

from nervp.errors import ConfigError


@dataclass(frozen=True)
class DomeConfig:
    """Geometry of the light stage."""

    n_lights: int = 96
    """Number of LEDs, spread evenly over the whole sphere (a spherical Fibonacci lattice)."""
    radius: float = 1.3
    """Dome radius in metres (the paper's dome: 1.3 m)."""
    intensity: float = 1.0
    """Radiant intensity of each LED (linear units per steradian) before per-LED variation."""
    intensity_spread: float = 0.0
    """Relative per-LED, per-channel intensity variation (a calibration target); 0 = identical LEDs."""
    seed: int = 0
    """Seed for the per-LED variation (only used when intensity_spread > 0)."""


@dataclass(frozen=True)
class Dome:
    """LED geometry of one light stage.

    Attributes:
        position: (L, 3) float64 LED positions in metres (world frame).
        direction: (L, 3) float64 unit vectors from the dome centre toward each LED.
        solid_angle: (L,) float64 steradians of each LED's spherical Voronoi cell; sums to 4π.
        intensity: (L, 3) float64 linear RGB radiant intensity of each LED.
        radius: dome radius in metres.
    """

    position: np.ndarray
    direction: np.ndarray
    solid_angle: np.ndarray
    intensity: np.ndarray
    radius: float

    @property
    def n_lights(self) -> int:
        return int(self.position.shape[0])

    def to_json(self) -> dict:
        return {
            "n_lights": self.n_lights,
            "radius_m": self.radius,
            "position_m": self.position.round(9).tolist(),
            "direction": self.direction.round(9).tolist(),
            "solid_angle_sr": self.solid_angle.round(12).tolist(),
            "intensity_rgb": self.intensity.round(9).tolist(),
        }

    @staticmethod
    def from_json(d: dict) -> Dome:
        return Dome(
            position=np.asarray(d["position_m"], dtype=np.float64),
            direction=np.asarray(d["direction"], dtype=np.float64),
            solid_angle=np.asarray(d["solid_angle_sr"], dtype=np.float64),
            intensity=np.asarray(d["intensity_rgb"], dtype=np.float64),
            radius=float(d["radius_m"]),
        )


def fibonacci_directions(n: int) -> np.ndarray:
    """(n, 3) unit vectors evenly spread on the sphere, polar axis +y, deterministic."""
    i = np.arange(n, dtype=np.float64)
    y = 1.0 - (2.0 * i + 1.0) / n
    r = np.sqrt(np.clip(1.0 - y * y, 0.0, None))
    phi = i * math.pi * (3.0 - math.sqrt(5.0))
    return np.stack([r * np.sin(phi), y, r * np.cos(phi)], axis=1)


def voronoi_solid_angles(directions: np.ndarray) -> np.ndarray:
    """(n,) solid angles (sr) of the spherical Voronoi cells of unit `directions` (n, 3)."""
    sv = SphericalVoronoi(directions, radius=1.0, center=np.zeros(3))
    return sv.calculate_areas()


def build_dome(cfg: DomeConfig = DomeConfig()) -> Dome:
    """Build the dome. Raises ValueError for impossible settings."""
    if cfg.n_lights < 4:
        raise ConfigError(f"a dome needs at least 4 lights, got n_lights={cfg.n_lights}")
    if not cfg.radius > 0:
        raise ConfigError(f"dome radius must be positive, got {cfg.radius}")
    if cfg.intensity <= 0 or cfg.intensity_spread < 0:
        raise ConfigError("LED intensity must be positive and intensity_spread non-negative")
    d = fibonacci_directions(cfg.n_lights)
    inten = np.full((cfg.n_lights, 3), cfg.intensity, dtype=np.float64)
    if cfg.intensity_spread > 0:
        rng = np.random.default_rng(cfg.seed)
        inten *= 1.0 + cfg.intensity_spread * rng.uniform(-1.0, 1.0, size=inten.shape)
    return Dome(d * cfg.radius, d, voronoi_solid_angles(d), inten, cfg.radius)

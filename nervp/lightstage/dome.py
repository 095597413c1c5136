"""The light-stage dome: LED positions, directions, solid angles and intensities.

World frame (see `nervp.render.camera`): metres, +y up, the head's centre at the origin,
the camera on the +z axis looking at it. LEDs are point lights at finite distance on a
sphere of radius `radius` around the origin.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import SphericalVoronoi, cKDTree

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
    file: Path | None = None
    """A measured dome: JSON or CSV of LED positions (metres), optional RGB intensities and
    solid angles (docs/FORMAT.md, "Dome files"); replaces n_lights, radius and the intensities
    (intensity scales LEDs the file gives no rgb for)."""


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
    """Build the dome (from `cfg.file` when given). Raises ConfigError for impossible settings."""
    if cfg.file is not None:
        return load_dome_file(cfg.file, default_intensity=cfg.intensity)
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


def dome_file_json(dome: Dome) -> dict:
    """`dome` as a dome file's JSON object (positions, rgb, solid_angles; floats exact)."""
    return {"positions": dome.position.tolist(), "rgb": np.asarray(dome.intensity, np.float64).tolist(),
            "solid_angles": dome.solid_angle.tolist()}


def dome_size(cfg: DomeConfig) -> int:
    """The number of LEDs `build_dome(cfg)` gives (the file's count when `cfg.file` is set)."""
    return cfg.n_lights if cfg.file is None else load_dome_file(cfg.file).n_lights


_MAX_RADIUS_SPREAD = 0.25
"""LEDs are treated as lying on one sphere (one radius in the irradiance model): each LED's
distance from the centre must be within 25 % of the mean."""


def load_dome_file(path: Path | str, default_intensity: float = 1.0) -> Dome:
    """Read a dome file: JSON `{"positions": [[x, y, z], ...], "rgb": [[r, g, b], ...],
    "solid_angles": [...]}` or CSV with columns x, y, z[, r, g, b][, solid_angle] (one LED per
    row, LED index = row order). Positions in metres, dome centre at the origin; rgb is each
    LED's linear radiant intensity (default `default_intensity`); solid angles in steradians
    (default: the spherical Voronoi cells of the LED directions).

    Raises ConfigError naming the file for unreadable files, wrong shapes, non-finite or
    duplicate positions, non-positive rgb or solid angles.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"dome file {path}: cannot be read ({e.__class__.__name__}); give a JSON or CSV "
                          "dome file (docs/FORMAT.md)") from None
    pos, rgb, sa = (_dome_json if path.suffix.lower() == ".json" else _dome_csv)(path, text)
    return dome_from_arrays(pos, rgb, sa, default_intensity, where=f"dome file {path}")


def dome_from_arrays(positions: object, rgb: object = None, solid_angles: object = None,
                     default_intensity: float = 1.0, where: str = "dome") -> Dome:
    """A validated `Dome` from LED positions (L, 3) metres, optional rgb (L, 3) and solid angles
    (L,); ConfigError starting with `where` for anything a dome cannot be."""
    try:
        p = np.asarray(positions, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{where}: positions must be numbers, L rows of [x, y, z] metres") from None
    if p.ndim != 2 or p.shape[1] != 3:
        raise ConfigError(f"{where}: positions have shape {p.shape}, expected (L, 3): one [x, y, z] per LED")
    L = p.shape[0]
    if L < 4:
        raise ConfigError(f"{where}: a dome needs at least 4 LEDs, the file gives {L}")
    bad = np.nonzero(~np.isfinite(p).all(1))[0]
    if bad.size:
        raise ConfigError(f"{where}: LED {bad[0]} has a non-finite position {p[bad[0]].tolist()}")
    r = np.linalg.norm(p, axis=1)
    if not (r > 1e-6).all():
        raise ConfigError(f"{where}: LED {int(np.argmin(r))} sits at the dome centre; positions are metres from "
                          "the centre (the head)")
    d = p / r[:, None]
    radius = float(r.mean())
    off = np.nonzero(np.abs(r / radius - 1) > _MAX_RADIUS_SPREAD)[0]
    if off.size:
        raise ConfigError(f"{where}: LED {off[0]} is {r[off[0]]:.3g} m from the centre but the mean is {radius:.3g} m; "
                          "LEDs must lie on a sphere around the origin (metres, centre at the head)")
    gap, nn = cKDTree(d).query(d, k=2)
    if gap[:, 1].min() < 1e-6:  # chord between unit directions: 1e-6 = 1 um at 1 m
        a = int(np.argmin(gap[:, 1]))
        b = int(nn[a, 1] if nn[a, 1] != a else nn[a, 0])
        a, b = sorted((a, b))
        raise ConfigError(f"{where}: LEDs {a} and {b} have the same direction ({p[a].tolist()}, {p[b].tolist()}); "
                          "every LED needs its own position")
    if rgb is None:
        inten = np.full((L, 3), float(default_intensity))
    else:
        inten = _column(rgb, (L, 3), "rgb", where)
    if solid_angles is None:
        try:
            sa = voronoi_solid_angles(d)
        except (ValueError, RuntimeError) as e:
            raise ConfigError(f"{where}: solid angles cannot be computed from these LED directions ({e}); "
                              "give solid_angles") from None
    else:
        sa = _column(solid_angles, (L,), "solid_angles", where)
    return Dome(p, d, sa, inten, radius)


def _column(value: object, shape: tuple[int, ...], name: str, where: str) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{where}: {name} must be numbers") from None
    if a.shape != shape:
        raise ConfigError(f"{where}: {name} has shape {a.shape}, expected {shape} (one per LED)")
    bad = np.nonzero(~(np.isfinite(a) & (a > 0)).reshape(shape[0], -1).all(1))[0]
    if bad.size:
        raise ConfigError(f"{where}: {name} of LED {bad[0]} is {a[bad[0]].tolist()}; values must be finite and > 0")
    return a


def _dome_json(path: Path, text: str) -> tuple[object, object, object]:
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"dome file {path}: not valid JSON ({e.msg}, line {e.lineno})") from None
    if not isinstance(d, dict) or "positions" not in d:
        raise ConfigError(f'dome file {path}: expected an object with "positions" (and optional "rgb", '
                          '"solid_angles")')
    unknown = sorted(set(d) - {"positions", "rgb", "solid_angles"})
    if unknown:
        raise ConfigError(f"dome file {path}: unknown field(s) {', '.join(unknown)}; a dome file has positions, "
                          "rgb and solid_angles")
    return d["positions"], d.get("rgb"), d.get("solid_angles")


def _dome_csv(path: Path, text: str) -> tuple[object, object, object]:
    rows = list(csv.reader(line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")))
    if not rows:
        raise ConfigError(f"dome file {path}: empty; expected a header x,y,z[,r,g,b][,solid_angle] and one row per LED")
    head = [h.strip().lower() for h in rows[0]]
    if not {"x", "y", "z"} <= set(head):
        raise ConfigError(f"dome file {path}: header {rows[0]} lacks x, y, z columns (CSV dome files need a header "
                          "x,y,z[,r,g,b][,solid_angle])")
    body = rows[1:]
    short = [k for k, r in enumerate(body) if len(r) != len(head)]
    if short:
        raise ConfigError(f"dome file {path}: row {short[0] + 2} has {len(body[short[0]])} fields, the header has "
                          f"{len(head)}")
    try:
        cols = {h: np.array([float(r[k]) for r in body]) for k, h in enumerate(head)}
    except ValueError as e:
        raise ConfigError(f"dome file {path}: {e}; every field must be a number") from None
    pos = np.stack([cols["x"], cols["y"], cols["z"]], 1) if body else np.zeros((0, 3))
    rgb = np.stack([cols[c] for c in "rgb"], 1) if {"r", "g", "b"} <= set(head) else None
    return pos, rgb, cols.get("solid_angle")

"""Studio looks built from virtual lights: key/fill/rim, Rembrandt, cyberpunk, hard, back, top.

A `VirtualLight` is a round emitter somewhere around the head. Its light is spread over the
LEDs around it smoothly: the emitter disc is sampled with a fixed pattern of directions,
and each direction is split over the three LEDs of the spherical Delaunay triangle that
contains it with barycentric weights. The weights are continuous in the light's position,
so a light moving between LEDs fades across them without popping; a light exactly at an
LED lights that LED alone. (A light narrower than the LED spacing, about 21 degrees on the
96-LED dome, cannot be sharper than the LEDs it falls between: its shadow is the blend of
up to three LED shadows.)

Angles: azimuth in degrees from the camera direction (+z, 0) toward the camera's right
(+x, 90; the performer's left); elevation above the horizontal plane through the head.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from nervp.lightstage.dome import Dome
from nervp.relight.envmap import EnvMap, LightingError, rotation_matrix, texel_directions
from nervp.relight.procedural import angles_to_direction
from nervp.relight.weights import _calibrated, barycentric

_DISC_SAMPLES = 48


@dataclass(frozen=True)
class VirtualLight:
    """One studio light.

    Attributes:
        position: (x, y, z) metres in the world frame (head centre at the origin).
        size: diameter in metres of the round emitter, which faces the head (0 = a point: hard light).
        colour: linear RGB filter, multiplied by `intensity`.
        intensity: irradiance the light delivers at the head centre on a surface facing it,
            in the units of the LED calibration (1 = as bright as a unit-calibrated LED).
        name: label.
    """

    position: tuple[float, float, float]
    size: float = 0.0
    colour: tuple[float, float, float] = (1.0, 1.0, 1.0)
    intensity: float = 1.0
    name: str = "light"

    def __post_init__(self) -> None:
        p = np.asarray(self.position, dtype=np.float64)
        if p.shape != (3,) or not np.isfinite(p).all() or not np.linalg.norm(p) > 1e-6:
            raise LightingError(f"light {self.name!r}: position must be a finite non-zero (x, y, z), got {self.position}")
        c = np.asarray(self.colour, dtype=np.float64)
        if c.shape != (3,) or not np.isfinite(c).all() or (c < 0).any():
            raise LightingError(f"light {self.name!r}: colour must be three non-negative numbers, got {self.colour}")
        if not (math.isfinite(self.intensity) and self.intensity >= 0):
            raise LightingError(f"light {self.name!r}: intensity must be finite and >= 0, got {self.intensity}")
        if not (math.isfinite(self.size) and self.size >= 0):
            raise LightingError(f"light {self.name!r}: size must be finite and >= 0, got {self.size}")

    @property
    def distance(self) -> float:
        return float(np.linalg.norm(self.position))

    @property
    def direction(self) -> np.ndarray:
        """(3,) unit vector from the head centre toward the light."""
        p = np.asarray(self.position, dtype=np.float64)
        return p / np.linalg.norm(p)

    @property
    def angular_radius(self) -> float:
        """Half the angle (radians) the emitter subtends at the head centre."""
        return math.atan2(self.size / 2, self.distance)

    def rotated(self, rot: np.ndarray) -> VirtualLight:
        return replace(self, position=tuple((rot @ np.asarray(self.position, dtype=np.float64)).tolist()))


def light(azimuth: float, elevation: float, distance: float = 1.5, size: float = 0.0,
          colour: tuple[float, float, float] = (1.0, 1.0, 1.0), intensity: float = 1.0,
          name: str = "light") -> VirtualLight:
    """A light placed by angles (degrees) and distance (m) from the head centre."""
    pos = angles_to_direction(azimuth, elevation) * distance
    return VirtualLight(tuple(pos.tolist()), size, colour, intensity, name)


def disc_directions(lt: VirtualLight, n: int = _DISC_SAMPLES) -> np.ndarray:
    """(n, 3) unit directions evenly covering the emitter (1 direction for a point light).

    The pattern (a sunflower spiral) is fixed in the light's own frame, so it moves rigidly
    with the light."""
    c = lt.direction
    r = lt.angular_radius
    if r < math.radians(0.25):
        return c[None]
    helper = np.array([0.0, 1.0, 0.0]) if abs(c[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = np.cross(helper, c)
    u /= np.linalg.norm(u)
    v = np.cross(c, u)
    i = np.arange(n) + 0.5
    rho = np.tan(r) * np.sqrt(i / n)  # uniform over the disc's tangent plane
    ang = i * math.pi * (3 - math.sqrt(5))
    d = c[None] + rho[:, None] * (np.cos(ang)[:, None] * u + np.sin(ang)[:, None] * v)
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def light_irradiance(lt: VirtualLight, dome: Dome) -> np.ndarray:
    """(L, 3) float64 irradiance assigned to each LED for one light (sums to the light's)."""
    d = disc_directions(lt)
    idx, b = barycentric(dome, d)
    per = np.asarray(lt.colour, dtype=np.float64) * (lt.intensity / d.shape[0])
    out = np.zeros((dome.n_lights, 3))
    np.add.at(out, idx.ravel(), b.ravel()[:, None] * per[None])
    return out


@dataclass(frozen=True)
class Look:
    """A lighting set-up made of virtual lights plus a uniform ambient term.

    Attributes:
        name: preset name or label.
        lights: the lights.
        ambient: (3,) linear radiance arriving equally from every direction.
        backdrop: ((3,), (3,)) linear radiance of the plain backdrop at its top and bottom,
            used when the look is the background (`as_env`).
    """

    name: str
    lights: tuple[VirtualLight, ...] = ()
    ambient: tuple[float, float, float] = (0.0, 0.0, 0.0)
    backdrop: tuple[tuple[float, float, float], tuple[float, float, float]] = ((0.012, 0.012, 0.012),
                                                                               (0.005, 0.005, 0.005))
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))

    def rotated(self, axis: tuple[float, float, float], degrees: float) -> Look:
        """The look turned about world `axis` (lights and backdrop move together)."""
        return replace(self, rotation=rotation_matrix(axis, degrees) @ self.rotation)

    def rotated_y(self, degrees: float) -> Look:
        return self.rotated((0.0, 1.0, 0.0), degrees)

    def placed_lights(self) -> tuple[VirtualLight, ...]:
        """The lights with the look's rotation applied."""
        return tuple(lt.rotated(self.rotation) for lt in self.lights)

    def as_env(self, height: int = 64) -> EnvMap:
        """The backdrop as an environment: a vertical gradient plus the ambient radiance."""
        d = texel_directions(height, 2 * height)
        t = (0.5 + 0.5 * d[..., 1])[..., None]
        top, bottom = (np.asarray(c, dtype=np.float64) for c in self.backdrop)
        rad = bottom * (1 - t) + top * t + np.asarray(self.ambient)
        return EnvMap(rad.astype(np.float32), rotation=self.rotation, name=self.name)


def look_weights(look: Look, dome: Dome, calibration: np.ndarray | None = None) -> np.ndarray:
    """LED weights (L, 3) float32 for a look (lights spread smoothly, ambient by solid angle)."""
    irr = np.asarray(look.ambient, dtype=np.float64)[None] * dome.solid_angle[:, None]
    for lt in look.placed_lights():
        irr = irr + light_irradiance(lt, dome)
    return _calibrated(irr, dome, calibration)


WARM = (1.0, 0.93, 0.82)
COOL = (0.85, 0.92, 1.0)

LOOKS: dict[str, Look] = {
    "key-fill-rim": Look("key-fill-rim", (
        light(-40, 30, 1.5, 0.6, WARM, 1.0, "key"),
        light(45, 5, 1.5, 1.0, COOL, 0.3, "fill"),
        light(150, 35, 1.5, 0.3, (1.0, 1.0, 1.0), 1.2, "rim"),
    ), ambient=(0.01, 0.01, 0.01), backdrop=((0.05, 0.05, 0.055), (0.015, 0.015, 0.017))),
    "rembrandt": Look("rembrandt", (
        light(-45, 45, 1.5, 0.25, WARM, 1.3, "key"),
        light(30, 0, 1.5, 1.2, (1.0, 1.0, 1.0), 0.04, "fill"),
    ), backdrop=((0.012, 0.009, 0.007), (0.004, 0.003, 0.002))),
    "cyberpunk": Look("cyberpunk", (
        light(-130, 15, 1.5, 0.3, (1.0, 0.1, 0.8), 1.6, "magenta rim"),
        light(130, 15, 1.5, 0.3, (0.1, 0.9, 1.0), 1.6, "cyan rim"),
        light(0, -20, 1.5, 1.0, (0.2, 0.3, 1.0), 0.2, "blue fill"),
    ), ambient=(0.008, 0.004, 0.016), backdrop=((0.02, 0.004, 0.03), (0.0, 0.008, 0.02))),
    "hard": Look("hard", (light(-60, 20, 2.0, 0.0, (1.0, 1.0, 1.0), 1.2, "sun"),),
                 ambient=(0.01, 0.01, 0.012), backdrop=((0.04, 0.04, 0.04), (0.012, 0.012, 0.012))),
    "back": Look("back", (light(180, 10, 1.5, 0.5, (1.0, 1.0, 1.0), 1.5, "back"),),
                 ambient=(0.005, 0.005, 0.005), backdrop=((0.2, 0.2, 0.22), (0.05, 0.05, 0.06))),
    "top": Look("top", (light(0, 85, 1.5, 0.4, (1.0, 1.0, 1.0), 1.3, "top"),),
                ambient=(0.005, 0.005, 0.005)),
    "rim": Look("rim", (
        light(-120, 20, 1.5, 0.3, (1.0, 1.0, 1.0), 1.0, "left rim"),
        light(120, 20, 1.5, 0.3, (1.0, 1.0, 1.0), 1.0, "right rim"),
    )),
    "ambient": Look("ambient", (), ambient=(0.3, 0.3, 0.3), backdrop=((0.3, 0.3, 0.3), (0.3, 0.3, 0.3))),
}
"""Named looks accepted wherever lighting is chosen by name (``--light rembrandt``)."""

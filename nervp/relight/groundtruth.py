"""Ground truth for relighting: the virtual light stage renders the performer directly under
an environment (not through OLAT images), to measure what 96 LEDs at 1.3 m lose.

The environment is cut into `n_dirs` cells around a spherical Fibonacci set of directions
(the same area-weighted cell integration as the LED weights, with a much finer "dome");
each cell becomes a point light at `distance` metres with intensity
``cell irradiance x distance^2``, so it delivers the cell's irradiance at the head like a
light at infinity. The image is in scene units: the environment's radiance, with the
stage's exposure divided out, which is what `relight` gives with weights calibrated by
``led_calibration(dome, gain=stage exposure)``. `distance` = 1.3 gives the same lights at the dome's
radius instead, which isolates the sampling error (96 vs `n_dirs` directions) from the
near-field error (finite LED distance).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from nervp.lightstage.dome import Dome, fibonacci_directions, voronoi_solid_angles
from nervp.relight.envmap import EnvMap
from nervp.relight.weights import env_weights
from nervp.synth.render_olat import render_sum
from nervp.synth.simulate import VirtualStage


def fine_dome(n_dirs: int) -> Dome:
    """A unit-intensity 'dome' of `n_dirs` directions used to discretise an environment."""
    d = fibonacci_directions(n_dirs)
    return Dome(d.copy(), d, voronoi_solid_angles(d), np.ones((n_dirs, 3)), 1.0)


def env_point_lights(env: EnvMap, n_dirs: int = 1024, distance: float = 50.0,
                     gain: float = 1.0) -> tuple[Tensor, Tensor]:
    """(positions (M, 3) m, intensities (M, 3)) of point lights that stand for `env`."""
    dome = fine_dome(n_dirs)
    irr = env_weights(env, dome).astype(np.float64)  # (M, 3) irradiance per cell
    keep = irr.max(1) > 0
    pos = dome.direction[keep] * distance
    rgb = irr[keep] * (distance ** 2) * gain
    return torch.as_tensor(pos, dtype=torch.float32), torch.as_tensor(rgb, dtype=torch.float32)


def render_under_env(stage: VirtualStage, t: float, env: EnvMap, n_dirs: int = 1024,
                     distance: float = 50.0) -> Tensor:
    """(H, W, 3) float32 linear image (scene units) of the stage's performer at instant `t`
    under `env`, through the stage's camera at its render quality."""
    theta, phi = stage.params(np.array([t]))
    mesh = stage.performer.posed(torch.from_numpy(theta[0]), torch.from_numpy(phi[0]))
    pos, rgb = env_point_lights(env, n_dirs, distance)
    return render_sum(mesh, stage.camera, pos, rgb, stage.cfg.quality)


def psnr(x: Tensor, ref: Tensor, mask: Tensor | None = None) -> float:
    """PSNR (dB) of `x` against `ref`, peak = max of `ref`, over `mask` (H, W) or all pixels."""
    d = (x.float() - ref.float()) ** 2
    if mask is not None:
        d = d[mask]
    mse = float(d.mean())
    peak = float(ref.max())
    return math.inf if mse == 0 else 10 * math.log10(peak * peak / mse)

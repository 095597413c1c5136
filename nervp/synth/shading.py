"""Surface reflectance of the virtual performer under point lights at finite distance.

Per light l and surface point x (normal n, towards-camera direction v):

    L_l(x) = I_l / d_l^2 * V_l(x) * ( albedo / pi * D(n.l) + f_spec(n, l, v) * max(n.l, 0) )

d_l is the distance to the LED (inverse-square falloff), V_l the cast-shadow visibility,
D a per-channel wrapped diffuse term that approximates subsurface scattering
(light bleeding past the terminator, more in red than in blue), and f_spec a GGX
microfacet lobe with Schlick Fresnel and Smith masking. Every term is linear in I_l, so
the image under several LEDs is the sum of the single-LED images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

SSS_WRAP_RGB = (0.45, 0.22, 0.14)
"""Wrap width per channel for a fully subsurface-scattering material (skin)."""


@dataclass(frozen=True)
class SurfaceSamples:
    """Shading inputs at N visible surface points (all float32, world frame).

    Attributes:
        position: (N, 3) metres.
        normal: (N, 3) unit normals.
        view: (N, 3) unit vectors toward the camera.
        albedo: (N, 3) linear diffuse albedo in [0, 1].
        roughness: (N,) GGX roughness (alpha = roughness^2), in (0, 1].
        f0: (N,) specular reflectance at normal incidence (skin about 0.028).
        sss: (N,) subsurface-scattering weight in [0, 1].
    """

    position: Tensor
    normal: Tensor
    view: Tensor
    albedo: Tensor
    roughness: Tensor
    f0: Tensor
    sss: Tensor


def shade(s: SurfaceSamples, light_pos: Tensor, light_rgb: Tensor, visibility: Tensor | None = None) -> Tensor:
    """Radiance (L, N, 3) of the N samples lit by each of L point lights alone.

    light_pos: (L, 3) metres; light_rgb: (L, 3) radiant intensity; visibility: (L, N) in [0, 1]
    or None (unshadowed).
    """
    to_l = light_pos[:, None, :] - s.position[None]  # (L, N, 3)
    d2 = (to_l * to_l).sum(-1).clamp_min(1e-8)
    l = to_l * torch.rsqrt(d2).unsqueeze(-1)
    n = s.normal[None]
    ndl = (l * n).sum(-1)  # (L, N)
    wrap = s.sss[:, None] * torch.tensor(SSS_WRAP_RGB, device=ndl.device)  # (N, 3)
    # energy-conserving wrap: (n.l + w) / (1 + w)^2, zero past the wrapped terminator
    diff = (ndl.unsqueeze(-1) + wrap[None]).clamp_min(0.0) / (1 + wrap[None]) ** 2
    radiance = diff * (s.albedo[None] / math.pi)
    # GGX specular
    h = torch.nn.functional.normalize(l + s.view[None], dim=-1)
    ndh = (n * h).sum(-1).clamp_min(0.0)
    ndv = (s.normal * s.view).sum(-1).clamp_min(1e-4)[None]
    vdh = (s.view[None] * h).sum(-1).clamp_min(0.0)
    a2 = (s.roughness ** 4)[None]  # alpha = roughness^2
    denom = ndh * ndh * (a2 - 1) + 1
    D = a2 / (math.pi * denom * denom).clamp_min(1e-12)
    k = ((s.roughness + 1) ** 2 / 8)[None]
    ndl_pos = ndl.clamp_min(0.0)
    G = ndl_pos / (ndl_pos * (1 - k) + k) * ndv / (ndv * (1 - k) + k)
    F = s.f0[None] + (1 - s.f0[None]) * (1 - vdh) ** 5
    spec = D * G * F / (4 * ndv).clamp_min(1e-4)  # already multiplied by n.l through G's numerator
    radiance = radiance + spec.unsqueeze(-1)
    scale = light_rgb[:, None, :] / d2.unsqueeze(-1)
    if visibility is not None:
        scale = scale * visibility.unsqueeze(-1)
    return radiance * scale

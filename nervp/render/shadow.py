"""Shadow maps for point lights at finite distance (the light stage's LEDs).

Each light gets a perspective camera at its position looking at the subject
(`light_cameras`); the mesh is rasterized once for all lights into depth maps
(`shadow_depth`, one batched call to the project's rasterizer); a world point is lit
by a light when it is not farther from that light than the depth stored where it
projects, plus a bias (`visibility`, with percentage-closer filtering).

Depth here is the light camera's z (metres along its optical axis), the same quantity
the rasterizer writes, so comparisons need no conversion.
"""

from __future__ import annotations

import torch
from torch import Tensor

from nervp.render.camera import Camera, look_at, project
from nervp.render.rasterize import rasterize_depth
from nervp.render.triangle import NEAR_M

__all__ = ["light_cameras", "shadow_depth", "visibility"]


def light_cameras(positions: Tensor, target: Tensor, radius: float, size: int) -> Camera:
    """One square perspective camera per light, looking at `target`.

    Args:
        positions: (L, 3) light positions in world space, metres.
        target: (3,) centre of the region to shadow (e.g. the head), metres.
        radius: radius in metres of the sphere around `target` that must be in view;
            each camera's field of view is the cone tangent to that sphere.
        size: shadow-map width and height in pixels.

    Returns:
        `Camera` with batch L, image size ``size x size``.
    """
    if positions.dim() != 2 or positions.shape[-1] != 3:
        raise ValueError(f"positions must be (L, 3), got {tuple(positions.shape)}")
    target = torch.as_tensor(target, dtype=torch.float32, device=positions.device)
    if target.shape != (3,):
        raise ValueError(f"target must be (3,), got {tuple(target.shape)}")
    if radius <= 0 or size <= 0:
        raise ValueError(f"radius and size must be positive, got {radius}, {size}")
    positions = positions.float()
    dist = (positions - target).norm(dim=-1)
    if bool((dist <= radius).any()):
        raise ValueError(
            f"every light must be outside the sphere of radius {radius} m around the target; "
            f"closest light is {float(dist.min()):.4f} m away"
        )
    L = positions.shape[0]
    R, t = look_at(positions, target.expand(L, 3))
    half = torch.asin(radius / dist)  # half-angle of the tangent cone
    f = 0.5 * size / torch.tan(half)
    K = torch.zeros(L, 3, 3, device=positions.device)
    K[:, 0, 0] = f
    K[:, 1, 1] = f
    K[:, 0, 2] = size / 2
    K[:, 1, 2] = size / 2
    K[:, 2, 2] = 1.0
    return Camera(R, t, K, size, size)


def shadow_depth(
    verts_world: Tensor,
    faces: Tensor,
    cams: Camera,
    *,
    cull_backfaces: bool = False,
    near: float = NEAR_M,
) -> Tensor:
    """Depth maps of one mesh seen from every light.

    Args:
        verts_world: (V, 3) vertices in world space, metres.
        faces: (F, 3) int64 triangles.
        cams: light cameras (batch L, square or not), e.g. from `light_cameras`.
        cull_backfaces: drop faces seen from behind. Keep False (the default) for open
            meshes such as a face mask: their back side must still cast shadows.

    Returns:
        (L, H, W) float32 light-camera z of the nearest surface in metres, +inf where empty.
    """
    if verts_world.dim() != 2 or verts_world.shape[-1] != 3:
        raise ValueError(f"verts_world must be (V, 3), got {tuple(verts_world.shape)}")
    L = cams.batch
    screen = project(verts_world.float().unsqueeze(0).expand(L, -1, -1), cams)
    return rasterize_depth(
        screen, faces, cams.height, cams.width, cull_backfaces=cull_backfaces, near=near
    )


def visibility(
    points: Tensor,
    cams: Camera,
    depth: Tensor,
    bias: float = 0.005,
    pcf: int = 1,
    *,
    normals: Tensor | None = None,
    normal_offset: float = 0.0,
    max_points: int = 1 << 20,
) -> Tensor:
    """Fraction of each light that reaches each point (shadow maps, PCF-softened).

    A tap is lit when the point's light-camera z is not greater than the stored depth
    plus `bias` (metres, independent of slope). Taps are filtered bilinearly over a box
    of ``(2 * pcf + 1)`` texels on a side centred on the point's projection: `pcf=0`
    is the classic 2 x 2 bilinear PCF, `pcf=r` reads ``(2r + 2)^2`` texels with weights
    that average ``(2r + 1)^2`` bilinear lookups. Taps outside a light's map, points
    that project outside it, and points behind the light camera count as lit.

    Args:
        points: (N, 3) world points, metres.
        cams: the L light cameras the maps were made with.
        depth: (L, H, W) maps from `shadow_depth`.
        bias: depth bias in metres.
        pcf: filter radius in texels (>= 0).
        normals: optional (N, 3) unit normals; with `normal_offset` (metres) each point
            is pushed along its normal before the lookup. This removes acne on grazing
            surfaces, which a constant bias cannot: with maps from `light_cameras`, a
            texel spans about ``2 * radius / size`` metres at the subject, and
            ``normal_offset = 1.5 * (pcf + 1) * texel`` keeps a convex surface fully
            lit wherever ``n . l > 0.05`` (measured on a 0.1 m sphere, 128^2 maps)
            while surfaces facing away (``n . l < -0.5``) stay dark. Points just past
            the terminator may read partly lit; shading by ``max(n . l, 0)`` hides it.
        max_points: bound on L * points processed at once (memory).

    Returns:
        (L, N) float32 in [0, 1], 1 = fully lit.
    """
    if points.dim() != 2 or points.shape[-1] != 3:
        raise ValueError(f"points must be (N, 3), got {tuple(points.shape)}")
    L, H, W = cams.batch, cams.height, cams.width
    if depth.shape != (L, H, W):
        raise ValueError(
            f"depth must be (L={L}, H={H}, W={W}) for these cameras, got {tuple(depth.shape)}"
        )
    if pcf < 0:
        raise ValueError(f"pcf must be >= 0, got {pcf}")
    points = points.float()
    if normals is not None:
        if normals.shape != points.shape:
            raise ValueError(
                f"normals must be (N, 3) like points {tuple(points.shape)}, got {tuple(normals.shape)}"
            )
        points = points + normal_offset * normals.float()
    n = points.shape[0]
    # a border of 2r + 2 texels of +inf: a tap window that does not fit in the padded map
    # lies wholly outside the real one, so clamping it into the border reads "lit"
    p = 2 * pcf + 2
    dpad = torch.nn.functional.pad(depth.float() + bias, (p, p, p, p), value=torch.inf)
    step = max(1, max_points // max(1, L))
    out = torch.empty(L, n, dtype=torch.float32, device=points.device)
    for a in range(0, n, step):
        out[:, a : a + step] = _pcf(points[a : a + step], cams, dpad, pcf)
    return out


def _pcf(points: Tensor, cams: Camera, dpad: Tensor, r: int) -> Tensor:
    """(L, n) visibility of a block of points; dpad: (L, H + 2p, W + 2p) depth plus
    bias with a border of p = 2r + 2 texels of +inf (see `visibility`)."""
    L, Hp, Wp = dpad.shape
    p, T = 2 * r + 2, 2 * r + 2  # border, taps per side
    dev = points.device
    scr = project(points.unsqueeze(0).expand(L, -1, -1), cams)  # (L, n, 3)
    z = scr[..., 2]
    ok = (z > 0) & torch.isfinite(scr[..., :2]).all(-1)  # else: behind the light, lit
    far = torch.tensor(-1e6, device=dev)
    u = torch.where(ok, scr[..., 0] - 0.5, far)  # texel-centre coordinates
    v = torch.where(ok, scr[..., 1] - 0.5, far)
    u0, v0 = torch.floor(u), torch.floor(v)
    fu, fv = u - u0, v - v0
    # top-left tap of each window, in the padded map (taps: u0 - r .. u0 + r + 1)
    cu = (u0 + (p - r)).clamp_(0, Wp - T).long()
    cv = (v0 + (p - r)).clamp_(0, Hp - T).long()
    base = (cv * Wp + cu + (torch.arange(L, device=dev) * (Hp * Wp)).unsqueeze(1)).view(-1)
    flat = dpad.reshape(-1)
    # separable weights over the taps: (1 - f), 1, ..., 1, f; each side sums to 2r + 1
    vis = torch.zeros_like(z)
    for i in range(T):
        row = torch.zeros_like(z)
        for j in range(T):
            stored = flat[i * Wp + j :].index_select(0, base).view_as(z)
            lit = (stored >= z).float()
            row += lit * (1 - fu) if j == 0 else lit * fu if j == T - 1 else lit
        vis += row * (1 - fv) if i == 0 else row * fv if i == T - 1 else row
    vis = vis.div_(float((2 * r + 1) ** 2)).clamp_(0.0, 1.0)
    return torch.where(ok, vis, 1.0)

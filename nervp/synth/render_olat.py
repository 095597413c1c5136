"""Render a posed performer under a set of LEDs: one image per LED, plus the per-pixel truths.

Anti-aliasing: the camera view is rasterized at `supersample`x resolution; alpha is the
covered fraction of each pixel's sub-samples, and each covered pixel is shaded once at its
nearest covered sub-sample, so every OLAT image is premultiplied by the same alpha over a
black backdrop (as a light stage with a black backdrop records it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from nervp.render.camera import Camera, project
from nervp.render.rasterize import rasterize
from nervp.render.shadow import light_cameras, shadow_depth, visibility
from nervp.synth.shading import SurfaceSamples, shade


@dataclass(frozen=True)
class RenderQuality:
    """Speed/quality settings of the virtual camera."""

    supersample: int = 2
    """Sub-samples per pixel side used for alpha (1 = hard edges)."""
    shadow_size: int = 128
    """Resolution of each LED's shadow depth map."""
    shadow_bias: float = 0.004
    """Depth bias in metres against self-shadowing acne."""
    normal_offset: float = 0.002
    """Push lookups this far along the normal before the shadow test (metres)."""
    pcf: int = 0
    """Shadow filter radius in texels (0 = 2x2 bilinear percentage-closer filtering)."""
    light_chunk: int = 24
    """Shade this many LEDs at a time (bounds memory)."""


@dataclass(frozen=True)
class PosedMesh:
    """A performer at one instant, ready to render (float32 tensors, world frame).

    Attributes:
        verts: (V, 3) metres. faces: (F, 3) int64. normals: (V, 3) unit.
        albedo: (V, 3) linear. roughness, f0, sss: (V,).
        shadow_faces: (F', 3) int64 coarser triangles over the same vertices, used to cast shadows.
        bound_center: (3,) and bound_radius: a sphere containing the mesh part that can cast
            shadows on what the camera sees (used to aim the shadow maps).
    """

    verts: Tensor
    faces: Tensor
    normals: Tensor
    albedo: Tensor
    roughness: Tensor
    f0: Tensor
    sss: Tensor
    shadow_faces: Tensor
    bound_center: Tensor
    bound_radius: float


@dataclass(frozen=True)
class GBuffer:
    """What the camera sees at output resolution before lighting.

    Attributes:
        alpha: (H, W) float32 coverage in [0, 1].
        pixels: (N,) int64 flat indices (y * W + x) of the covered pixels.
        samples: SurfaceSamples at those pixels (N entries).
    """

    alpha: Tensor
    pixels: Tensor
    samples: SurfaceSamples


def gbuffer(mesh: PosedMesh, cam: Camera, ss: int) -> GBuffer:
    """Rasterize `mesh` through `cam` (one camera, output size) with ss x ss sub-samples."""
    H, W = cam.height, cam.width
    K = cam.K.clone()
    K[:, :2] *= ss
    cam_ss = Camera(cam.R, cam.t, K, W * ss, H * ss)
    frags = rasterize(project(mesh.verts[None], cam_ss), mesh.faces, H * ss, W * ss)
    depth = frags.depth[0].reshape(H, ss, W, ss).permute(0, 2, 1, 3).reshape(H * W, ss * ss)
    alpha = torch.isfinite(depth).float().mean(-1)
    pix = torch.nonzero(alpha > 0).squeeze(1)
    best = depth[pix].argmin(-1)  # nearest covered sub-sample
    sy = (pix // W) * ss + best // ss
    sx = (pix % W) * ss + best % ss
    face = frags.face_idx[0, sy, sx]
    bary = frags.bary[0, sy, sx]  # (N, 3)
    tri = mesh.faces[face]  # (N, 3)

    def attr(a: Tensor) -> Tensor:
        return (a[tri] * bary.unsqueeze(-1)).sum(1) if a.dim() == 2 else (a[tri] * bary).sum(1)

    pos = attr(mesh.verts)
    view = F.normalize(cam.center[0][None] - pos, dim=-1)
    nrm = F.normalize(attr(mesh.normals), dim=-1)
    # a visible surface cannot face away from the camera: where interpolation says it does
    # (at silhouettes), tilt the normal until it is perpendicular to the view ray
    ndv = (nrm * view).sum(-1, keepdim=True)
    nrm = torch.where(ndv < 0, F.normalize(nrm - ndv * view, dim=-1), nrm)
    samples = SurfaceSamples(pos, nrm, view, attr(mesh.albedo), attr(mesh.roughness), attr(mesh.f0), attr(mesh.sss))
    return GBuffer(alpha.reshape(H, W), pix, samples)


def light_visibility(mesh: PosedMesh, points: Tensor, normals: Tensor, light_pos: Tensor,
                     q: RenderQuality) -> Tensor:
    """(L, N) cast-shadow visibility of `points` from each light position (L, 3)."""
    out = []
    for i in range(0, light_pos.shape[0], q.light_chunk):
        cams = light_cameras(light_pos[i:i + q.light_chunk], mesh.bound_center, mesh.bound_radius, q.shadow_size)
        depth = shadow_depth(mesh.verts, mesh.shadow_faces, cams)
        out.append(visibility(points, cams, depth, bias=q.shadow_bias, pcf=q.pcf, normals=normals,
                              normal_offset=q.normal_offset))
    return torch.cat(out, 0)


def render_lights(mesh: PosedMesh, cam: Camera, light_pos: Tensor, light_rgb: Tensor,
                  q: RenderQuality = RenderQuality(), gb: GBuffer | None = None) -> tuple[Tensor, GBuffer]:
    """Images (L, H, W, 3) float32 linear radiance of `mesh` lit by each light alone.

    Returns the images and the GBuffer (alpha and surface samples) they were shaded from.
    """
    gb = gbuffer(mesh, cam, q.supersample) if gb is None else gb
    H, W = cam.height, cam.width
    L = light_pos.shape[0]
    out = torch.zeros(L, H * W, 3, device=light_pos.device)
    s = gb.samples
    a = gb.alpha.reshape(-1)[gb.pixels].unsqueeze(-1)
    for i in range(0, L, q.light_chunk):
        sl = slice(i, i + q.light_chunk)
        vis = light_visibility(mesh, s.position, s.normal, light_pos[sl], q)
        out[sl, gb.pixels] = shade(s, light_pos[sl], light_rgb[sl], vis) * a
    return out.reshape(L, H, W, 3), gb


def render_sum(mesh: PosedMesh, cam: Camera, light_pos: Tensor, light_rgb: Tensor,
               q: RenderQuality = RenderQuality(), gb: GBuffer | None = None) -> Tensor:
    """(H, W, 3) image with all the given lights on at once (the sum of their OLAT images)."""
    gb = gbuffer(mesh, cam, q.supersample) if gb is None else gb
    H, W = cam.height, cam.width
    acc = torch.zeros(H * W, 3, device=light_pos.device)
    s = gb.samples
    a = gb.alpha.reshape(-1)[gb.pixels].unsqueeze(-1)
    for i in range(0, light_pos.shape[0], q.light_chunk):
        sl = slice(i, i + q.light_chunk)
        vis = light_visibility(mesh, s.position, s.normal, light_pos[sl], q)
        acc[gb.pixels] += shade(s, light_pos[sl], light_rgb[sl], vis).sum(0) * a
    return acc.reshape(H, W, 3)

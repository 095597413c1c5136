"""Shadow maps for point lights: cameras, depth maps, visibility with PCF."""

from __future__ import annotations

import math

import pytest
import torch

from nervp.render import light_cameras, project, rasterize, shadow_depth, visibility


def uv_sphere(n_lat: int, n_lon: int, radius: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Closed UV sphere, faces counter-clockwise seen from outside (as in test_rasterize)."""
    theta = torch.linspace(0, math.pi, n_lat + 1)[1:-1]
    phi = torch.arange(n_lon) * (2 * math.pi / n_lon)
    st, ct = torch.sin(theta)[:, None], torch.cos(theta)[:, None]
    ring = torch.stack([st * torch.cos(phi), ct.expand(-1, n_lon), st * torch.sin(phi)], -1)
    verts = (
        torch.cat(
            [torch.tensor([[0.0, 1.0, 0.0]]), ring.reshape(-1, 3), torch.tensor([[0.0, -1.0, 0.0]])]
        )
        * radius
    )
    ring_id = torch.arange((n_lat - 1) * n_lon).view(n_lat - 1, n_lon) + 1
    nxt = ring_id.roll(-1, dims=1)
    caps = [
        torch.stack([torch.zeros(n_lon, dtype=torch.long), nxt[0], ring_id[0]], 1),
        torch.stack([torch.full((n_lon,), len(verts) - 1), ring_id[-1], nxt[-1]], 1),
    ]
    a, b, c, d = ring_id[:-1], nxt[:-1], ring_id[1:], nxt[1:]
    quads = torch.stack([torch.stack([a, b, d], -1), torch.stack([a, d, c], -1)], 2)
    return verts, torch.cat(caps + [quads.reshape(-1, 3)])


def plane(y: float, half: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A horizontal square at height y, +y facing (counter-clockwise seen from above)."""
    v = torch.tensor([[-half, y, -half], [half, y, -half], [half, y, half], [-half, y, half]])
    return v, torch.tensor([[0, 2, 1], [0, 3, 2]])


def test_light_camera_just_contains_the_sphere() -> None:
    pos = torch.tensor([[0.0, 0.0, 1.3], [1.0, 0.5, -0.2], [0.0, 2.0, 0.0]])
    target = torch.tensor([0.1, 0.0, 0.0])
    radius, size = 0.2, 64
    cams = light_cameras(pos, target, radius, size)
    assert cams.batch == 3 and cams.width == cams.height == size
    # the camera looks at the target: it projects to the image centre
    c = project(target.expand(3, 1, 3), cams)[:, 0]
    torch.testing.assert_close(c[:, :2], torch.full((3, 2), size / 2.0), atol=1e-3, rtol=0)
    # points of the sphere fill the frame: inside it, touching its edge
    g = torch.Generator().manual_seed(0)
    d = torch.nn.functional.normalize(torch.randn(20000, 3, generator=g), dim=-1)
    s = project((target + radius * d).expand(3, -1, -1), cams)
    off = (s[..., :2] - size / 2).abs().amax(-1).amax(-1)  # per light
    assert torch.all(off <= size / 2 + 1e-3) and torch.all(off > size / 2 * 0.98)
    with pytest.raises(ValueError, match="outside the sphere"):
        light_cameras(torch.tensor([[0.0, 0.0, 0.15]]), target, radius, size)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        light_cameras(torch.tensor([1.0, 2.0, 3.0]), target, radius, size)


def test_quad_casts_an_umbra_on_the_ground() -> None:
    ground, gf = plane(0.0, 0.5)
    blocker, bf = plane(0.5, 0.1)
    verts = torch.cat([ground, blocker])
    faces = torch.cat([gf, bf + 4])
    cams = light_cameras(torch.tensor([[0.0, 1.0, 0.0]]), torch.zeros(3), 0.72, 128)
    depth = shadow_depth(verts, faces, cams)
    assert depth.shape == (1, 128, 128) and depth.dtype == torch.float32
    assert torch.isinf(depth).any() and torch.isfinite(depth).any()
    # one batched rasterize call sees the same thing
    ref = rasterize(project(verts[None], cams), faces, 128, 128).depth
    assert torch.equal(depth, ref)
    # the blocker's shadow on the ground spans |x|, |z| < 0.2 (light at 1 m, blocker at 0.5 m)
    xs = torch.linspace(-0.45, 0.45, 31)
    gx, gz = torch.meshgrid(xs, xs, indexing="ij")
    pts = torch.stack([gx, torch.zeros_like(gx), gz], -1).reshape(-1, 3)
    r = pts[:, [0, 2]].abs().amax(-1)
    for pcf in (0, 1, 2):
        vis = visibility(pts, cams, depth, pcf=pcf)[0]
        assert vis.shape == (pts.shape[0],)
        assert torch.all(vis[r < 0.17] == 0), pcf
        assert torch.all(vis[r > 0.23] == 1), pcf
        assert ((vis > 0) & (vis < 1)).any() or pcf == 0
    # above the blocker everything is lit; outside the map counts as lit
    above = torch.tensor([[0.0, 0.7, 0.0], [0.05, 0.6, -0.05], [5.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    assert torch.all(visibility(above, cams, depth)[0] == 1)


def test_convex_sphere_does_not_shadow_its_lit_side() -> None:
    radius, size, pcf = 0.1, 128, 1
    verts, faces = uv_sphere(50, 72, radius)
    normals = torch.nn.functional.normalize(verts, dim=-1)
    pos = torch.tensor([[0.5, 0.8, 1.0], [0.0, 0.0, -1.0], [-1.0, 0.1, 0.0]])
    pos = pos / pos.norm(dim=-1, keepdim=True) * 1.3
    cams = light_cameras(pos, torch.zeros(3), 1.2 * radius, size)
    depth = shadow_depth(verts, faces, cams)
    texel = 2 * 1.2 * radius / size  # map footprint at the subject
    vis = visibility(
        verts, cams, depth, pcf=pcf, normals=normals, normal_offset=1.5 * (pcf + 1) * texel
    )
    to_light = torch.nn.functional.normalize(pos[:, None] - verts[None], dim=-1)
    ndl = (to_light * normals[None]).sum(-1)  # (L, V)
    assert torch.all(vis[ndl > 0.2] > 0.99)
    assert torch.all(vis[ndl < -0.5] < 0.01)
    # the light behind the head (-z) leaves its front (+z) in shadow
    front = normals[:, 2] > 0.5
    assert torch.all(vis[1, front] < 0.01)
    assert torch.all(vis[0, front & (ndl[0] > 0.2)] > 0.99)


def test_grazing_acne_without_normal_offset_is_what_the_offset_fixes() -> None:
    verts, faces = uv_sphere(40, 60, 0.1)
    normals = torch.nn.functional.normalize(verts, dim=-1)
    cams = light_cameras(torch.tensor([[0.0, 0.0, 1.3]]), torch.zeros(3), 0.12, 96)
    depth = shadow_depth(verts, faces, cams)
    ndl = normals[:, 2]  # light far along +z
    lit = ndl > 0.3
    bare = visibility(verts, cams, depth, bias=0.0, pcf=0)[0]
    fixed = visibility(verts, cams, depth, bias=0.0, pcf=0, normals=normals, normal_offset=0.004)[0]
    assert bare[lit].min() < 0.9 < fixed[lit].min()


def visibility_loop(points, cams, depth, bias, r):
    """Per light, per point, per tap: the PCF definition written out."""
    L, H, W = depth.shape
    scr = project(points.expand(L, -1, -1), cams)
    out = torch.ones(L, points.shape[0])
    for light in range(L):
        for n in range(points.shape[0]):
            x, y, z = scr[light, n].tolist()
            if z <= 0:
                continue
            u, v = x - 0.5, y - 0.5
            iu, iv = math.floor(u), math.floor(v)
            total = 0.0
            for a in range(-r, r + 2):
                wv = (1 - (v - iv)) if a == -r else (v - iv) if a == r + 1 else 1.0
                for b in range(-r, r + 2):
                    wu = (1 - (u - iu)) if b == -r else (u - iu) if b == r + 1 else 1.0
                    row, col = iv + a, iu + b
                    inside = 0 <= row < H and 0 <= col < W
                    lit = not inside or z <= float(depth[light, row, col]) + bias
                    total += wv * wu * lit
            out[light, n] = total / (2 * r + 1) ** 2
    return out


@pytest.mark.parametrize("pcf", [0, 1, 2])
def test_visibility_matches_per_tap_loop(pcf: int) -> None:
    g = torch.Generator().manual_seed(pcf)
    cams = light_cameras(torch.tensor([[0.0, 0.0, 1.0], [0.6, 0.5, 0.4]]), torch.zeros(3), 0.3, 12)
    depth = 0.7 + 0.6 * torch.rand(2, 12, 12, generator=g)
    depth[:, 3:5, 6:9] = math.inf
    # points inside, near the edges of and far outside the maps, and behind a light
    pts = (torch.rand(150, 3, generator=g) - 0.5) * torch.tensor([0.9, 0.9, 0.8])
    pts = torch.cat([pts, torch.tensor([[0.0, 0.0, 2.0], [5.0, 0.0, 0.0]])])
    fast = visibility(pts, cams, depth, bias=0.01, pcf=pcf, max_points=37)
    torch.testing.assert_close(
        fast, visibility_loop(pts, cams, depth, 0.01, pcf), atol=1e-5, rtol=0
    )
    assert (fast > 0).any() and (fast < 1).any()


def test_visibility_bad_input() -> None:
    cams = light_cameras(torch.tensor([[0.0, 0.0, 1.0]]), torch.zeros(3), 0.2, 16)
    depth = torch.full((1, 16, 16), math.inf)
    with pytest.raises(ValueError, match=r"\(2, 16, 16\)"):
        visibility(torch.zeros(4, 3), cams, depth.expand(2, -1, -1))
    with pytest.raises(ValueError, match=r"\(4, 2\)"):
        visibility(torch.zeros(4, 2), cams, depth)
    with pytest.raises(ValueError, match="pcf"):
        visibility(torch.zeros(4, 3), cams, depth, pcf=-1)
    assert torch.all(visibility(torch.rand(5, 3) * 0.1, cams, depth) == 1)  # empty map: lit

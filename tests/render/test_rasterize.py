"""The rasterizer: fast path == reference, known values, conventions, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from nervp.render import (
    Fragments,
    interpolate,
    make_camera,
    project,
    rasterize,
    rasterize_depth,
    rasterize_reference,
    to_camera,
)


def uv_sphere(n_lat: int, n_lon: int, radius: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Closed UV sphere, faces counter-clockwise seen from outside."""
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


def random_soup(
    seed: int, batch: int, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Overlapping triangles of many sizes plus a jittered grid (shared edges)."""
    g = torch.Generator().manual_seed(seed)
    # free triangles: centres anywhere (also off-image), sizes 0.3 .. 14 px
    n_free = 24
    centre = (
        torch.rand(batch, n_free, 1, 2, generator=g) * torch.tensor([width + 8.0, height + 8.0]) - 4
    )
    size = torch.exp(torch.rand(batch, n_free, 1, 1, generator=g) * math.log(45.0)) * 0.3
    xy = centre + (torch.rand(batch, n_free, 3, 2, generator=g) - 0.5) * size
    free = torch.cat([xy, torch.rand(batch, n_free, 3, 1, generator=g) * 3 + 0.5], -1)
    free[:, :2, 0, 2] = 5e-4  # behind the near plane
    free = free.reshape(batch, n_free * 3, 3)
    # a jittered 5 x 4 vertex grid with 2 triangles per cell: every inner edge shared
    gy, gx = torch.meshgrid(
        torch.linspace(2, height - 3, 4), torch.linspace(3, width - 4, 5), indexing="ij"
    )
    grid = torch.stack([gx, gy], -1).reshape(1, -1, 2).repeat(batch, 1, 1)
    grid = grid + torch.randn(batch, grid.shape[1], 2, generator=g) * 1.2
    grid = torch.cat([grid, torch.rand(batch, grid.shape[1], 1, generator=g) + 1.0], -1)
    free_faces = torch.arange(n_free * 3).view(n_free, 3)
    cells = []
    for i in range(3):
        for j in range(4):
            a, b, c, d = i * 5 + j, i * 5 + j + 1, (i + 1) * 5 + j, (i + 1) * 5 + j + 1
            cells += [[a, d, b], [a, c, d]]  # front-facing (negative area, y down)
    grid_faces = torch.tensor(cells) + n_free * 3
    screen = torch.cat([free, grid], 1)
    faces = torch.cat([free_faces, grid_faces])
    # repeat a few triangles exactly: exact depth ties must go to the smaller index
    faces = torch.cat([faces, faces[[3, 30, 31]]])
    return screen, faces


def assert_same(a: Fragments, b: Fragments) -> None:
    assert torch.equal(a.face_idx, b.face_idx), (a.face_idx != b.face_idx).sum()
    torch.testing.assert_close(a.bary, b.bary, atol=1e-5, rtol=0)
    torch.testing.assert_close(a.depth, b.depth, atol=1e-5, rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("cull", [False, True])
def test_matches_reference(seed: int, cull: bool) -> None:
    screen, faces = random_soup(seed, batch=2, height=24, width=32)
    fast = rasterize(screen, faces, 24, 32, cull_backfaces=cull)
    ref = rasterize_reference(screen, faces, 24, 32, cull_backfaces=cull)
    assert fast.face_idx.shape == (2, 24, 32) and fast.bary.shape == (2, 24, 32, 3)
    assert fast.face_idx.dtype == torch.int64 and fast.bary.dtype == torch.float32
    assert_same(fast, ref)
    assert 0.2 < fast.mask.float().mean() < 0.95  # the soup exercises both
    # exact bit-for-bit agreement is the design; the tolerances above are the contract
    assert torch.equal(fast.depth, ref.depth) and torch.equal(fast.bary, ref.bary)
    # duplicated triangles (same depth everywhere) never win over their originals
    assert not torch.isin(
        fast.face_idx, torch.tensor([faces.shape[0] - 3, faces.shape[0] - 2, faces.shape[0] - 1])
    ).any()


def test_matches_reference_sphere_with_big_triangles() -> None:
    verts, faces = uv_sphere(6, 8)
    cam = make_camera(
        torch.tensor([[0.3, 0.4, 3.0], [0.0, -1.0, 2.5]]), torch.zeros(2, 3), 50.0, 20, 17
    )
    screen = project(verts.expand(2, -1, -1), cam)
    for cull in (False, True):
        assert_same(
            rasterize(screen, faces, 17, 20, cull_backfaces=cull),
            rasterize_reference(screen, faces, 17, 20, cull_backfaces=cull),
        )


def test_matches_reference_large_triangles() -> None:
    """Boxes of every tile size (exact, masked 16 / 32 / 64) and beyond 64 pixels."""
    g = torch.Generator().manual_seed(7)
    sizes = torch.tensor([3.0, 7.0, 12.0, 20.0, 40.0, 60.0, 90.0, 150.0])
    centre = torch.rand(2, 8, 1, 2, generator=g) * torch.tensor([80.0, 72.0])
    xy = centre + (torch.rand(2, 8, 3, 2, generator=g) - 0.5) * sizes.view(1, 8, 1, 1)
    z = torch.rand(2, 8, 3, 1, generator=g) * 2 + 0.5
    screen = torch.cat([xy, z], -1).reshape(2, 24, 3)
    faces = torch.arange(24).view(8, 3)
    for cull in (False, True):
        assert_same(
            rasterize(screen, faces, 72, 80, cull_backfaces=cull, max_pairs=500),
            rasterize_reference(screen, faces, 72, 80, cull_backfaces=cull),
        )


def test_chunked_equals_unchunked() -> None:
    screen, faces = random_soup(5, batch=3, height=24, width=32)
    # add one screen-filling triangle so large boxes are split too
    big = torch.tensor([[[-40.0, -40.0, 2.9], [90.0, -10.0, 2.9], [0.0, 90.0, 2.9]]]).expand(
        3, -1, -1
    )
    screen = torch.cat([screen, big], 1)
    v = screen.shape[1]
    faces = torch.cat([faces, torch.tensor([[v - 3, v - 2, v - 1]])])
    full = rasterize(screen, faces, 24, 32)
    for max_pairs in (1, 7, 64):
        assert_same(rasterize(screen, faces, 24, 32, max_pairs=max_pairs), full)
    assert torch.equal(rasterize_depth(screen, faces, 24, 32, max_pairs=5), full.depth)


def quad(x0: float, y0: float, x1: float, y1: float, z: float) -> tuple[torch.Tensor, torch.Tensor]:
    screen = torch.tensor([[[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]]])
    return screen, torch.tensor([[0, 2, 1], [0, 3, 2]])


def test_screen_aligned_quad_pixel_count() -> None:
    screen, faces = quad(4.0, 2.0, 12.0, 7.0, 1.5)
    frags = rasterize(screen, faces, 10, 16)
    # centres j + 0.5 in [4, 12] -> j = 4..11; i + 0.5 in [2, 7] -> i = 2..6
    expected = torch.zeros(1, 10, 16, dtype=torch.bool)
    expected[0, 2:7, 4:12] = True
    assert torch.equal(frags.mask, expected)
    assert torch.all(frags.depth[expected] == 1.5) and torch.all(
        torch.isinf(frags.depth[~expected])
    )
    assert torch.all(frags.bary[~expected] == 0)
    torch.testing.assert_close(frags.bary.sum(-1)[expected], torch.ones(40))
    # edges through pixel centres are inside; a quad hanging off the image is clipped
    screen, faces = quad(-5.5, 1.5, 3.5, 40.0, 1.0)
    assert rasterize(screen, faces, 10, 16).mask.sum() == 4 * 9  # columns 0..3, rows 1..9


def test_depth_is_perspective_correct() -> None:
    verts, faces = uv_sphere(12, 16, radius=0.5)
    cam = make_camera(torch.tensor([[0.4, 0.3, 1.6]]), torch.zeros(1, 3), 45.0, 48, 40)
    frags = rasterize(project(verts[None], cam), faces, 40, 48)
    z_cam = to_camera(verts[None], cam)[..., 2:]
    z_img = interpolate(frags, faces, z_cam)[..., 0]
    m = frags.mask
    assert m.sum() > 500
    torch.testing.assert_close(z_img[m], frags.depth[m], rtol=1e-5, atol=1e-6)
    assert torch.all(z_img[~m] == 0)


def test_interpolated_positions_lie_on_the_sphere_and_project_to_pixel_centres() -> None:
    radius = 0.3
    verts, faces = uv_sphere(40, 60, radius)
    H, W = 64, 80
    cam = make_camera(torch.tensor([[0.2, 0.5, 1.0]]), torch.zeros(1, 3), 40.0, W, H)
    frags = rasterize(project(verts[None], cam), faces, H, W)
    pos = interpolate(frags, faces, verts)  # (V, C) attributes are shared by the batch
    m = frags.mask[0]
    p = pos[0][m]
    # chords of a 40 x 60 sphere sag below the surface by at most r (1 - cos(pi / 40))
    assert torch.all((p.norm(dim=-1) - radius).abs() < radius * 4e-3)
    back = project(p[None], cam)[0]
    i, j = torch.nonzero(m, as_tuple=True)
    torch.testing.assert_close(back[:, 0], j.float() + 0.5, atol=2e-3, rtol=0)
    torch.testing.assert_close(back[:, 1], i.float() + 0.5, atol=2e-3, rtol=0)


def test_occlusion_order_and_ties() -> None:
    far, f_far = quad(0.0, 0.0, 10.0, 10.0, 2.0)
    near, _ = quad(3.0, 3.0, 7.0, 7.0, 1.0)
    screen = torch.cat([far, near], 1)
    for faces in (torch.cat([f_far, f_far + 4]), torch.cat([f_far + 4, f_far])):
        frags = rasterize(screen, faces, 10, 10)
        inner = frags.depth[0, 3:7, 3:7]
        assert torch.all(inner == 1.0)
        assert torch.all(frags.depth[0, :3] == 2.0)
        assert_same(frags, rasterize_reference(screen, faces, 10, 10))
    # the same triangle twice: the smaller index wins everywhere
    faces = torch.tensor([[0, 2, 1], [0, 2, 1], [0, 3, 2]])
    frags = rasterize(far, faces, 10, 10)
    assert set(frags.face_idx.unique().tolist()) == {0, 2}


def test_near_plane_drops_whole_triangles() -> None:
    screen = torch.tensor([[[1.0, 1.0, 1.0], [9.0, 1.0, 1.0], [1.0, 9.0, 1.0], [9.0, 9.0, 1e-3]]])
    faces = torch.tensor([[0, 2, 1], [1, 2, 3]])
    frags = rasterize(screen, faces, 10, 10)
    assert set(frags.face_idx.unique().tolist()) == {-1, 0}
    frags = rasterize(screen, faces, 10, 10, near=1e-4)
    assert set(frags.face_idx.unique().tolist()) == {-1, 0, 1}
    # a vertex behind the camera (project gives z < 0)
    verts = torch.tensor([[[-0.1, -0.1, 1.0], [0.1, -0.1, 1.0], [0.0, 0.1, -1.0]]])
    cam = make_camera(torch.zeros(1, 3), torch.tensor([[0.0, 0.0, 1.0]]), 60.0, 16, 16)
    assert not rasterize(project(verts, cam), torch.tensor([[0, 1, 2]]), 16, 16).mask.any()


def test_backface_culling_on_a_closed_sphere() -> None:
    verts, faces = uv_sphere(16, 24)
    cam = make_camera(
        torch.tensor([[0.5, 1.0, 3.0], [-3.0, 0.2, 0.1]]), torch.zeros(2, 3), 45.0, 40, 32
    )
    screen = project(verts.expand(2, -1, -1), cam)
    plain = rasterize(screen, faces, 32, 40)
    culled = rasterize(screen, faces, 32, 40, cull_backfaces=True)
    assert plain.mask.sum() > 400
    assert_same(culled, plain)  # only front faces were ever visible
    # the visible faces point at the camera: n . (eye - p) > 0
    v = verts[faces[culled.face_idx[culled.mask]]]
    n = torch.linalg.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0], dim=-1)
    eye = cam.center[torch.nonzero(culled.mask)[:, 0]]
    assert torch.all(((eye - v[:, 0]) * n).sum(-1) > 0)
    # turned inside out, culling keeps the far inner wall: same silhouette, deeper
    inside = rasterize(screen, faces.flip(1), 32, 40, cull_backfaces=True)
    assert torch.equal(inside.mask, plain.mask)
    assert torch.all(inside.depth[inside.mask] > plain.depth[plain.mask])


def test_closed_mesh_is_watertight() -> None:
    """No background pixel inside the silhouette of a dense sphere (shared edges)."""
    verts, faces = uv_sphere(60, 90)
    g = torch.Generator().manual_seed(0)
    eye = torch.nn.functional.normalize(torch.randn(6, 3, generator=g), dim=-1) * 3.0
    cam = make_camera(eye, torch.zeros(6, 3), 45.0, 96, 80)
    for cull in (False, True):
        m = rasterize_depth(
            project(verts.expand(6, -1, -1), cam), faces, 80, 96, cull_backfaces=cull
        ).isfinite()
        inner = m[:, :-2, 1:-1] & m[:, 2:, 1:-1] & m[:, 1:-1, :-2] & m[:, 1:-1, 2:]
        assert m.sum() > 6 * 1000
        assert not (inner & ~m[:, 1:-1, 1:-1]).any()


def test_interpolate_is_differentiable_and_zero_on_background() -> None:
    screen, faces = quad(2.0, 2.0, 8.0, 8.0, 1.0)
    frags = rasterize(screen, faces, 10, 10)
    attrs = torch.rand(1, 4, 5, requires_grad=True)
    img = interpolate(frags, faces, attrs)
    assert img.shape == (1, 10, 10, 5)
    assert torch.all(img[~frags.mask] == 0)
    img.sum().backward()
    assert attrs.grad is not None and attrs.grad.abs().sum() > 0


def test_empty_and_degenerate() -> None:
    screen = torch.tensor([[[1.0, 1.0, 1.0], [5.0, 5.0, 1.0], [9.0, 9.0, 1.0]]])  # collinear
    frags = rasterize(screen, torch.tensor([[0, 1, 2]]), 10, 10)
    assert not frags.mask.any() and torch.all(torch.isinf(frags.depth))
    frags = rasterize(screen, torch.zeros(0, 3, dtype=torch.int64), 10, 10)
    assert not frags.mask.any()
    nan = screen.clone()
    nan[0, 0, 0] = float("nan")
    big = torch.tensor([[[0.0, 0.0, 1.0], [20.0, 0.0, 1.0], [0.0, 20.0, 1.0]]])
    assert not rasterize(torch.cat([nan, big]), torch.tensor([[0, 2, 1]]), 10, 10).mask[0].any()


@pytest.mark.parametrize(
    ("screen_shape", "faces", "match"),
    [
        ((5, 3), torch.tensor([[0, 1, 2]]), r"\(5, 3\)"),
        ((1, 5, 2), torch.tensor([[0, 1, 2]]), r"\(1, 5, 2\)"),
        ((1, 5, 3), torch.tensor([[0, 1, 2, 3]]), r"\(1, 4\)"),
        ((1, 5, 3), torch.tensor([0, 1, 2]), r"\(3,\)"),
        ((1, 5, 3), torch.tensor([[0, 1, 5]]), r"\(1, 5, 3\)"),
        ((1, 5, 3), torch.tensor([[0, -1, 2]]), r"\[-1, 2\]"),
        ((1, 5, 3), torch.tensor([[0.0, 1.0, 2.0]]), r"\(1, 3\)"),
    ],
)
def test_bad_input_raises(screen_shape, faces, match) -> None:
    screen = torch.rand(screen_shape)
    with pytest.raises(ValueError, match=match):
        rasterize(screen, faces, 8, 8)
    with pytest.raises(ValueError, match=match):
        rasterize_reference(screen, faces, 8, 8)


def test_bad_size_and_attrs() -> None:
    screen, faces = quad(2.0, 2.0, 8.0, 8.0, 1.0)
    with pytest.raises(ValueError, match="height=0"):
        rasterize(screen, faces, 0, 8)
    frags = rasterize(screen, faces, 10, 10)
    with pytest.raises(ValueError, match=r"\(2, 4, 3\)"):
        interpolate(frags, faces, torch.rand(2, 4, 3))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu() -> None:
    screen, faces = random_soup(3, batch=4, height=24, width=32)
    cpu = rasterize(screen, faces, 24, 32)
    gpu = rasterize(screen.cuda(), faces.cuda(), 24, 32)
    assert gpu.face_idx.is_cuda
    assert_same(Fragments(gpu.face_idx.cpu(), gpu.bary.cpu(), gpu.depth.cpu()), cpu)
    verts, sphere = uv_sphere(30, 40)
    cam = make_camera(torch.tensor([[0.0, 0.0, 3.0]]).repeat(3, 1), torch.zeros(3, 3), 40.0, 64, 64)
    s = project(verts.expand(3, -1, -1), cam)
    a, b = rasterize(s, sphere, 64, 64), rasterize(s.cuda(), sphere.cuda(), 64, 64, max_pairs=999)
    assert torch.equal(a.face_idx, b.face_idx.cpu())
    torch.testing.assert_close(
        interpolate(b, sphere.cuda(), verts.cuda()).cpu(), interpolate(a, sphere, verts)
    )

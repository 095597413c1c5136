"""Conditioning maps (eq. 7): shapes, ranges, PNCC = canonical coordinates, irises, fixed pose,
and the per-vertex colour sampled back from rendered frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nervp.face import load_head_model, pose_matrix
from nervp.parse.conditioning import MapSettings, conditioning_maps, map_mesh, sample_vertex_colours
from nervp.parse.fit import video_camera
from nervp.render.camera import project
from nervp.structures.face import FaceParams

S = 96


@pytest.fixture(scope="module")
def model():
    return load_head_model()


def make_params(model, T=4, phi=None, theta=None, colour=None, size=S) -> FaceParams:
    if theta is None:
        theta = torch.zeros(T, 6)
        theta[:, 1] = torch.linspace(-0.4, 0.4, T)  # yaw sweep, ±23°
        theta[:, 0] = 0.1
    phi = torch.zeros(T, model.n_expr) if phi is None else phi
    return FaceParams(beta=torch.zeros(model.n_id), theta=theta, phi=phi, residual=torch.zeros(T),
                      valid=torch.ones(T, dtype=torch.bool), camera=video_camera(size, size, 30.0, 0.5),
                      fps=25.0, id_names=model.id_names, expr_names=model.expr_names, colour=colour)


def test_shapes_ranges_and_background(model):
    maps = conditioning_maps(make_params(model))
    T = 4
    assert maps.diffuse.shape == (T, S, S, 3) and maps.pncc.shape == (T, S, S, 3)
    assert maps.landmark.shape == (T, S, S, 3) and maps.mask.shape == (T, S, S)
    assert maps.diffuse.dtype == torch.float32 and maps.mask.dtype == torch.bool
    for x in (maps.diffuse, maps.pncc, maps.landmark):
        assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert set(torch.unique(maps.landmark).tolist()) <= {0.0, 1.0}
    off = ~maps.mask
    assert float(maps.diffuse[off].abs().max()) == 0.0 and float(maps.pncc[off].abs().max()) == 0.0
    cover = maps.mask.float().mean((1, 2))
    assert (cover > 0.1).all() and (cover < 0.6).all()
    for c in range(3):  # every channel draws something
        assert (maps.landmark[..., c].sum((1, 2)) > 0).all()
    assert maps.stacked().shape == (T, 9, S, S)


def test_pncc_is_the_canonical_coordinate(model):
    """With β = 0 and φ = 0 the mesh is the mean shape posed: decoding a pixel's PNCC gives
    the canonical point whose projection is that pixel's centre."""
    p = make_params(model)
    maps = conditioning_maps(p)
    box = maps.pncc_box
    R, t = pose_matrix(p.theta)
    for f in range(p.n_frames):
        ys, xs = torch.nonzero(maps.mask[f], as_tuple=True)
        canon = box[0] + maps.pncc[f, ys, xs] * (box[1] - box[0])  # (N, 3) model space
        world = canon @ R[f].T + t[f]
        uv = project(world[None], p.camera)[0, :, :2]
        centre = torch.stack([xs + 0.5, ys + 0.5], -1)
        err = (uv - centre).norm(dim=-1)
        assert float(err.max()) < 0.02, f"frame {f}: {float(err.max())} px"


def test_chunking_does_not_change_the_maps(model):
    p = make_params(model, T=5)
    a, b = conditioning_maps(p, MapSettings(chunk=2)), conditioning_maps(p, MapSettings(chunk=16))
    for name in ("diffuse", "pncc", "landmark", "mask"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name


def test_closed_eyes_hide_the_irises(model):
    phi = torch.zeros(2, model.n_expr)
    phi[1, model.expr_index("blink_left")] = phi[1, model.expr_index("blink_right")] = 1.0
    maps = conditioning_maps(make_params(model, T=2, phi=phi, theta=torch.zeros(2, 6)))
    assert float(maps.landmark[0, ..., 2].sum()) > 10
    assert float(maps.landmark[1, ..., 2].sum()) == 0.0


def test_fixed_pose_holds_the_head_still(model):
    p = make_params(model, T=3)
    moving = conditioning_maps(p)
    fixed = conditioning_maps(p, MapSettings(pose="fixed"))
    assert not torch.equal(moving.mask[0], moving.mask[2])
    assert torch.equal(fixed.mask[0], fixed.mask[2]) and torch.equal(fixed.pncc[0], fixed.pncc[2])
    assert float(fixed.theta[:, :3].abs().max()) == 0.0
    torch.testing.assert_close(fixed.theta[:, 3:], p.theta[:, 3:].mean(0).expand(3, 3))


def test_size_scales_the_camera(model):
    p = make_params(model, T=1)
    big, small = conditioning_maps(p), conditioning_maps(p, MapSettings(size=S // 2))
    assert small.mask.shape == (1, S // 2, S // 2)
    down = big.mask.float().reshape(1, S // 2, 2, S // 2, 2).mean((2, 4))
    assert float((down - small.mask.float()).abs().mean()) < 0.05
    with pytest.raises(Exception, match="at least 8"):
        conditioning_maps(p, MapSettings(size=4))


def test_vertex_colours_come_back_from_rendered_frames(model):
    """Render frames whose diffuse colour is a known per-vertex colour, sample it back."""
    mm = map_mesh(1)
    colour = 0.15 + 0.7 * mm.pncc  # a smooth known colour in sRGB [0, 1]
    p = make_params(model, T=5, colour=colour, size=160)
    maps = conditioning_maps(p)
    images = (maps.diffuse.numpy() * 255 + 0.5).astype(np.uint8)
    got = sample_vertex_colours(images, p, levels=1)
    # vertices facing the camera, away from the silhouette, come back within a few percent
    front = mm.pncc[:, 2] > 0.6
    err = (got[front] - colour[front]).abs().max(-1).values
    assert float(err.median()) < 0.02 and float(torch.quantile(err, 0.9)) < 0.06
    with pytest.raises(Exception, match="do not match"):
        sample_vertex_colours(images[:2], p)


def test_fast_paths_match_their_references(model):
    """Masked shading = the project's `interpolate`; one-call irises = one call per layer."""
    from nervp.face import G
    from nervp.parse.conditioning import _iris_layer, _iris_layer_separate, _shade
    from nervp.render.rasterize import interpolate, rasterize

    p = make_params(model, T=3)
    mm = map_mesh(1)
    cam = p.camera
    v = G(model, p.beta[None].expand(3, -1), p.theta, p.phi)
    from nervp.render.camera import Camera

    cams = Camera(cam.R.expand(3, 3, 3), cam.t.expand(3, 3), cam.K.expand(3, 3, 3), S, S)
    frags = rasterize(project(mm.sub.apply(v[:, :468]), cams), mm.faces, S, S, cull_backfaces=True)
    attrs = torch.rand(mm.pncc.shape[0], 5)
    torch.testing.assert_close(_shade(frags, mm.faces, attrs), interpolate(frags, mm.faces, attrs))
    lm = project(v, cams)
    assert torch.equal(_iris_layer(lm, mm, S, S), _iris_layer_separate(lm, mm, S, S))

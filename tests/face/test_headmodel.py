"""Head model G(β, θ, φ), its triangulation, and the mesh operations it ships with."""

from __future__ import annotations

import math

import pytest
import torch

from nervp.face import (
    G,
    boundary_loops,
    load_head_model,
    mesh_edges,
    pose_matrix,
    shape,
    subdivide,
    vertex_normals,
)


@pytest.fixture(scope="module")
def model():
    return load_head_model()


def _phi(model, **values):
    beta, _, phi = model.zeros(1)
    for name, v in values.items():
        phi[0, model.expr_index(name)] = v
    return beta, phi


def _lid_gaps(v, model, side):
    up = list(getattr(model.groups, f"{side}_eye_upper"))[1:-1]
    lo = list(getattr(model.groups, f"{side}_eye_lower"))[1:-1]
    return (v[up] - v[lo]).norm(dim=-1)


def test_shapes_and_dtypes(model):
    assert model.mean.shape == (478, 3) and model.mean.dtype == torch.float32
    assert model.faces.ndim == 2 and model.faces.shape[1] == 3 and model.faces.dtype == torch.int64
    assert model.id_basis.shape == (model.n_id, 478, 3) and model.id_basis.dtype == torch.float32
    assert model.expr_basis.shape == (model.n_expr, 478, 3)
    assert model.eye_centers.shape == (2, 3)
    assert len(set(model.id_names)) == model.n_id and len(set(model.expr_names)) == model.n_expr
    for name in ("jaw_open", "smile_left", "smile_right", "pucker", "funnel", "upper_lip_raise",
                 "lower_lip_depress", "blink_left", "blink_right", "eye_wide_left", "eye_wide_right",
                 "brow_raise_left", "brow_raise_right", "brow_lower_left", "brow_lower_right",
                 "gaze_yaw", "gaze_pitch"):  # fmt: skip
        model.expr_index(name)
    for name in ("head_width", "face_length", "eye_size", "nose_length", "mouth_width"):
        model.id_index(name)
    with pytest.raises(KeyError):
        model.expr_index("nope")
    beta, theta, phi = model.zeros(3)
    assert G(model, beta, theta, phi).shape == (3, 478, 3)
    with pytest.raises(ValueError, match="beta"):
        shape(model, beta[:, :2], phi)


def test_zero_parameters_give_the_mean(model):
    beta, theta, phi = model.zeros(2)
    torch.testing.assert_close(G(model, beta, theta, phi), model.mean.expand(2, -1, -1))


def test_linear_in_beta_and_phi(model):
    g = torch.Generator().manual_seed(0)
    gaze = [model.expr_index("gaze_yaw"), model.expr_index("gaze_pitch")]
    b1, b2 = torch.randn(2, 1, model.n_id, generator=g)
    p1, p2 = torch.randn(2, 1, model.n_expr, generator=g)
    p1[:, gaze] = 0
    p2[:, gaze] = 0

    def d(b, p):
        return shape(model, b, p) - model.mean

    combined = d(b1 + 2 * b2, p1 - p2)
    separate = d(b1, p1) + 2 * d(b2, 0 * p2) - d(0 * b1, p2)
    torch.testing.assert_close(combined, separate, atol=1e-6, rtol=1e-5)


def test_pose_matrix():
    rot, t = pose_matrix(torch.zeros(1, 6))
    torch.testing.assert_close(rot[0], torch.eye(3))
    torch.testing.assert_close(t, torch.zeros(1, 3))
    theta = torch.randn(8, 6, generator=torch.Generator().manual_seed(1))
    rot, t = pose_matrix(theta)
    torch.testing.assert_close(
        rot @ rot.transpose(1, 2), torch.eye(3).expand(8, 3, 3), atol=1e-5, rtol=0
    )
    torch.testing.assert_close(torch.linalg.det(rot), torch.ones(8))
    torch.testing.assert_close(t, theta[:, 3:])
    rot, _ = pose_matrix(torch.tensor([[0.0, math.pi / 2, 0.0, 0.0, 0.0, 0.0]]))
    torch.testing.assert_close(
        rot[0] @ torch.tensor([0.0, 0.0, 1.0]), torch.tensor([1.0, 0.0, 0.0]), atol=1e-6, rtol=0
    )


def test_pose_matrix_gradient_near_zero():
    theta = torch.tensor(
        [[1e-6, -2e-6, 0.0, 0.1, 0.2, 0.3], [0.3, -0.2, 0.1, 0, 0, 0]],
        dtype=torch.float64,
        requires_grad=True,
    )
    assert torch.autograd.gradcheck(lambda th: pose_matrix(th)[0], (theta,))


def test_G_applies_pose(model):
    beta, theta, phi = model.zeros(1)
    theta[0] = torch.tensor([0.0, math.pi / 2, 0.0, 0.1, 0.0, -1.0])
    v = G(model, beta, theta, phi)[0]
    m = model.mean
    expect = torch.stack([m[:, 2], m[:, 1], -m[:, 0]], dim=-1) + torch.tensor([0.1, 0.0, -1.0])
    torch.testing.assert_close(v, expect, atol=1e-6, rtol=0)


def test_triangulation_is_an_oriented_manifold(model):
    faces = model.faces
    assert faces.min() >= 0 and faces.max() < 468
    assert (faces[:, 0] != faces[:, 1]).all() and (faces[:, 1] != faces[:, 2]).all()
    edges, face_edges = mesh_edges(faces)
    uses = torch.bincount(face_edges.reshape(-1), minlength=len(edges))
    assert uses.max() <= 2
    directed = torch.stack([faces, faces.roll(-1, dims=1)], dim=-1).reshape(-1, 2)
    assert len(torch.unique(directed, dim=0)) == len(directed)  # consistent orientation
    v = model.mean[None]
    v0, v1, v2 = (v[0, faces[:, k]] for k in range(3))
    n = torch.linalg.cross(v1 - v0, v2 - v0, dim=-1)
    assert (n[:, 2] > 0).float().mean() > 0.9
    normals = vertex_normals(v, faces)[0, :468]
    torch.testing.assert_close(normals.norm(dim=-1), torch.ones(468))
    assert (normals[:, 2] > 0).float().mean() > 0.9


def test_eyes_and_mouth_are_holes(model):
    g = model.groups
    loops = [set(loop) for loop in boundary_loops(model.faces)]
    assert len(loops) == 4
    assert set(g.face_oval) in loops
    assert set(g.eye_contour("left")) in loops
    assert set(g.eye_contour("right")) in loops
    assert set(g.lips_inner) in loops


def test_groups_and_conventions(model):
    g, m = model.groups, model.mean
    assert g.left_iris_center == 473 and g.right_iris_center == 468
    assert m[473, 0] > 0 > m[468, 0]  # subject's left on +x
    assert m[g.nose_tip, 2] == m[:468, 2].max()  # nose points +z
    assert m[g.forehead_top, 1] > m[g.nose_tip, 1] > m[g.chin, 1]  # +y up
    mirror = torch.tensor(g.mirror)
    assert torch.equal(mirror[mirror], torch.arange(478))
    torch.testing.assert_close(m[mirror] * torch.tensor([-1.0, 1.0, 1.0]), m, atol=1e-6, rtol=0)
    ipd = (m[473] - m[468]).norm()
    assert abs(ipd.item() - 0.063) < 1e-6


def test_blink_closes_one_eye(model):
    for side, other in (("left", "right"), ("right", "left")):
        beta, phi = _phi(model, **{f"blink_{side}": 1.0})
        v = shape(model, beta, phi)[0]
        assert _lid_gaps(v, model, side).max() < 1e-3
        assert _lid_gaps(v, model, other).max() > 5e-3
        torch.testing.assert_close(_lid_gaps(v, model, other), _lid_gaps(model.mean, model, other))


def test_jaw_open_gap(model):
    beta, phi = _phi(model, jaw_open=1.0)
    v = shape(model, beta, phi)[0]
    gap = (v[13] - v[14]).norm().item()
    assert 0.020 < gap < 0.030
    chin = v[model.groups.chin] - model.mean[model.groups.chin]
    assert chin[1] < -0.015 and chin[2] < 0 and -chin[1] > -chin[2]  # down, and slightly back


def test_smile_raises_its_own_corner(model):
    g = model.groups
    left_corner, right_corner = g.lips_outer_upper[-1], g.lips_outer_upper[0]
    beta, phi = _phi(model, smile_left=1.0)
    d = shape(model, beta, phi)[0] - model.mean
    assert d[left_corner, 1] > 0.005 and d[left_corner, 0] > 0
    assert d[right_corner].norm() < 1e-4


def test_gaze_rotates_iris_on_the_eyeball(model):
    g = model.groups
    for value in (1.0, -1.0, 0.5):
        beta, phi = _phi(model, gaze_yaw=value)
        v = shape(model, beta, phi)[0]
        for k, side in enumerate(("left", "right")):
            idx = list(g.iris(side))
            c = model.eye_centers[k]
            torch.testing.assert_close(
                (v[idx] - c).norm(dim=-1), (model.mean[idx] - c).norm(dim=-1)
            )
            d = v[g.iris(side)[0]] - model.mean[g.iris(side)[0]]
            assert d[0] * value > 0.002 * abs(value) and abs(d[1]) < 1e-6
        angle = torch.atan2(*(v[473] - model.eye_centers[0])[[0, 2]]) - torch.atan2(
            *(model.mean[473] - model.eye_centers[0])[[0, 2]]
        )
        assert abs(math.degrees(angle.item()) - 25.0 * value) < 0.1
    beta, phi = _phi(model, gaze_pitch=1.0)
    d = shape(model, beta, phi)[0][473] - model.mean[473]
    assert d[1] > 0.003


def test_eye_size_changes_opening(model):
    beta, _, phi = model.zeros(1)
    beta[0, model.id_index("eye_size")] = 1.0
    v = shape(model, beta, phi)[0]
    before = _lid_gaps(model.mean, model, "left").max()
    after = _lid_gaps(v, model, "left").max()
    assert 0.0005 < after - before < 0.003


def test_subdivision_operator(model):
    for scheme in ("loop", "midpoint"):
        sub = subdivide(model.faces, 478, levels=2, scheme=scheme, smooth_steps=2)
        assert sub.faces.shape == (16 * len(model.faces), 3)
        w = sub.weights.to_dense()
        torch.testing.assert_close(w.sum(1), torch.ones(sub.n_fine))
        assert (w >= 0).all()
        x = model.mean.double()
        a = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
        b = torch.randn(4, dtype=torch.float64)
        fine_x = sub.apply(model.mean)
        torch.testing.assert_close(
            sub.apply((x @ a + b).float()), fine_x @ a.float() + b.float(), atol=1e-5, rtol=1e-5
        )
        batched = sub.apply(torch.stack([model.mean, 2 * model.mean]))
        torch.testing.assert_close(batched[1], 2 * fine_x)
        assert len(boundary_loops(sub.faces)) == 4  # holes survive
        fn = vertex_normals(fine_x[None], sub.faces)[0]
        assert (fn[:478][:468, 2] > 0).float().mean() > 0.9
        if scheme == "midpoint":
            torch.testing.assert_close(fine_x[:478], model.mean)  # landmarks stay exact
    x = model.mean.clone().requires_grad_(True)
    sub.apply(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()

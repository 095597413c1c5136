"""Physical properties of the virtual light stage's renders."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from nervp.store.olat import load_olat
from nervp.synth.shading import SurfaceSamples, shade


def _samples(n=1, normal=(0.0, 0.0, 1.0), f0=0.0, sss=0.0, rough=0.5):
    t = lambda v: torch.tensor([v] * n, dtype=torch.float32)  # noqa: E731
    return SurfaceSamples(position=torch.zeros(n, 3), normal=t(normal), view=t((0.0, 0.0, 1.0)),
                          albedo=torch.ones(n, 3), roughness=t(rough), f0=t(f0), sss=t(sss))


def test_lambert_known_value_and_inverse_square():
    s = _samples()
    near = shade(s, torch.tensor([[0.0, 0.0, 1.0]]), torch.ones(1, 3))
    far = shade(s, torch.tensor([[0.0, 0.0, 2.0]]), torch.ones(1, 3))
    torch.testing.assert_close(near[0, 0], torch.full((3,), 1 / math.pi))
    torch.testing.assert_close(far, near / 4)


def test_linear_in_light_intensity_and_zero_behind():
    s = _samples(4, normal=(0.0, 0.6, 0.8), f0=0.04, sss=1.0)
    pos = torch.tensor([[0.3, 0.5, 1.1], [0.0, 0.0, -1.3]])
    a = shade(s, pos, torch.ones(2, 3))
    b = shade(s, pos, torch.full((2, 3), 2.5))
    torch.testing.assert_close(b, 2.5 * a)
    assert (a[1] == 0).all()  # a light behind the surface contributes nothing
    vis = torch.tensor([[0.5] * 4, [1.0] * 4])
    torch.testing.assert_close(shade(s, pos, torch.ones(2, 3), vis)[0], 0.5 * a[0])


def test_skin_scatters_past_the_terminator_more_in_red():
    s = _samples(normal=(1.0, 0.0, 0.0), sss=1.0)  # light grazing at 90 degrees
    out = shade(s, torch.tensor([[0.0, 0.0, 1.0]]), torch.ones(1, 3))[0, 0]
    assert out[0] > out[1] > out[2] > 0
    plain = shade(_samples(normal=(1.0, 0.0, 0.0)), torch.tensor([[0.0, 0.0, 1.0]]), torch.ones(1, 3))
    assert plain.abs().max() < 1e-6


def test_specular_peaks_in_the_mirror_direction():
    s = _samples(f0=0.04, rough=0.3)
    mirror = shade(s, torch.tensor([[0.0, 0.0, 1.0]]), torch.ones(1, 3))[0, 0, 0]
    off = shade(s, torch.tensor([[0.7, 0.0, 0.7]]) * 1 / 0.99, torch.ones(1, 3))[0, 0, 0]
    lambert_off = 0.7 / 0.99 / math.pi  # cos term / distance^2 ~ 1
    assert mirror > 1 / math.pi * 1.2  # a highlight on top of the diffuse term
    assert off < lambert_off * 1.1


def test_dataset_physics(tiny_olat):
    ds = load_olat(tiny_olat)
    for t in range(ds.n_frames):
        fr = ds.frame(t)
        # the full-lit frame is the sum of its OLAT images (float16 storage of each OLAT)
        err = np.abs(fr.olat.sum(0) - fr.full_lit)
        assert err.max() <= 2e-3 * max(fr.full_lit.max(), 1e-6)
        assert fr.alpha.min() >= 0 and fr.alpha.max() <= 1
        assert (fr.alpha == 1).mean() > 0.2 and (fr.alpha == 0).mean() > 0.1
        n = np.linalg.norm(fr.normal, axis=-1)
        fg = fr.alpha > 0
        np.testing.assert_allclose(n[fg], 1.0, atol=2e-3)  # float16 storage
        assert (n[~fg] == 0).all()
        assert fr.albedo.min() >= 0 and fr.albedo.max() <= 1
        assert (fr.olat >= 0).all() and np.isfinite(fr.olat).all()
        assert (fr.olat[:, ~fg] == 0).all()  # black backdrop


def test_render_sum_equals_sum_of_single_light_images(tiny_stage):
    from nervp.synth.render_olat import gbuffer, render_lights, render_sum

    theta, phi = tiny_stage.params(np.array([0.1]))
    mesh = tiny_stage.performer.posed(torch.from_numpy(theta[0]), torch.from_numpy(phi[0]))
    q = dataclasses.replace(tiny_stage.cfg.quality, light_chunk=7)
    gb = gbuffer(mesh, tiny_stage.camera, q.supersample)
    each, _ = render_lights(mesh, tiny_stage.camera, tiny_stage.light_pos, tiny_stage.light_rgb, q, gb)
    total = render_sum(mesh, tiny_stage.camera, tiny_stage.light_pos, tiny_stage.light_rgb, q, gb)
    torch.testing.assert_close(each.sum(0), total, rtol=1e-4, atol=1e-6)


def test_light_travels_and_casts_shadows(tiny_stage):
    """Front LEDs light the face, back LEDs only its rim, and side LEDs leave cast shadows
    (points facing the light that still get none of it)."""
    from nervp.synth.render_olat import gbuffer, light_visibility

    theta, phi = np.zeros((1, 6), np.float32), np.zeros((1, 17), np.float32)
    mesh = tiny_stage.performer.posed(torch.from_numpy(theta[0]), torch.from_numpy(phi[0]))
    gb = gbuffer(mesh, tiny_stage.camera, 2)
    d = torch.as_tensor(tiny_stage.dome.direction, dtype=torch.float32)
    vis = light_visibility(mesh, gb.samples.position, gb.samples.normal, tiny_stage.light_pos, tiny_stage.cfg.quality)
    to_light = torch.nn.functional.normalize(tiny_stage.light_pos[:, None] - gb.samples.position[None], dim=-1)
    ndl = (to_light * gb.samples.normal[None]).sum(-1)
    cast = ((ndl > 0.3) & (vis < 0.5)).float().mean(1)  # (L,)
    side = (d[:, 0].abs() > 0.7) & (d[:, 1].abs() < 0.5)
    assert cast[side].max() > 0.02
    front = d[:, 2] > 0.9
    assert cast[front].max() < cast[side].max()


def test_same_seed_same_bytes_different_seed_different_person(tmp_path, tiny_cfg):
    from nervp.synth.simulate import simulate

    cfg = dataclasses.replace(tiny_cfg, frames=1)
    a = load_olat(simulate(tmp_path / "a", cfg))
    b = load_olat(simulate(tmp_path / "b", cfg))
    c = load_olat(simulate(tmp_path / "c", dataclasses.replace(cfg, performer=dataclasses.replace(cfg.performer, seed=7))))
    for name in ("olat", "full_lit", "alpha", "normal", "albedo", "landmarks", "theta", "phi"):
        np.testing.assert_array_equal(a.read(name), b.read(name))
    assert a.manifest["performer"] != c.manifest["performer"]
    fa, fc = a.read("albedo", 0).astype(np.float32), c.read("albedo", 0).astype(np.float32)
    assert np.abs(fa - fc).mean() > 0.02
    assert not np.array_equal(a.read("beta"), c.read("beta"))


def test_parallel_rendering_writes_the_same_dataset(tmp_path, tiny_cfg):
    from nervp.synth.simulate import simulate

    cfg = dataclasses.replace(tiny_cfg, frames=3)
    one = load_olat(simulate(tmp_path / "one", cfg))
    two = load_olat(simulate(tmp_path / "two", cfg, workers=2))
    assert two.manifest == one.manifest
    for name in ("olat", "full_lit", "alpha", "normal", "albedo", "landmarks", "theta", "phi", "time"):
        np.testing.assert_array_equal(two.read(name), one.read(name))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_performers_are_built_for_many_seeds(seed):
    from nervp.synth.performer import PerformerConfig, build_performer

    p = build_performer(PerformerConfig(seed=seed, face_subdivisions=1))
    m = p.posed(torch.zeros(6), torch.zeros(p.model.n_expr))
    assert torch.isfinite(m.verts).all()
    assert int(m.faces.max()) < m.verts.shape[0]
    assert ((m.albedo >= 0) & (m.albedo <= 1)).all()
    used = torch.unique(m.faces)
    n = m.normals[used].norm(dim=-1)
    assert ((n - 1).abs() < 1e-4).float().mean() > 0.999
